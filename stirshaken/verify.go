package stirshaken

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/unspoof/unspoof"
)

// DefaultWindow is how far iat may be from now, in the past or the future.
const DefaultWindow = 60 * time.Second

// Config configures a Verifier. Zero fields get defaults.
type Config struct {
	TrustAnchors []*x509.Certificate // the STI-CA roots (P-256 or P-384); none trusts nothing
	Fetcher      *Fetcher            // nil: NewFetcher(FetcherConfig{Now: Now, Logger: Logger})
	Window       time.Duration       // iat tolerance, past and future; default DefaultWindow
	Now          func() time.Time    // default time.Now
	Logger       *slog.Logger        // default: discard

	// LaxTNAuthList reports a missing or malformed TNAuthList as a report-only reason instead
	// of failing the header: for test PKIs (libstirshaken's) that lack a valid one.
	LaxTNAuthList bool
}

// IdentityResult is what verifying a call's Identity headers found.
type IdentityResult struct {
	Verstat string // unspoof.VerstatPassed / VerstatFailed / VerstatNone (no Identity header)
	// Attest, OrigID and SPC are those of the verified PASSporT (the best attestation if
	// several verify); "" unless Verstat is VerstatPassed.
	Attest, OrigID, SPC string
	// Reasons are why the call failed: every failed check of every header (a detail names the
	// header when there are several). When the call passed, they are the findings of the other
	// headers and the report-only ones, all marked ReportOnly.
	Reasons []unspoof.Reason
	Headers []HeaderResult // one per Identity header value, in order
}

// HeaderResult is what verifying one Identity header value found.
type HeaderResult struct {
	PPT      string    // "shaken", "div", or what the PASSporT claimed
	Attest   string    // as claimed
	OrigID   string    // as claimed
	Orig     string    // orig.tn, canonical digits when it is a number
	Dest     []string  // dest.tn
	Div      string    // div.tn of a diversion PASSporT: the call's original destination
	IAT      time.Time // zero if the PASSporT could not be parsed
	X5U      string
	SPC      string // from the signing certificate's TNAuthList
	Passed   bool   // every check passed (report-only findings aside)
	Diverted bool   // a shaken header whose dest is the original destination of a verified diversion
	Reasons  []unspoof.Reason
}

// Verifier verifies Identity headers; safe for concurrent use.
type Verifier struct {
	cfg     Config
	roots   *x509.CertPool
	fetch   *Fetcher
	chains  sync.Map // *Bundle → *chainInfo
	nchain  atomic.Int64
	headers sync.Map // protected header segment → *headerInfo
	nheader atomic.Int64
}

// chainInfo is what verifying a bundle's chain found; it does not depend on the time, which
// each call checks against notBefore and notAfter.
type chainInfo struct {
	key                 *ecdsa.PublicKey
	keyErr              string
	chainErr            unspoof.Reason // Code "" if a chain was built
	notBefore, notAfter time.Time      // when the whole chain is valid
	tn                  *TNAuthList
	tnErr               error
}

const maxChains = 4 * DefaultMaxEntries

var es256 = []jose.SignatureAlgorithm{jose.ES256}

// NewVerifier returns a Verifier configured by c.
func NewVerifier(c Config) *Verifier {
	c.Window = cmp.Or(c.Window, DefaultWindow)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	v := &Verifier{cfg: c, roots: x509.NewCertPool(), fetch: c.Fetcher}
	for _, a := range c.TrustAnchors {
		v.roots.AddCert(a)
	}
	if v.fetch == nil {
		v.fetch = NewFetcher(FetcherConfig{Now: c.Now, Logger: c.Logger})
	}
	return v
}

// Fetcher returns the Fetcher the Verifier gets certificates from.
func (v *Verifier) Fetcher() *Fetcher { return v.fetch }

// VerifyCall verifies the Identity header values of a call whose From and To are E.164
// ("+44…"); safe for concurrent use. The call passes if one SHAKEN PASSporT fully verifies.
func (v *Verifier) VerifyCall(ctx context.Context, identity []string, from, to string) IdentityResult {
	values := identity
	for i, h := range identity { // copy only if a value holds several, or is blank
		if strings.IndexByte(h, ',') >= 0 || trimLWS(h) == "" {
			values = values[:i:i]
			for _, h := range identity[i:] {
				values = append(values, SplitIdentities(h)...)
			}
			break
		}
	}
	if len(values) == 0 {
		return IdentityResult{Verstat: unspoof.VerstatNone}
	}
	now := v.cfg.Now()
	fromTN, fromOK := canonicalTN(from)
	toTN, toOK := canonicalTN(to)
	call := callTNs{from: fromTN, to: toTN, fromOK: fromOK, toOK: toOK}
	res := IdentityResult{Verstat: unspoof.VerstatFailed, Headers: make([]HeaderResult, len(values))}
	for i, h := range values {
		res.Headers[i] = v.verifyHeader(ctx, h, call, now)
	}
	divert(res.Headers)
	best := -1
	for i, h := range res.Headers {
		if h.Passed && h.PPT == PPTShaken && (best < 0 || h.Attest < res.Headers[best].Attest) {
			best = i
		}
	}
	many := len(res.Headers) > 1
	for i, h := range res.Headers {
		for _, r := range h.Reasons {
			if many {
				r.Detail = fmt.Sprintf("Identity %d: %s", i+1, r.Detail)
			}
			if best >= 0 {
				r.ReportOnly = true
			}
			res.Reasons = append(res.Reasons, r)
		}
	}
	if best >= 0 {
		b := res.Headers[best]
		res.Verstat, res.Attest, res.OrigID, res.SPC = unspoof.VerstatPassed, b.Attest, b.OrigID, b.SPC
	}
	if v.cfg.Logger.Enabled(ctx, slog.LevelDebug) {
		v.cfg.Logger.DebugContext(ctx, "identity verified", "from", from, "to", to, "verstat", res.Verstat,
			"attest", res.Attest, "reasons", len(res.Reasons))
	}
	return res
}

type callTNs struct {
	from, to     string
	fromOK, toOK bool
}

// divert lets a shaken header whose only failure is its dest pass when a verified diversion
// PASSporT (RFC 8946) of the same originator names that dest as the call's original one.
func divert(hs []HeaderResult) {
	for i := range hs {
		s := &hs[i]
		if s.Passed || s.PPT != PPTShaken || len(s.Reasons) == 0 {
			continue
		}
		onlyDest := true
		for _, r := range s.Reasons {
			onlyDest = onlyDest && (r.Code == CodeDestMismatch || r.ReportOnly)
		}
		if !onlyDest {
			continue
		}
		for _, d := range hs {
			if d.Passed && d.PPT == PPTDiv && d.Orig == s.Orig && contains(s.Dest, d.Div) {
				s.Passed, s.Diverted = true, true
				s.Reasons = deleteCode(s.Reasons, CodeDestMismatch)
				break
			}
		}
	}
}

// verifyHeader checks one Identity header value.
func (v *Verifier) verifyHeader(ctx context.Context, value string, call callTNs, now time.Time) (hr HeaderResult) {
	fail := func(code, format string, args ...any) {
		hr.Reasons = append(hr.Reasons, reason(code, format, args...))
	}
	defer func() {
		hr.Passed = true
		for _, r := range hr.Reasons {
			hr.Passed = hr.Passed && r.ReportOnly
		}
	}()
	id, err := ParseIdentity(value)
	if err != nil {
		fail(CodeIdentityMalformed, "%v", err)
		return hr
	}
	// go-jose parses an ES256 token's header (once per distinct header: every call an SP signs
	// has the same); anything else is parsed here to say what is wrong.
	p, jh, err := v.parse(id.Token)
	if err != nil {
		fail(CodeIdentityMalformed, "%v", err)
		return hr
	}
	h, c := &p.Header, &p.Claims
	hr.PPT, hr.Attest, hr.OrigID, hr.X5U = h.PPT, c.Attest, c.OrigID, h.X5U
	hr.IAT = time.Unix(c.IAT, 0).UTC()
	hr.Dest = c.Dest.TN
	if c.Div != nil {
		hr.Div, _ = canonicalTN(c.Div.TN)
	}

	// The header: ES256, a SHAKEN or diversion PASSporT, x5u as the info parameter says.
	algOK := h.Alg == "ES256" && (id.Alg == "" || id.Alg == "ES256")
	if !algOK {
		fail(CodeAlgUnsupported, "alg %q (parameter %q): only ES256 is accepted", clip(h.Alg), clip(id.Alg))
	}
	if h.Typ != "passport" {
		fail(CodeIdentityMalformed, "typ %q, want \"passport\"", clip(h.Typ))
	}
	switch {
	case h.PPT != PPTShaken && h.PPT != PPTDiv:
		fail(CodePPTUnsupported, "ppt %q: want \"shaken\" or \"div\"", clip(h.PPT))
	case id.PPT != "" && id.PPT != h.PPT:
		fail(CodeIdentityMalformed, "ppt parameter %q but the PASSporT's is %q", clip(id.PPT), h.PPT)
	}
	if len(h.Crit) > 0 {
		fail(CodeIdentityMalformed, "unsupported critical header parameters %q", h.Crit)
	}
	x5uOK := h.X5U != ""
	switch {
	case !x5uOK:
		fail(CodeIdentityMalformed, "no x5u")
	case h.X5U != id.Info:
		fail(CodeIdentityMalformed, "info <%s> is not x5u %s", clip(id.Info), clip(h.X5U))
	}

	// The claims.
	iat := hr.IAT
	switch {
	case iat.Before(now.Add(-v.cfg.Window)):
		fail(CodeStale, "iat %s is %s before now (window %s)", iat.Format(time.RFC3339), now.Sub(iat).Round(time.Second), v.cfg.Window)
	case iat.After(now.Add(v.cfg.Window)):
		fail(CodeFuture, "iat %s is %s after now (window %s)", iat.Format(time.RFC3339), iat.Sub(now).Round(time.Second), v.cfg.Window)
	}
	if h.PPT == PPTShaken {
		if a := c.Attest; a != "A" && a != "B" && a != "C" {
			fail(CodeAttestInvalid, "attest %q: want A, B or C", clip(a))
		}
		if strings.TrimSpace(c.OrigID) == "" {
			fail(CodeOrigIDMissing, "no origid")
		}
	}
	if h.PPT == PPTDiv && hr.Div == "" {
		fail(CodeIdentityMalformed, "diversion PASSporT without a div telephone number")
	}
	orig, ok := canonicalTN(c.Orig.TN)
	switch {
	case !ok:
		fail(CodeOrigInvalid, "orig.tn %s is not a telephone number", redact(c.Orig.TN))
	case !call.fromOK:
		fail(CodeOrigMismatch, "the call's From is not a telephone number")
	case orig != call.from:
		fail(CodeOrigMismatch, "orig.tn %s is not the call's From %s", redact(orig), redact(call.from))
	}
	if ok {
		hr.Orig = orig
	}
	destOK, destAny := false, false
	for i, d := range c.Dest.TN {
		tn, ok := canonicalTN(d)
		if !ok {
			fail(CodeDestInvalid, "dest.tn[%d] %s is not a telephone number", i, redact(d))
			continue
		}
		hr.Dest[i] = tn
		destAny = true
		destOK = destOK || call.toOK && tn == call.to
	}
	switch {
	case len(c.Dest.TN) == 0:
		fail(CodeDestInvalid, "no dest.tn")
	case destAny && !destOK:
		fail(CodeDestMismatch, "dest.tn %s does not include the call's To %s", redactAll(hr.Dest), redact(call.to))
	}

	// The certificate and the signature.
	if !x5uOK {
		return hr
	}
	b, err := v.fetch.Fetch(ctx, h.X5U)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			fail(CodeX5URefused, "%v", err)
		} else {
			fail(CodeCertFetch, "%v", err)
		}
		return hr
	}
	ci := v.chain(b, now)
	switch {
	case ci.chainErr.Code != "":
		hr.Reasons = append(hr.Reasons, ci.chainErr)
	case now.Before(ci.notBefore) || now.After(ci.notAfter):
		fail(CodeCertExpired, "certificate chain valid %s to %s, not now", ci.notBefore.Format(time.DateOnly), ci.notAfter.Format(time.DateOnly))
	case iat.Before(ci.notBefore) || iat.After(ci.notAfter):
		fail(CodeCertExpired, "certificate chain valid %s to %s, not at iat", ci.notBefore.Format(time.DateOnly), ci.notAfter.Format(time.DateOnly))
	}
	if ci.tnErr != nil {
		r := reason(CodeTNAuthListMalformed, "%v", ci.tnErr)
		r.ReportOnly = v.cfg.LaxTNAuthList
		hr.Reasons = append(hr.Reasons, r)
	} else {
		hr.SPC = ci.tn.SPC()
		if ok && !ci.tn.Authorizes(orig) {
			fail(CodeOrigUnauthorized, "orig.tn %s is not in the certificate's TNAuthList", redact(orig))
		}
	}
	if !algOK || len(h.Crit) > 0 {
		return hr
	}
	if ci.key == nil {
		fail(CodeBadSignature, "%s", ci.keyErr)
		return hr
	}
	if jh == nil {
		fail(CodeBadSignature, "the PASSporT is not a JWS go-jose accepts")
		return hr
	}
	// The parsed header with this token's signature, over this token's claims.
	jws := *jh
	sig := jws.Signatures[0]
	sig.Signature = p.Signature
	jws.Signatures = []jose.Signature{sig}
	if err := jws.DetachedVerify(p.claims, ci.key); err != nil {
		fail(CodeBadSignature, "signature does not verify under the x5u certificate's key")
	}
	return hr
}

// headerInfo is a protected header go-jose has parsed, kept for the tokens that share it.
type headerInfo struct {
	jws    *jose.JSONWebSignature // nil if go-jose refused it
	header Header
	err    error // why the header is not a PASSporT header
}

// parse parses a token whose form checkToken has checked. jws is nil if go-jose does not
// accept the header as ES256; p says what it is then.
func (v *Verifier) parse(token string) (p *PASSporT, jws *jose.JSONWebSignature, err error) {
	seg, rest, _ := strings.Cut(token, ".")
	claims, signature, _ := strings.Cut(rest, ".")
	hi := v.header(seg)
	if hi.jws == nil {
		p, err = ParsePASSporT(token)
		return p, nil, err
	}
	if hi.err != nil {
		return nil, nil, hi.err
	}
	p = &PASSporT{Token: token, Header: hi.header}
	if p.Signature, err = base64.RawURLEncoding.DecodeString(signature); err != nil {
		return nil, nil, fmt.Errorf("passport: signature: %w", err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(claims)
	if err != nil {
		return nil, nil, fmt.Errorf("passport: claims: %w", err)
	}
	if err := p.decodeClaims(payload); err != nil {
		return nil, nil, err
	}
	p.claims = payload
	return p, hi.jws, nil
}

// header returns the parsed protected header seg, from the cache if seen before.
func (v *Verifier) header(seg string) *headerInfo {
	if hi, ok := v.headers.Load(seg); ok {
		return hi.(*headerInfo)
	}
	hi := &headerInfo{}
	if jws, err := jose.ParseSignedCompact(seg+"..", es256); err == nil && len(jws.Signatures) == 1 {
		hi.jws = jws
		var p *PASSporT
		if p, hi.err = passportHeader(jws.Signatures[0].Header); hi.err == nil {
			hi.header = p.Header
		}
	}
	if v.nheader.Add(1) > maxChains {
		v.headers.Clear()
		v.nheader.Store(1)
	}
	got, _ := v.headers.LoadOrStore(seg, hi)
	return got.(*headerInfo)
}

// chain returns what verifying b's chain found, from the cache if b was seen before.
func (v *Verifier) chain(b *Bundle, now time.Time) *chainInfo {
	if ci, ok := v.chains.Load(b); ok {
		return ci.(*chainInfo)
	}
	ci := v.verifyChain(b, now)
	if v.nchain.Add(1) > maxChains { // bundles replaced by refreshes are dropped here
		v.chains.Clear()
		v.nchain.Store(1)
	}
	got, _ := v.chains.LoadOrStore(b, ci)
	return got.(*chainInfo)
}

func (v *Verifier) verifyChain(b *Bundle, now time.Time) *chainInfo {
	leaf := b.Certs[0]
	ci := &chainInfo{}
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); ok && k.Curve == elliptic.P256() {
		ci.key = k
	} else {
		ci.keyErr = fmt.Sprintf("the x5u certificate's key is %s, not ECDSA P-256", keyName(leaf))
	}
	ci.tn, ci.tnErr = CertTNAuthList(leaf)
	inter := x509.NewCertPool()
	for _, c := range b.Certs[1:] {
		inter.AddCert(c)
	}
	// Build the chain at a moment the leaf is valid; each call checks its own times.
	at := now
	if at.Before(leaf.NotBefore) {
		at = leaf.NotBefore
	}
	if at.After(leaf.NotAfter) {
		at = leaf.NotAfter
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots: v.roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	var ie x509.CertificateInvalidError
	switch {
	case err == nil:
	case errors.As(err, &ie) && ie.Reason == x509.Expired:
		ci.chainErr = reason(CodeCertExpired, "certificate chain not valid during the signing certificate's validity: %v", err)
		return ci
	default:
		ci.chainErr = reason(CodeCertUntrusted, "certificate %q: %v", leaf.Subject.CommonName, err)
		return ci
	}
	ch := chains[0]
	ci.notBefore, ci.notAfter = ch[0].NotBefore, ch[0].NotAfter
	for _, c := range ch[1:] {
		if c.NotBefore.After(ci.notBefore) {
			ci.notBefore = c.NotBefore
		}
		if c.NotAfter.Before(ci.notAfter) {
			ci.notAfter = c.NotAfter
		}
	}
	v.cfg.Logger.Debug("x5u chain verified", "url", b.URL, "subject", leaf.Subject.CommonName,
		"spc", ci.tn.SPC(), "not_after", ci.notAfter)
	return ci
}

func keyName(c *x509.Certificate) string {
	if k, ok := c.PublicKey.(*ecdsa.PublicKey); ok {
		return "ECDSA " + k.Curve.Params().Name
	}
	return c.PublicKeyAlgorithm.String()
}

// canonicalTN returns a telephone number as the digits PASSporTs carry (RFC 8224 §8.3): an
// optional leading +, visual separators (- . ( ) and spaces) dropped, then 1 to 15 digits.
// A tel: prefix is accepted.
func canonicalTN(s string) (string, bool) {
	s = strings.TrimPrefix(s, "tel:")
	s = strings.TrimPrefix(s, "+")
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			clean = false
			break
		}
	}
	if !clean {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c >= '0' && c <= '9':
				b.WriteByte(c)
			case c == '-' || c == '.' || c == '(' || c == ')' || c == ' ':
			default:
				return "", false
			}
		}
		s = b.String()
	}
	return s, len(s) >= 1 && len(s) <= 15
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func redactAll(tns []string) string {
	out := make([]string, len(tns))
	for i, t := range tns {
		out[i] = redact(t)
	}
	return "[" + strings.Join(out, " ") + "]"
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s && s != "" {
			return true
		}
	}
	return false
}

func deleteCode(rs []unspoof.Reason, code string) []unspoof.Reason {
	out := rs[:0]
	for _, r := range rs {
		if r.Code != code {
			out = append(out, r)
		}
	}
	return out
}
