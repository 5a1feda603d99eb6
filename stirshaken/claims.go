package stirshaken

// fastClaims decodes the claims of a PASSporT in the plain form signers produce (the keys of
// Claims, each once; strings of printable ASCII without escapes; iat a positive integer) without
// reflection, into the zero Claims c. For anything else it returns false and the caller uses
// encoding/json, whose result it always equals when it returns true (FuzzFastClaims checks).
func fastClaims(b []byte, c *Claims) bool {
	s := scanner{b: b}
	var seen [6]bool
	if !s.next('{') {
		return false
	}
	for more := !s.next('}'); more; more = !s.next('}') {
		if seen != [6]bool{} && !s.next(',') {
			return false
		}
		key, ok := s.raw()
		if !ok || !s.next(':') {
			return false
		}
		var i int
		switch string(key) {
		case "attest":
			i, ok = 0, s.str(&c.Attest)
		case "dest":
			i, ok = 1, s.dest(&c.Dest)
		case "div":
			c.Div = &Orig{}
			i, ok = 2, s.orig(c.Div)
		case "iat":
			i, ok = 3, s.int(&c.IAT)
		case "orig":
			i, ok = 4, s.orig(&c.Orig)
		case "origid":
			i, ok = 5, s.str(&c.OrigID)
		default:
			return false
		}
		if !ok || seen[i] {
			return false
		}
		seen[i] = true
	}
	s.ws()
	return s.i == len(s.b)
}

type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

// next skips white space and consumes c if it comes next.
func (s *scanner) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// orig reads {"tn": …, "uri": …}, each at most once.
func (s *scanner) orig(o *Orig) bool {
	var tn, uri bool
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		key, ok := s.raw()
		if !ok || !s.next(':') {
			return false
		}
		switch string(key) {
		case "tn":
			ok, tn = !tn && s.str(&o.TN), true
		case "uri":
			ok, uri = !uri && s.str(&o.URI), true
		default:
			return false
		}
		if !ok {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// dest reads {"tn": […], "uri": […]}, each at most once.
func (s *scanner) dest(d *Dest) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		key, ok := s.raw()
		if !ok || !s.next(':') {
			return false
		}
		switch string(key) {
		case "tn":
			ok = d.TN == nil && s.strArray(&d.TN)
		case "uri":
			ok = d.URI == nil && s.strArray(&d.URI)
		default:
			return false
		}
		if !ok {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// raw reads a string of printable ASCII without escapes and returns its bytes.
func (s *scanner) raw() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c < 0x20 || c > 0x7e || c == '\\':
			return nil, false
		}
	}
	return nil, false
}

func (s *scanner) str(v *string) bool {
	b, ok := s.raw()
	*v = string(b)
	return ok
}

func (s *scanner) strArray(v *[]string) bool {
	if !s.next('[') {
		return false
	}
	*v = make([]string, 0, 1)
	if s.next(']') {
		return true
	}
	for {
		var e string
		if !s.str(&e) {
			return false
		}
		*v = append(*v, e)
		if s.next(']') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// int reads 0 or a positive integer of at most 18 digits.
func (s *scanner) int(v *int64) bool {
	s.ws()
	start := s.i
	var n int64
	for ; s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9'; s.i++ {
		n = n*10 + int64(s.b[s.i]-'0')
	}
	d := s.i - start
	if d == 0 || d > 18 || d > 1 && s.b[start] == '0' {
		return false
	}
	if s.i < len(s.b) && (s.b[s.i] == '.' || s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		return false
	}
	*v = n
	return true
}
