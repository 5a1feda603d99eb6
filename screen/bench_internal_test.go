package screen

import (
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
)

// BenchmarkScreenParts times the steps of an unsigned call's verdict one by one, on the calls
// of BenchmarkScreen, to show where its time goes.
func BenchmarkScreenParts(b *testing.B) {
	f, err := os.Open("testdata/dno.csv")
	if err != nil {
		b.Fatal(err)
	}
	dno, err := ParseDNO(f, "GB")
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	if f, err = os.Open("testdata/egress.csv"); err != nil {
		b.Fatal(err)
	}
	eg, err := ParseEgress(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	const n = 1 << 14
	froms, tos, ips := make([]string, n), make([]string, n), make([]string, n)
	for i := range n {
		froms[i] = "+4474001" + strconv.Itoa(10000+i*7919%90000)
		tos[i] = "+4474009" + strconv.Itoa(10000+i)
		ips[i] = "10.1." + strconv.Itoa(i/4%256) + "." + strconv.Itoa(i%4*64)
	}
	b.Run("number", func(b *testing.B) { // userPart, ParseCompact, E.164: twice a call
		for i := 0; b.Loop(); i++ {
			u := userPart(froms[i&(n-1)])
			c, _, _ := parseNumber(u, "GB")
			_ = e164(&c, u)
		}
	})
	b.Run("ParseCompact", func(b *testing.B) { // phonenum's share of the above
		for i := 0; b.Loop(); i++ {
			phonenum.ParseCompact(froms[i&(n-1)], "GB")
		}
	})
	b.Run("dno", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			dno.lookup(froms[i&(n-1)])
		}
	})
	b.Run("egress", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			ip, _ := netip.ParseAddr(ips[i&(n-1)])
			eg.lookup(ip, "peer-1")
		}
	})
	vn := newVelTable(DefaultTrackedNumbers, DefaultNumberCalls, DefaultNumberDestinations)
	vi := newVelTable(DefaultTrackedIPs, DefaultIPCalls, DefaultIPDestinations)
	t0 := time.Now().UnixNano()
	b.Run("velocity-number", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			vn.hit(hashString(froms[i&(n-1)]), hashString(tos[i&(n-1)]), t0+int64(i)*100e3)
		}
	})
	b.Run("velocity-address", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			ip, _ := netip.ParseAddr(ips[i&(n-1)])
			a := ip.As16()
			vi.hit(hashBytes(a[:]), hashString(tos[i&(n-1)]), t0+int64(i)*100e3)
		}
	})
	m := newMetrics(nil, unspoof.ActionFlag, unspoof.ActionFlag)
	v := &unspoof.Verdict{}
	b.Run("metrics", func(b *testing.B) {
		for i := uint(0); b.Loop(); i++ {
			m.record(v, actAllow, "none", false, i)
		}
	})
	b.Run("clock", func(b *testing.B) { // read twice a call, for the latency
		for b.Loop() {
			_ = time.Since(epoch)
		}
	})
}
