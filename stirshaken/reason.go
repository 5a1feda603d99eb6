package stirshaken

import (
	"fmt"
	"strings"

	"github.com/unspoof/unspoof"
)

// Rule is the Reason.Rule of every finding of this package.
const Rule = "stirshaken"

// Reason codes. Each is a check of one Identity header that failed; the screening rules
// branch on them, so they are stable.
const (
	CodeStale               = "passport-stale"       // iat older than the window
	CodeFuture              = "passport-future"      // iat further ahead than the window
	CodeBadSignature        = "bad-signature"        // the signature does not verify under the certificate's key
	CodeCertUntrusted       = "cert-untrusted"       // no chain from the x5u certificate to a trust anchor
	CodeCertExpired         = "cert-expired"         // the certificate or its chain is not valid at iat or now
	CodeCertFetch           = "cert-fetch"           // the x5u certificate could not be fetched or parsed
	CodeOrigMismatch        = "orig-mismatch"        // orig.tn is not the call's From
	CodeDestMismatch        = "dest-mismatch"        // no dest.tn is the call's To
	CodeOrigInvalid         = "orig-invalid"         // orig is missing or not a telephone number
	CodeDestInvalid         = "dest-invalid"         // dest is missing or not telephone numbers
	CodeAttestInvalid       = "attest-invalid"       // attest is not A, B or C
	CodeOrigIDMissing       = "origid-missing"       // origid is empty
	CodeAlgUnsupported      = "alg-unsupported"      // not ES256
	CodePPTUnsupported      = "ppt-unsupported"      // not a "shaken" (or "div") PASSporT
	CodeTNAuthListMalformed = "tnauthlist-malformed" // the certificate's TNAuthList is missing or not DER of RFC 8226
	CodeOrigUnauthorized    = "orig-unauthorized"    // the TNAuthList lists numbers, and orig is not one of them
	CodeIdentityMalformed   = "identity-malformed"   // the header or its PASSporT cannot be parsed
	CodeX5URefused          = "x5u-refused"          // the x5u is not https, or points at a private address
)

func reason(code, format string, args ...any) unspoof.Reason {
	return unspoof.Reason{Code: code, Rule: Rule, Detail: fmt.Sprintf(format, args...)}
}

// redact masks the last four digits of a telephone number for details and logs above debug
// level: "441632960001" → "44163296····" (at most 8 digits shown).
func redact(tn string) string {
	if len(tn) > 64 {
		tn = tn[:64] + "…"
	}
	if !isDigits(tn) {
		return fmt.Sprintf("%q", tn)
	}
	keep := min(max(len(tn)-4, 0), 8)
	return tn[:keep] + strings.Repeat("·", len(tn)-keep)
}
