package screen

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeRequest reads a POST /v1/screen body into in, which it resets first. It is
// encoding/json's answer for this one flat object, with two differences: field names match
// exactly (encoding/json also takes "From"), and anything after the object is an error. Field
// values share the memory of one string copied from body, so a request costs one allocation
// (plus one per string with escapes). FuzzDecodeRequest checks it against encoding/json.
func decodeRequest(body []byte, in *ScreenRequestJSON) error {
	*in = ScreenRequestJSON{Identity: in.Identity[:0]}
	d := jsonDecoder{s: string(body)}
	d.ws()
	if !d.eat('{') {
		return d.syntax("a JSON object")
	}
	d.ws()
	if d.eat('}') {
		return d.end()
	}
	for {
		d.ws()
		key, err := d.str()
		if err != nil {
			return err
		}
		d.ws()
		if !d.eat(':') {
			return d.syntax("':' after an object key")
		}
		d.ws()
		var field *string
		switch key {
		case "from":
			field = &in.From
		case "to":
			field = &in.To
		case "ingress":
			field = &in.Ingress
		case "source_ip":
			field = &in.SourceIP
		case "trunk":
			field = &in.Trunk
		case "call_id":
			field = &in.CallID
		case "identity":
			if err := d.strings(&in.Identity); err != nil {
				return err
			}
		default:
			return fmt.Errorf("json: unknown field %q", key)
		}
		if field != nil {
			if d.null() {
				*field = ""
			} else if *field, err = d.strValue(key); err != nil {
				return err
			}
		}
		d.ws()
		if d.eat('}') {
			return d.end()
		}
		if !d.eat(',') {
			return d.syntax("',' or '}' after an object value")
		}
	}
}

type jsonDecoder struct {
	s string
	i int
}

func (d *jsonDecoder) ws() {
	for d.i < len(d.s) {
		switch d.s[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) eat(c byte) bool {
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

func (d *jsonDecoder) null() bool {
	if len(d.s)-d.i >= 4 && d.s[d.i:d.i+4] == "null" {
		d.i += 4
		return true
	}
	return false
}

// end checks that nothing but white space follows the object.
func (d *jsonDecoder) end() error {
	d.ws()
	if d.i != len(d.s) {
		return errMoreThanOne
	}
	return nil
}

var errMoreThanOne = errors.New("more than one JSON value")

func (d *jsonDecoder) syntax(want string) error {
	if d.i >= len(d.s) {
		return fmt.Errorf("unexpected end of JSON input (want %s)", want)
	}
	return fmt.Errorf("invalid character %q at offset %d (want %s)", d.s[d.i], d.i, want)
}

// strValue reads the string value of field name.
func (d *jsonDecoder) strValue(name string) (string, error) {
	if d.i < len(d.s) && d.s[d.i] != '"' && d.valueStart() {
		return "", fmt.Errorf("json: field %q must be a string", name)
	}
	return d.str()
}

// valueStart reports whether a JSON value could start at d.i.
func (d *jsonDecoder) valueStart() bool {
	if d.i >= len(d.s) {
		return false
	}
	c := d.s[d.i]
	return c == '"' || c == '{' || c == '[' || c == 't' || c == 'f' || c == 'n' || c == '-' || c >= '0' && c <= '9'
}

// strings reads an array of strings (null elements are ""), or null, into *out.
func (d *jsonDecoder) strings(out *[]string) error {
	*out = (*out)[:0]
	if d.null() {
		*out = nil
		return nil
	}
	if !d.eat('[') {
		if !d.valueStart() {
			return d.syntax("a value")
		}
		return errors.New(`json: field "identity" must be an array of strings`)
	}
	d.ws()
	if d.eat(']') {
		return nil
	}
	for {
		d.ws()
		if d.null() {
			*out = append(*out, "")
		} else {
			s, err := d.strValue("identity")
			if err != nil {
				return err
			}
			*out = append(*out, s)
		}
		d.ws()
		if d.eat(']') {
			return nil
		}
		if !d.eat(',') {
			return d.syntax("',' or ']' in an array")
		}
	}
}

// str reads a JSON string. Without escapes it is a slice of d.s; escapes and invalid UTF-8
// (replaced by U+FFFD, as encoding/json does) cost a new string.
func (d *jsonDecoder) str() (string, error) {
	if !d.eat('"') {
		return "", d.syntax("a string")
	}
	start := d.i
	for i := start; i < len(d.s); i++ {
		c := d.s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return d.s[start:i], nil
		case c == '\\' || c >= utf8.RuneSelf:
			return d.slowStr(start)
		case c < 0x20:
			d.i = i
			return "", d.syntax("no control character in a string")
		}
	}
	d.i = len(d.s)
	return "", d.syntax("the end of a string")
}

func (d *jsonDecoder) slowStr(start int) (string, error) {
	var b []byte
	i := start
	for i < len(d.s) {
		c := d.s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return string(b), nil
		case c < 0x20:
			d.i = i
			return "", d.syntax("no control character in a string")
		case c == '\\':
			if i+1 >= len(d.s) {
				d.i = len(d.s)
				return "", d.syntax("an escape")
			}
			switch e := d.s[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(d.s, i+2)
				if !ok {
					d.i = i
					return "", d.syntax(`\u and four hex digits`)
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if i+1 < len(d.s) && d.s[i] == '\\' && d.s[i+1] == 'u' {
						r2, ok = hex4(d.s, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
						i += 6
						r = dec
					} else {
						r = utf8.RuneError
					}
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				d.i = i + 1
				return "", d.syntax("a valid escape")
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(d.s[i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, utf8.RuneError)
			} else {
				b = append(b, d.s[i:i+size]...)
			}
			i += size
		}
	}
	d.i = len(d.s)
	return "", d.syntax("the end of a string")
}

// hex4 reads four hex digits at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
