// Package stirshaken parses, verifies and signs the SIP Identity headers of STIR/SHAKEN: the
// header itself (RFC 8224), the PASSporT it carries (RFC 8225, with the SHAKEN claims of RFC
// 8588 and the diversion PASSporT of RFC 8946) and the certificate its x5u points at, whose
// TNAuthList extension (RFC 8226) names the service provider that signed the call.
//
// A Verifier answers, for one call, what a network's verification service would put in the
// verstat parameter, with a Reason for every check that failed. It never panics on what a
// caller sends and is safe for concurrent use: certificates come from a Fetcher that refuses
// insecure and private locations, fetches each URL once at a time and caches what it got,
// and a chain, once verified, is kept with the cached certificate so the hot path is one
// ECDSA verification.
//
// A Signer does the originating side: it signs a SHAKEN PASSporT and returns the Identity
// header value.
package stirshaken
