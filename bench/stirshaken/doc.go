// Package stirshakenbench compares unspoof's STIR/SHAKEN verification with Debian's secsipidx
// (the Go library Kamailio's secsipid module is built on) on the same tokens: libstirshaken's
// README PASSporTs under its test SP certificate. run.sh, beside this file, runs it together
// with the stirshaken package's own benchmarks (VerifyCall beside bare crypto/ecdsa) and prints
// the figures for docs/performance.md.
//
// The benchmarks here:
//   - VerifyCallVectors: stirshaken.Verifier.VerifyCall in process, certificate cache warm;
//   - SecsipidxHTTP: secsipidx's own HTTP check service (secsipidx -H, POST /v1/check) on
//     loopback, one request at a time: its library's verification plus an HTTP round trip;
//   - SecsipidxCLI and UnspoofCLI: one process per verification, as a script would run them.
//
// Each is skipped if secsipidx is not installed (apt-get install secsipidx).
package stirshakenbench
