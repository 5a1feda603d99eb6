// Package sipbench holds the load benchmark of the SIP redirect server (sipscreen): sipp
// (Debian's sip-tester) plays a proxy asking about calls at a fixed rate — INVITE, 302 or 603,
// ACK, scenario load.xml beside this file — and the test reports the calls per second the
// server answered and sipp's INVITE-to-answer times (p50, p99, max).
//
// The server runs in process with the real screening engine (screen.Engine: numbering, DNO,
// ingress, velocity; unsigned calls) unless -sipp.target names one already running, such as
// `unspoof screen serve --sip`. 1 % of the calls present a Do-Not-Originate number and are
// declined.
//
// Without flags TestSippLoad is a short smoke run (500 calls at 250/s) that fails when a call
// fails; run.sh runs the measured rates and prints a markdown table for docs/performance.md:
//
//	bench/sip/run.sh                                  # 2,000 to 8,000 calls/s, 20 s each
//	go test ./bench/sip -run TestSippLoad -v -args -sipp.rate 4000 -sipp.calls 40000
package sipbench
