package sipscreen

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"

	"github.com/unspoof/unspoof"
)

// Header names the server reads and writes.
const (
	HeaderVerdict    = "X-Unspoof-Verdict"     // allow | flag | block
	HeaderVerstat    = "X-Unspoof-Verstat"     // TN-Validation-Passed | TN-Validation-Failed | No-TN-Validation
	HeaderReasons    = "X-Unspoof-Reasons"     // reason codes acted on, comma-separated
	HeaderReportOnly = "X-Unspoof-Report-Only" // reason codes of rules in report-only mode
	HeaderAttest     = "X-Unspoof-Attest"      // A | B | C, when a PASSporT verified
	HeaderSPC        = "X-Unspoof-SPC"         // the signer's service provider code, when known
	HeaderFailedOpen = "X-Unspoof-Failed-Open" // "true" when the verdict was given without a full answer
)

// caller is the identity an INVITE presents: the URI the calling number was read from.
type caller struct {
	uri    *sip.Uri // From's URI, or P-Asserted-Identity's when From carries no number
	number string   // its user part without parameters ("" when it has no digit)
}

// buildRequest reads an INVITE into a ScreenRequest (without Ingress, Trunk and At, which the
// server's configuration decides), and returns the caller identity it used.
//
// From is the From header's user part: the number the callee is shown, the one a spoofer
// chooses. When it carries no digit (anonymous, a name), the first P-Asserted-Identity with a
// number is used instead. To is the To header's user part, or the Request-URI's when To has no
// number. Identity holds every Identity header (compact form "y" too), in order, as received.
func buildRequest(req *sip.Request) (*unspoof.ScreenRequest, caller) {
	sr := &unspoof.ScreenRequest{}
	var c caller
	if h := req.From(); h != nil {
		c = caller{uri: &h.Address, number: uriNumber(&h.Address)}
	}
	if c.number == "" {
		if pai := assertedIdentity(req); pai.number != "" {
			c = pai
		}
	}
	sr.From = c.number
	if h := req.To(); h != nil {
		sr.To = uriNumber(&h.Address)
	}
	if sr.To == "" {
		sr.To = uriNumber(&req.Recipient)
	}
	for _, h := range req.Headers() {
		if n := h.Name(); strings.EqualFold(n, "Identity") || strings.EqualFold(n, "y") {
			sr.Identity = append(sr.Identity, h.Value())
		}
	}
	sr.SourceIP = sourceIP(req)
	if h := req.CallID(); h != nil {
		sr.CallID = h.Value()
	}
	return sr, c
}

// sourceIP returns the address a request came from: the packet's for a request off the wire,
// else its top Via's (received= first).
func sourceIP(req *sip.Request) string {
	if host, _, err := net.SplitHostPort(req.Source()); err == nil {
		return host
	}
	if v := req.Via(); v != nil {
		if r, ok := v.Params.Get("received"); ok && r != "" {
			return strings.Trim(r, "[]")
		}
		return strings.Trim(v.Host, "[]")
	}
	return ""
}

// uriNumber returns the user part of a sip:/sips: URI, or the number of a tel: URI, without
// parameters (";verstat=…", ";phone-context=…"), or "" when it holds no digit.
func uriNumber(u *sip.Uri) string {
	var user string
	switch u.Scheme {
	case "sip", "sips", "":
		user = u.User
	case "tel":
		user = u.Raw()
	default:
		return ""
	}
	if i := strings.IndexByte(user, ';'); i >= 0 {
		user = user[:i]
	}
	if !strings.ContainsAny(user, "0123456789") {
		return ""
	}
	return user
}

// assertedIdentity returns the first P-Asserted-Identity URI that carries a number.
func assertedIdentity(req *sip.Request) caller {
	for _, h := range req.GetHeaders("P-Asserted-Identity") {
		for _, v := range splitList(h.Value()) {
			var u sip.Uri
			if _, err := sip.ParseAddressValue(v, &u, nil); err != nil {
				continue
			}
			if n := uriNumber(&u); n != "" {
				return caller{uri: &u, number: n}
			}
		}
	}
	return caller{}
}

// splitList splits a header value at the commas outside <…> and "…".
func splitList(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '<':
			depth++
		case c == '>':
			depth--
		case c == ',' && depth <= 0:
			out = append(out, strings.TrimSpace(v[start:i]))
			start = i + 1
		}
	}
	return append(out, strings.TrimSpace(v[start:]))
}

// response builds the answer to an INVITE: 603 Decline for a block, otherwise 302 Moved
// Temporarily back to the Request-URI. The package doc lists every header.
func response(req *sip.Request, c caller, v *unspoof.Verdict) *sip.Response {
	verstat := token(v.Verstat)
	if verstat == "" {
		verstat = unspoof.VerstatNone
	}
	var res *sip.Response
	if v.Action == unspoof.ActionBlock {
		res = sip.NewResponseFromRequest(req, 603, "Decline", nil)
		text := "blocked"
		if acted := reasonCodes(v.Reasons, false); len(acted) > 0 {
			text = acted[0]
		}
		res.AppendHeader(sip.NewHeader("Reason", `SIP;cause=603;text="`+text+`"`))
	} else {
		res = sip.NewResponseFromRequest(req, sip.StatusMovedTemporarily, "Moved Temporarily", nil)
		res.AppendHeader(sip.NewHeader("Contact", "<"+printable(req.Recipient.String())+">"))
		if pai := verstatIdentity(c, v.From, verstat); pai != "" {
			res.AppendHeader(sip.NewHeader("P-Asserted-Identity", pai))
		}
	}
	action, failedOpen := v.Action, v.FailedOpen
	switch action {
	case unspoof.ActionAllow, unspoof.ActionFlag, unspoof.ActionBlock:
	default:
		action, failedOpen = unspoof.ActionAllow, true // an unknown action is let through, as a failure is
	}
	res.AppendHeader(sip.NewHeader(HeaderVerdict, action))
	res.AppendHeader(sip.NewHeader(HeaderVerstat, verstat))
	if codes := reasonCodes(v.Reasons, false); len(codes) > 0 {
		res.AppendHeader(sip.NewHeader(HeaderReasons, strings.Join(codes, ",")))
	}
	if codes := reasonCodes(v.Reasons, true); len(codes) > 0 {
		res.AppendHeader(sip.NewHeader(HeaderReportOnly, strings.Join(codes, ",")))
	}
	if a := token(v.Attest); a != "" {
		res.AppendHeader(sip.NewHeader(HeaderAttest, a))
	}
	if spc := token(v.SPC); spc != "" {
		res.AppendHeader(sip.NewHeader(HeaderSPC, spc))
	}
	if failedOpen {
		res.AppendHeader(sip.NewHeader(HeaderFailedOpen, "true"))
	}
	return res
}

// verstatIdentity returns the caller's identity with the verstat parameter in its user part, as
// 3GPP TS 24.229 places it: <sip:NUMBER;verstat=V@HOST;user=phone> or <tel:NUMBER;verstat=V>.
// NUMBER is the screened E.164 form when the screener gave one, else the number as signalled.
// "" when the call presented no number.
func verstatIdentity(c caller, e164, verstat string) string {
	if c.number == "" || c.uri == nil {
		return ""
	}
	num := token(e164)
	if num == "" {
		num = token(c.number)
	}
	if num == "" {
		return ""
	}
	if c.uri.Scheme == "tel" {
		return "<tel:" + num + ";verstat=" + verstat + ">"
	}
	host := hostToken(c.uri.Host)
	if host == "" {
		return ""
	}
	if c.uri.Port > 0 {
		host = net.JoinHostPort(host, strconv.Itoa(c.uri.Port))
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	scheme := "sip"
	if c.uri.Scheme == "sips" {
		scheme = "sips"
	}
	return "<" + scheme + ":" + num + ";verstat=" + verstat + "@" + host + ";user=phone>"
}

// reasonCodes returns the distinct codes of the reasons acted on (reportOnly false) or of those
// only reported (reportOnly true), in order, each reduced to token characters.
func reasonCodes(rs []unspoof.Reason, reportOnly bool) []string {
	var out []string
	for _, r := range rs {
		if r.ReportOnly != reportOnly {
			continue
		}
		if c := token(r.Code); c != "" && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// token keeps the characters of s that may stand in a SIP token (RFC 3261 §25.1) and are safe
// inside a quoted string: letters, digits and -.!%*_+`'~. Values that reach a header come from
// certificates and rule configuration, so nothing else (no CR, LF, quote or comma) gets through.
func token(s string) string {
	ok := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-.!%*_+`'~", c) >= 0
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			b := make([]byte, 0, len(s))
			for j := 0; j < len(s); j++ {
				if ok(s[j]) {
					b = append(b, s[j])
				}
			}
			return string(b)
		}
	}
	return s
}

// printable drops control characters (a line break could end the header early); the server
// answers 400 to a request whose Request-URI holds one, so only a bug would find any here.
func printable(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isControl(r) {
			return -1
		}
		return r
	}, s)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// hostToken keeps a host name or IP address: token characters and ':' (IPv6).
func hostToken(h string) string {
	h = strings.Trim(h, "[]")
	b := make([]byte, 0, len(h))
	for i := 0; i < len(h); i++ {
		if c := h[i]; c == ':' || token(string(c)) != "" {
			b = append(b, c)
		}
	}
	return string(b)
}
