// Package sipscreen is the SIP front end of call screening: a redirect server, on
// github.com/emiago/sipgo, that a network's SIP proxy or session border controller asks about
// each call before routing it, as it would ask a carrier's screening service.
//
//	srv := sipscreen.New(sipscreen.Config{Screener: engine, Addr: "127.0.0.1:5060", Logger: log})
//	if err := srv.Open(); err != nil { … }   // bound on UDP and TCP when Open returns
//	defer srv.Close()
//
// # What it reads
//
// For each INVITE the server builds an unspoof.ScreenRequest:
//
//   - From: the user part of the From URI (or the number of a tel: URI), without parameters.
//     That is the number the callee is shown, the one a spoofer picks. When it holds no digit
//     (anonymous), the first P-Asserted-Identity with a number is used.
//   - To: the user part of the To URI; the Request-URI's when To has no number.
//   - Identity: every Identity header (RFC 8224; compact form "y" too), in order, verbatim.
//   - SourceIP: the packet's source address; CallID: the Call-ID.
//   - Ingress and Trunk: what Config.Ingress and Config.Trunk say (domestic and "" without
//     them; IngressFromCIDRs makes an Ingress from the international peers' address ranges).
//   - At: Config.Now().
//
// It then calls Config.Screener.Screen and answers at once (sipgo sends a 100 Trying first only
// when screening takes longer than 200 ms).
//
// # What it answers
//
// Allow and flag: 302 Moved Temporarily, so the proxy routes the call on to where it was going:
//
//	SIP/2.0 302 Moved Temporarily
//	Via, From, To (with a tag), Call-ID, CSeq        copied from the INVITE
//	Contact: <Request-URI>                            exactly the INVITE's Request-URI
//	P-Asserted-Identity: <sip:+447700900123;verstat=TN-Validation-Passed@host;user=phone>
//	X-Unspoof-Verdict: allow                          or flag
//	X-Unspoof-Verstat: TN-Validation-Passed           or TN-Validation-Failed, No-TN-Validation
//	X-Unspoof-Reasons: uk-cli-international           when rules acted (always for flag)
//	X-Unspoof-Report-Only: velocity                   when rules in report-only mode found something
//	X-Unspoof-Attest: A                               when a PASSporT verified
//	X-Unspoof-SPC: 1234                               when the signing certificate names one
//	X-Unspoof-Failed-Open: true                       when the answer came without a full verdict
//	Content-Length: 0
//
// The Contact is the Request-URI unchanged, so a proxy that follows the redirect routes exactly
// as it would have. The verstat travels as 3GPP TS 24.229 carries it, a parameter in the user
// part of the caller's identity: the P-Asserted-Identity above is the screened caller (its
// E.164 form when the screener gave one, else the number as signalled) at the host of the
// URI it was read from (tel: callers get <tel:NUMBER;verstat=V>); a proxy copies it onto the
// INVITE it forwards so the callee's network can label the call. It is left out when the call
// presented no number. X-Unspoof-Verstat carries the same value for proxies that only read
// headers.
//
// Block: 603 Decline, with the first reason acted on as RFC 3326 text:
//
//	SIP/2.0 603 Decline
//	Via, From, To (with a tag), Call-ID, CSeq        copied from the INVITE
//	Reason: SIP;cause=603;text="dno"                  "blocked" when the verdict gave no reason
//	X-Unspoof-Verdict: block
//	X-Unspoof-Verstat, X-Unspoof-Reasons, X-Unspoof-Report-Only, X-Unspoof-Attest,
//	X-Unspoof-SPC, X-Unspoof-Failed-Open               as for 302
//
// Reason codes, attestation, SPC and verstat are reduced to SIP token characters; codes are
// listed once each, in the verdict's order, comma-separated. An unknown action, a nil verdict
// and a panicking Screener are answered as allow with X-Unspoof-Failed-Open: true: a broken
// screener must not stop a network's calls.
//
// An INVITE whose Request-URI holds a control character (which the Contact would repeat) gets
// 400 Bad Request-URI, unscreened.
//
// Other requests: OPTIONS (proxies' keep-alive pings) gets 200 OK with
// Allow: INVITE, ACK, CANCEL, OPTIONS; a CANCEL matching no INVITE gets 481; ACK gets nothing;
// any other method gets 405 Method Not Allowed with the same Allow header. Retransmissions and
// the ACK of a 302 or 603 are absorbed by sipgo's transaction layer.
//
// docs/api/sip.md says the same for operators, with a kamailio example; test/peers/kamailio is
// a working proxy configuration and test/peers/sipp the calls the integration tests make, with
// the peers started by package siptest.
//
// # Logging
//
// Lines carrying phone numbers are logged at debug level only. sipgo's own log lines quote
// whole requests, so they are all lowered to debug.
package sipscreen
