package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/stirshaken"
)

func newPassportCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "passport",
		Short: "Sign and verify STIR/SHAKEN Identity headers (PASSporTs)",
		Long: `passport signs calls as an originating network does and verifies SIP Identity headers
as a terminating network does (RFC 8224, RFC 8225, SHAKEN RFC 8588).

sign prints the Identity header for a call; verify says whether a call's headers prove its
calling number: verstat (TN-Validation-Passed, TN-Validation-Failed or No-TN-Validation), the
attestation, origid and the signing provider's SPC, and a reason for every check that failed.
verify exits 0 if the call passed and 1 if it did not.`,
		Example: `  unspoof passport sign --key sp.priv --x5u https://certs.example.org/sp.pem \
      --orig 441632960001 --dest 441632960002 --attest A
  unspoof passport verify --identity "$IDENTITY" --from +441632960001 --to +441632960002 --ca sti-ca.pem`,
	}
	cmd.AddCommand(newPassportSignCmd(g), newPassportVerifyCmd(g))
	return cmd
}

func newPassportSignCmd(g *globals) *cobra.Command {
	var key, x5u, orig, attest, origID, iat string
	var dest []string
	cmd := &cobra.Command{
		Use:   "sign --key FILE --x5u URL --orig NUMBER --dest NUMBER [--attest A|B|C] [--origid ID]",
		Short: "Sign a SHAKEN PASSporT and print the Identity header",
		Long: `sign signs a SHAKEN PASSporT for one call with the service provider's private key (PEM,
SEC 1 or PKCS #8, ECDSA P-256) and prints the SIP Identity header value. --x5u is where
verifiers fetch the certificate of that key. Numbers are E.164, with or without the +.`,
		Example: `  unspoof passport sign --key sp.priv --x5u https://certs.example.org/sp.pem \
      --orig 441632960001 --dest 441632960002 --attest A --origid 5b7a6d2e-2f7e-4c38-9d1b-58b1c2a1e001`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case key == "":
				return usageError{errors.New("--key FILE is required")}
			case x5u == "":
				return usageError{errors.New("--x5u URL is required")}
			case orig == "" || len(dest) == 0:
				return usageError{errors.New("--orig and --dest NUMBER are required")}
			}
			pemData, err := os.ReadFile(key)
			if err != nil {
				return usageError{fmt.Errorf("--key: %w", err)}
			}
			k, err := stirshaken.ParsePrivateKey(pemData)
			if err != nil {
				return usageError{fmt.Errorf("--key %s: %w", key, err)}
			}
			at := time.Now()
			if iat != "" {
				if at, err = time.Parse(time.RFC3339, iat); err != nil {
					return usageError{fmt.Errorf("--iat: %w", err)}
				}
			}
			h, err := stirshaken.Signer{Key: k, X5U: x5u}.Sign(orig, dest, attest, origID, at)
			if err != nil {
				return usageError{err}
			}
			fmt.Fprintln(g.stdout, h)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&key, "key", "", "PEM file of the signing key (ECDSA P-256)")
	f.StringVar(&x5u, "x5u", "", "https URL of the certificate of that key")
	f.StringVar(&orig, "orig", "", "calling number, E.164")
	f.StringSliceVar(&dest, "dest", nil, "called number, E.164 (repeat for several)")
	f.StringVar(&attest, "attest", "A", "attestation: A (full), B (partial) or C (gateway)")
	f.StringVar(&origID, "origid", "", "origination identifier (default: a random UUID)")
	f.StringVar(&iat, "iat", "", "time of signing, RFC 3339 (default now)")
	return cmd
}

func newPassportVerifyCmd(g *globals) *cobra.Command {
	var identity, cas, certs []string
	var from, to, at string
	var allowPrivate, allowHTTP, lax, asJSON bool
	var window time.Duration
	cmd := &cobra.Command{
		Use:   "verify --identity HEADER --from NUMBER --to NUMBER --ca FILE [--at TIME]",
		Short: "Verify a call's Identity headers; exit 0 if it passed, 1 if not",
		Long: `verify checks the Identity headers of a call from --from to --to as a terminating network
would: ES256 signature by the certificate at the header's x5u, that certificate's chain to one of
the --ca trust anchors at iat and now, iat within --window, attest A, B or C, origid present, and
orig and dest equal to the call's numbers. The call passes if one header passes every check.

The certificate is fetched over HTTPS from public addresses only, unless --allow-http or
--allow-private say otherwise; --cert verifies against a certificate file instead of fetching.
--at verifies as if at another time (e.g. a header captured earlier).`,
		Example: `  unspoof passport verify --identity "$IDENTITY" --from +441632960001 --to +441632960002 --ca sti-ca.pem
  unspoof passport verify --identity "$IDENTITY" --from +441632960001 --to +441632960002 --ca sti-ca.pem \
      --cert sp.pem --at 2026-03-01T10:15:00Z --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch {
			case len(identity) == 0:
				return usageError{errors.New("--identity HEADER is required (repeat for several)")}
			case from == "" || to == "":
				return usageError{errors.New("--from and --to NUMBER are required")}
			case len(cas) == 0:
				return usageError{errors.New("--ca FILE is required: the trust anchors (STI-CA roots)")}
			}
			var anchors []*x509.Certificate
			for _, path := range cas {
				c, err := readCertFile(path)
				if err != nil {
					return usageError{fmt.Errorf("--ca: %w", err)}
				}
				anchors = append(anchors, c...)
			}
			now := time.Now
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return usageError{fmt.Errorf("--at: %w", err)}
				}
				now = func() time.Time { return t }
			}
			logger := g.logger.With("component", "stirshaken")
			fetcher := stirshaken.NewFetcher(stirshaken.FetcherConfig{AllowPrivate: allowPrivate, AllowHTTP: allowHTTP,
				Now: now, Logger: logger})
			for _, path := range certs {
				data, err := os.ReadFile(path)
				if err != nil {
					return usageError{fmt.Errorf("--cert: %w", err)}
				}
				for _, u := range x5us(identity) {
					if err := fetcher.Preload(u, data); err != nil {
						return usageError{fmt.Errorf("--cert %s: %w", path, err)}
					}
				}
			}
			v := stirshaken.NewVerifier(stirshaken.Config{TrustAnchors: anchors, Fetcher: fetcher, Window: window,
				Now: now, Logger: logger, LaxTNAuthList: lax})
			r := v.VerifyCall(cmd.Context(), identity, from, to)
			if asJSON {
				e := json.NewEncoder(g.stdout)
				e.SetIndent("", "  ")
				if err := e.Encode(r); err != nil {
					return err
				}
			} else {
				printIdentityResult(g.stdout, r)
			}
			if r.Verstat != unspoof.VerstatPassed {
				return fmt.Errorf("not verified: %s", r.Verstat)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&identity, "identity", nil, "Identity header value (repeat for several)")
	f.StringVar(&from, "from", "", "the call's calling number, E.164")
	f.StringVar(&to, "to", "", "the call's called number, E.164")
	f.StringSliceVar(&cas, "ca", nil, "PEM file of trusted STI-CA root certificates (repeatable)")
	f.StringSliceVar(&certs, "cert", nil, "PEM certificate file to use for the headers' x5u instead of fetching it")
	f.StringVar(&at, "at", "", "verify as at this time, RFC 3339 (default now)")
	f.DurationVar(&window, "window", stirshaken.DefaultWindow, "how far iat may be from now, either way")
	f.BoolVar(&allowPrivate, "allow-private", false, "fetch certificates from private and loopback addresses (labs, tests)")
	f.BoolVar(&allowHTTP, "allow-http", false, "fetch certificates over plain http (labs, tests)")
	f.BoolVar(&lax, "lax-tnauthlist", false, "report a missing or malformed TNAuthList without failing (test PKIs)")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// x5us lists the certificate URLs the headers name (info and x5u), for --cert.
func x5us(identity []string) []string {
	var out []string
	for _, h := range identity {
		for _, v := range stirshaken.SplitIdentities(h) {
			id, err := stirshaken.ParseIdentity(v)
			if err != nil {
				continue
			}
			out = append(out, id.Info)
			if p, err := stirshaken.ParsePASSporT(id.Token); err == nil && p.Header.X5U != "" && p.Header.X5U != id.Info {
				out = append(out, p.Header.X5U)
			}
		}
	}
	return out
}

func readCertFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := stirshaken.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func printIdentityResult(w io.Writer, r stirshaken.IdentityResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "verstat\t%s\n", r.Verstat)
	if r.Verstat == unspoof.VerstatPassed {
		fmt.Fprintf(tw, "attest\t%s\n", r.Attest)
		fmt.Fprintf(tw, "origid\t%s\n", r.OrigID)
		fmt.Fprintf(tw, "spc\t%s\n", orNone(r.SPC))
	}
	for i, h := range r.Headers {
		state := "failed"
		if h.Passed {
			state = "passed"
		}
		if h.Diverted {
			state += " (diverted)"
		}
		desc := fmt.Sprintf("%s, ppt %s", state, orNone(h.PPT))
		if h.PPT == stirshaken.PPTShaken {
			desc += ", attest " + orNone(h.Attest)
		}
		if !h.IAT.IsZero() {
			desc += fmt.Sprintf(", orig %s, dest %s, iat %s", orNone(h.Orig), strings.Join(h.Dest, " "), h.IAT.Format(time.RFC3339))
		}
		if h.Div != "" {
			desc += ", diverted from " + h.Div
		}
		if h.X5U != "" {
			desc += ", x5u " + h.X5U
		}
		fmt.Fprintf(tw, "identity %d\t%s\n", i+1, desc)
	}
	tw.Flush()
	for _, rs := range r.Reasons {
		note := ""
		if rs.ReportOnly {
			note = " (report only)"
		}
		fmt.Fprintf(w, "reason: %s%s: %s\n", rs.Code, note, rs.Detail)
	}
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
