package screen_test

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/screen"
)

// TestParseDNO reads testdata/dno.csv: numbers in any form, ranges, organisations, comments,
// a duplicate (the first line wins).
func TestParseDNO(t *testing.T) {
	t.Parallel()
	l := readDNO(t, "dno.csv")
	if l.Version() != "2026-11-25.1" || l.Len() != 4 {
		t.Errorf("version %q, %d entries; want 2026-11-25.1, 4", l.Version(), l.Len())
	}
	for _, tc := range []struct {
		number string
		org    string
		ok     bool
	}{
		{"+443005551234", "Northbridge Bank", true}, // not "Duplicate Bank"
		{"+448001112222", "Albion & Vale Bank", true},
		{"+442030001234", "HMRC (test range)", true},
		{"+44203000", "HMRC (test range)", true}, // the prefix itself
		{"+4420300", "", false},                  // shorter than the prefix
		{"+442030101234", "", false},
		{"+12024561111", "", true},
		{"+443005551235", "", false},
		{"+4430055512345", "", false}, // longer than a listed number: numbers are not prefixes
		{"", "", false},
	} {
		org, ok := l.Lookup(tc.number)
		if ok != tc.ok || org != tc.org {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", tc.number, org, ok, tc.org, tc.ok)
		}
	}
	var nilList *screen.DNOList
	if _, ok := nilList.Lookup("+443005551234"); ok || nilList.Len() != 0 || nilList.Version() != "" {
		t.Error("a nil list is not empty")
	}
}

// TestDNORegion: national numbers are read in the region given.
func TestDNORegion(t *testing.T) {
	t.Parallel()
	l, err := screen.ParseDNO(strings.NewReader("version,us\nnumber\n(202) 456-1111\n"), "US")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.Lookup("+12024561111"); !ok {
		t.Error("a US number written nationally, read in US, is not listed")
	}
}

// TestListErrors: a list that does not parse is refused whole, with its line.
func TestListErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file, want string
	}{
		{"dno-bad-number.csv", `DNO list line 4: number "not a number": not a number`},
		{"dno-no-version.csv", `DNO list line 1: the first line must be "version,VALUE"`},
		{"dno-bad-type.csv", `DNO list line 3: type "prefix": want number or range`},
		{"egress-host-bits.csv", `egress list line 3: network "198.51.100.1/24": host bits set (did you mean 198.51.100.0/24?)`},
		{"egress-bad-kind.csv", `egress list line 3: kind "account": want ip or trunk`},
	} {
		f, err := os.Open(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(tc.file, "dno") {
			_, err = screen.ParseDNO(f, "GB")
		} else {
			_, err = screen.ParseEgress(f)
		}
		f.Close()
		if unspoof.ErrorCode(err) != unspoof.EINVALID || err.Error() != tc.want {
			t.Errorf("%s: %v\nwant EINVALID %q", tc.file, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", "DNO list: empty"},
		{"version,1\n", "DNO list line 2: no header line"},
		{"version,1\ntype,org\n+44800,range\n", `DNO list line 2: the header has no "number" column`},
		{"version,1\nnumber,type\n0800 111,range\n", `range "0800 111": want an E.164 prefix`},
		{"version,1\nnumber\n07911\n", `number "07911": possible local only`},
		{"version,1\nnumber\n\"+44\n", `DNO list line 3: extraneous or missing " in quoted-field`},
		{"version,\nnumber\n", `the first line must be "version,VALUE"`},
	} {
		_, err := screen.ParseDNO(strings.NewReader(tc.in), "GB")
		if unspoof.ErrorCode(err) != unspoof.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v\nwant EINVALID %q", tc.in, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"version,1\nkind,value\nip,300.1.2.3\n", `address "300.1.2.3"`},
		{"version,1\nkind,value\ntrunk,\n", "empty trunk name"},
		{"version,1\nkind,value\nip,::ffff:192.0.2.0/120\n", "write IPv4 networks in IPv4 form"},
		{"version,1\nvalue\nip\n", `the header has no "kind" column`},
	} {
		_, err := screen.ParseEgress(strings.NewReader(tc.in))
		if unspoof.ErrorCode(err) != unspoof.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v\nwant EINVALID %q", tc.in, err, tc.want)
		}
	}
}

// TestParseEgress reads testdata/egress.csv: addresses of both families, networks, a trunk.
func TestParseEgress(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join("testdata", "egress.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := screen.ParseEgress(f)
	if err != nil {
		t.Fatal(err)
	}
	if l.Version() != "egress-2026-11-25" || l.Len() != 5 {
		t.Errorf("version %q, %d entries; want egress-2026-11-25, 5", l.Version(), l.Len())
	}
	for _, tc := range []struct {
		ip, trunk, note string
		ok              bool
	}{
		{"192.0.2.65", "", "account U0000001", true},
		{"::ffff:192.0.2.65", "", "account U0000001", true},
		{"192.0.2.66", "", "", false},
		{"198.51.100.0", "", "the service's hosting network", true},
		{"198.51.100.255", "", "the service's hosting network", true},
		{"198.51.101.1", "", "", false},
		{"2001:db8:891::47ff", "", "account U0000001", true},
		{"2001:db8:aaff:ffff::1", "", "", true},
		{"2001:db8:ab00::1", "", "", false},
		{"", "spoofco-peer-1", "carrier trunk seen in the evidence", true},
		{"", "spoofco-peer-2", "", false},
		{"203.0.113.1", "spoofco-peer-1", "carrier trunk seen in the evidence", true},
	} {
		var ip netip.Addr
		if tc.ip != "" {
			ip = netip.MustParseAddr(tc.ip)
		}
		note, ok := l.Lookup(ip, tc.trunk)
		if ok != tc.ok || note != tc.note {
			t.Errorf("Lookup(%s, %q) = %q, %v; want %q, %v", tc.ip, tc.trunk, note, ok, tc.note, tc.ok)
		}
	}
}

// TestWriteLists: what WriteDNO and WriteEgress write, ParseDNO and ParseEgress read back.
func TestWriteLists(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	err := screen.WriteDNO(&b, "v7", []screen.DNOEntry{
		{Number: "+443005551234", Org: `Bank "A", plc`, Source: "evidence"},
		{Number: "+44800555", Type: screen.DNORange, Org: "B"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.String(), "version,v7\nnumber,type,org,source\n+443005551234,number,\"Bank \"\"A\"\", plc\",evidence\n") {
		t.Errorf("WriteDNO wrote:\n%s", b.String())
	}
	l, err := screen.ParseDNO(&b, "GB")
	if err != nil {
		t.Fatal(err)
	}
	if org, ok := l.Lookup("+448005551234"); !ok || org != "B" || l.Version() != "v7" || l.Len() != 2 {
		t.Errorf("read back: %q %v, version %q, %d entries", org, ok, l.Version(), l.Len())
	}
	if org, _ := l.Lookup("+443005551234"); org != `Bank "A", plc` {
		t.Errorf("org %q", org)
	}

	b.Reset()
	if err := screen.WriteEgress(&b, "e1", []screen.EgressEntry{{Kind: screen.EgressIP, Value: "192.0.2.9", Note: "account U1"},
		{Kind: screen.EgressTrunk, Value: "peer x"}}); err != nil {
		t.Fatal(err)
	}
	e, err := screen.ParseEgress(&b)
	if err != nil {
		t.Fatal(err)
	}
	if note, ok := e.Lookup(netip.MustParseAddr("192.0.2.9"), ""); !ok || note != "account U1" || e.Len() != 2 || e.Version() != "e1" {
		t.Errorf("read back: %q %v, %d entries", note, ok, e.Len())
	}
	if _, ok := e.Lookup(netip.Addr{}, "peer x"); !ok {
		t.Error("trunk not read back")
	}
}

// FuzzParseLists: no input makes the list parsers panic, and what they accept they look up.
func FuzzParseLists(f *testing.F) {
	for _, name := range []string{"dno.csv", "dno-v2.csv", "egress.csv", "dno-bad-number.csv", "egress-host-bits.csv"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("version,1\nnumber,type\n+44,range\n\"+4420\",range\n")
	f.Fuzz(func(t *testing.T, s string) {
		if l, err := screen.ParseDNO(strings.NewReader(s), "GB"); err == nil {
			l.Lookup("+442030001234")
			if l.Version() == "" {
				t.Errorf("a list without a version was accepted")
			}
		} else if unspoof.ErrorCode(err) != unspoof.EINVALID {
			t.Errorf("error %v is not EINVALID", err)
		}
		if l, err := screen.ParseEgress(strings.NewReader(s)); err == nil {
			l.Lookup(netip.MustParseAddr("192.0.2.1"), "x")
			l.Lookup(netip.MustParseAddr("2001:db8::1"), "")
		} else if unspoof.ErrorCode(err) != unspoof.EINVALID {
			t.Errorf("error %v is not EINVALID", err)
		}
	})
}
