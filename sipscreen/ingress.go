package sipscreen

import (
	"net/netip"

	"github.com/emiago/sipgo/sip"

	"github.com/unspoof/unspoof"
)

// IngressFromCIDRs returns a Config.Ingress that calls a request international when its
// signalling source address (the packet's, not a header's) is inside one of the prefixes — the
// address ranges of the network's international peers — and domestic otherwise.
//
// Behind a proxy every request comes from the proxy's address: there, write an Ingress that
// reads what the proxy knows (a header it sets, its socket) instead.
func IngressFromCIDRs(international []netip.Prefix) func(*sip.Request) string {
	prefixes := append([]netip.Prefix(nil), international...)
	return func(req *sip.Request) string {
		ap, err := netip.ParseAddrPort(req.Source())
		if err != nil {
			return unspoof.IngressDomestic
		}
		a := ap.Addr().Unmap()
		for _, p := range prefixes {
			if p.Contains(a) {
				return unspoof.IngressInternational
			}
		}
		return unspoof.IngressDomestic
	}
}
