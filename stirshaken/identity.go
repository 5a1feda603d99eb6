package stirshaken

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Identity is one SIP Identity header value (RFC 8224):
//
//	<PASSporT>;info=<https://cert.example.org/sp.pem>;alg=ES256;ppt=shaken
type Identity struct {
	Token  string            // the PASSporT in compact JWS form
	Info   string            // the info parameter: the URI of the signing certificate, without < >
	Alg    string            // the alg parameter, "" if absent (it then defaults to ES256)
	PPT    string            // the ppt parameter, unquoted; "" if absent
	Params map[string]string // any other parameters, names lower-cased, values unquoted
}

// maxIdentityLen bounds what the parsers accept: a SHAKEN Identity header is well under 1 KiB.
const maxIdentityLen = 8 << 10

// ParseIdentity parses one Identity header value. Parameter names are case-insensitive,
// values may be quoted, and linear white space around the separators is allowed. The info
// parameter is required; the compact form of RFC 8224 (a PASSporT without its claims) is
// refused, as SHAKEN always sends the full form.
func ParseIdentity(value string) (*Identity, error) {
	if len(value) > maxIdentityLen {
		return nil, fmt.Errorf("identity: %d bytes is too long", len(value))
	}
	token, rest, more, err := cutOutside(value, ';')
	if err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	id := &Identity{Token: trimLWS(token)}
	if err := checkToken(id.Token); err != nil {
		return nil, fmt.Errorf("identity: %w", err)
	}
	var seenInfo, seenAlg, seenPPT bool
	for more {
		var p string
		if p, rest, more, err = cutOutside(rest, ';'); err != nil {
			return nil, fmt.Errorf("identity: %w", err)
		}
		name, val, hasVal := strings.Cut(p, "=")
		name = strings.ToLower(trimLWS(name))
		if name == "" || !isToken(name) {
			return nil, fmt.Errorf("identity: bad parameter %q", clip(p))
		}
		var seen *bool
		switch name {
		case "info":
			seen = &seenInfo
		case "alg":
			seen = &seenAlg
		case "ppt":
			seen = &seenPPT
		default:
			_, dup := id.Params[name]
			seen = &dup
		}
		if *seen {
			return nil, fmt.Errorf("identity: parameter %s twice", name)
		}
		*seen = true
		val = trimLWS(val)
		if hasVal && val == "" {
			return nil, fmt.Errorf("identity: parameter %s has no value", name)
		}
		switch name {
		case "info":
			id.Info, err = infoURI(val)
			if err != nil {
				return nil, fmt.Errorf("identity: info: %w", err)
			}
		case "alg", "ppt":
			v, err := unquote(val)
			if err != nil || v == "" || !isToken(v) {
				return nil, fmt.Errorf("identity: bad %s %q", name, clip(val))
			}
			if name == "alg" {
				id.Alg = v
			} else {
				id.PPT = v
			}
		default:
			v, err := unquote(val)
			if err != nil {
				return nil, fmt.Errorf("identity: parameter %s: %w", name, err)
			}
			if id.Params == nil {
				id.Params = map[string]string{}
			}
			id.Params[name] = v
		}
	}
	if id.Info == "" {
		return nil, errors.New("identity: no info parameter")
	}
	return id, nil
}

// String formats the Identity as a header value, parameters in the order info, alg, ppt, then
// the others sorted by name.
func (id *Identity) String() string {
	var b strings.Builder
	b.WriteString(id.Token)
	b.WriteString(";info=<" + id.Info + ">")
	if id.Alg != "" {
		b.WriteString(";alg=" + id.Alg)
	}
	if id.PPT != "" {
		b.WriteString(";ppt=" + id.PPT)
	}
	for _, k := range sortedKeys(id.Params) {
		v := id.Params[k]
		switch {
		case v == "":
			b.WriteString(";" + k)
		case isToken(v):
			b.WriteString(";" + k + "=" + v)
		default:
			b.WriteString(";" + k + "=" + quote(v))
		}
	}
	return b.String()
}

// SplitIdentities splits a header value that holds several Identity values joined with commas
// (as a proxy may fold repeated headers) into its values. Commas inside <…> and quotes do not
// split; empty elements are dropped.
func SplitIdentities(value string) []string {
	parts, err := splitOutside(value, ',')
	if err != nil {
		return []string{value} // let ParseIdentity say what is wrong with it
	}
	var out []string
	for _, p := range parts {
		if p = trimLWS(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// cutOutside cuts s at the first sep outside <…> and double quotes.
func cutOutside(s string, sep byte) (before, after string, found bool, err error) {
	inQuote, inAngle := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case c == sep && !inAngle:
			return s[:i], s[i+1:], true, nil
		}
	}
	if inQuote {
		return "", "", false, errors.New("unterminated quoted string")
	}
	if inAngle {
		return "", "", false, errors.New("unterminated <")
	}
	return s, "", false, nil
}

// splitOutside splits s at sep where sep is outside <…> and double quotes.
func splitOutside(s string, sep byte) ([]string, error) {
	var parts []string
	start, inQuote, inAngle := 0, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote:
			if c == '\\' {
				i++
			} else if c == '"' {
				inQuote = false
			}
		case c == '"':
			inQuote = true
		case c == '<':
			inAngle = true
		case c == '>':
			inAngle = false
		case c == sep && !inAngle:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	if inQuote {
		return nil, errors.New("unterminated quoted string")
	}
	if inAngle {
		return nil, errors.New("unterminated <")
	}
	return append(parts, s[start:]), nil
}

func checkToken(t string) error {
	if t == "" {
		return errors.New("no PASSporT")
	}
	dots := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c == '.':
			dots++
		case isBase64URL(c):
		default:
			return fmt.Errorf("PASSporT has %q at byte %d", c, i)
		}
	}
	if dots != 2 {
		return fmt.Errorf("PASSporT has %d parts, want 3", dots+1)
	}
	if strings.Contains(t, "..") {
		return errors.New("compact-form PASSporT (no claims) is not supported")
	}
	return nil
}

// infoURI returns the URI of an info parameter: <uri>, "<uri>" or, leniently, "uri".
func infoURI(v string) (string, error) {
	if strings.HasPrefix(v, `"`) {
		u, err := unquote(v)
		if err != nil {
			return "", err
		}
		v = u
	}
	if strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">") {
		v = v[1 : len(v)-1]
	} else if strings.ContainsAny(v, "<>") {
		return "", fmt.Errorf("bad URI %q", clip(v))
	}
	v = trimLWS(v)
	if v == "" || strings.ContainsAny(v, " \t\r\n\"<>") {
		return "", fmt.Errorf("bad URI %q", clip(v))
	}
	return v, nil
}

// unquote removes the double quotes of a SIP quoted-string and its backslash escapes; an
// unquoted value is returned as it is.
func unquote(v string) (string, error) {
	if !strings.HasPrefix(v, `"`) {
		if strings.Contains(v, `"`) {
			return "", fmt.Errorf("stray quote in %q", clip(v))
		}
		return v, nil
	}
	if len(v) < 2 || !strings.HasSuffix(v, `"`) {
		return "", fmt.Errorf("unterminated quoted string %q", clip(v))
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		c := v[i]
		if c == '\\' {
			if i+1 >= len(v)-1 {
				return "", fmt.Errorf("bad escape in %q", clip(v))
			}
			i++
			c = v[i]
		} else if c == '"' {
			return "", fmt.Errorf("stray quote in %q", clip(v))
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func quote(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// isToken reports whether s is a SIP token (RFC 3261).
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-.!%*_+`'~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

var base64URL = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = true
	}
	return t
}()

func isBase64URL(c byte) bool { return base64URL[c] }

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func trimLWS(s string) string { return strings.Trim(s, " \t\r\n") }

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
