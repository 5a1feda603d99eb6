// Package unspoof holds the domain of the unspoof program: the evidence seized from a
// caller-ID spoofing service (sources, accounts, payments, calls, impersonated organisations),
// the service interfaces the storage engines implement, and the one error model every package
// uses. It imports only the standard library; adapters (sqlite, postgres, web…) implement it and
// cmd/unspoof wires them together.
package unspoof
