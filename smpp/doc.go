// Package smpp is an SMPP 3.4 ESME: a strict PDU codec, SMS text encoding
// and segmentation, delivery receipt parsing, and a transceiver Client that
// keeps one session to an SMSC.
//
// Text goes out as GSM 03.38 7-bit when every character allows it, else
// UCS-2; Parts, Coding, Split and TextSubmits make the same choice and the
// same cuts, so a count shown to an investigator is the count sent. GSM-7
// travels unpacked (one septet per byte, data_coding 0), as SMPP carries it.
//
// Client.Submit's errors answer the question a "never send twice" caller
// must ask: *StatusError means the SMSC refused (send again only if the
// status is Temporary), ErrNotSent means nothing left this machine (safe to
// send again), ErrUnknownOutcome means it may have been accepted (do not
// send again automatically).
//
// Receipts name messages as the SMSC pleases (hex or decimal, padded or
// not); MessageIDKeys gives the forms to match them by.
//
// The client is tested against an in-process fake SMSC for faults and
// against the npm smpp package as a real peer (see smsctest).
package smpp
