package smpp

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite testdata/fuzz/FuzzDecode seeds from testdata/*.hex")

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic, and
// whatever decodes must encode back to the same bytes and decode again to
// the same PDU.
func FuzzDecode(f *testing.F) {
	files, err := filepath.Glob("testdata/*.hex")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		f.Add(readHex(f, filepath.Base(p)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// As a stream: read until the first framing error.
		r := bytes.NewReader(data)
		for {
			p, err := ReadPDU(r)
			if err != nil {
				if p != nil && errors.Is(err, ErrBadBody) {
					continue // frame consumed, stream in step
				}
				break
			}
			if d, ok := p.Body.(*DeliverSM); ok {
				ParseDeliver(d)
			}
		}

		var p PDU
		if err := p.UnmarshalBinary(data); err != nil {
			return
		}
		enc, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded PDU does not encode: %v\n%+v %+v", err, p, p.Body)
		}
		if !bytes.Equal(enc, data) {
			t.Fatalf("encode(decode(x)) != x\n got % x\nwant % x", enc, data)
		}
		var q PDU
		if err := q.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-encoded PDU does not decode: %v", err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("decode→encode→decode unstable:\n%+v %+v\n%+v %+v", p, p.Body, q, q.Body)
		}
	})
}

// FuzzSplit checks Parts and Split agree for any text, and that the parts
// decode back to it.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"", "hello", strings.Repeat("a", 152) + "€x", "Cymraeg ŵ", strings.Repeat("😀", 36), "a\xffb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		n := Parts(text)
		bodies, err := Split(text, Coding(text), 1)
		if n > maxParts {
			if err == nil {
				t.Fatalf("Split accepted %d parts", n)
			}
			return
		}
		if err != nil {
			t.Fatalf("Split(%q): %v", text, err)
		}
		if len(bodies) != n {
			t.Fatalf("Split %d parts, Parts %d: %q", len(bodies), n, text)
		}
		var joined []byte
		for _, b := range bodies {
			if n > 1 {
				b = b[udhLen:]
			}
			joined = append(joined, b...)
		}
		back, err := Decode(Coding(text), joined)
		if err != nil {
			t.Fatal(err)
		}
		var want strings.Builder // text as ranged: each invalid byte becomes U+FFFD
		for _, r := range text {
			want.WriteRune(r)
		}
		if back != want.String() {
			t.Fatalf("round trip %q, want %q", back, want.String())
		}
	})
}

// TestFuzzCorpus keeps the checked-in FuzzDecode corpus in step with the
// golden PDUs (go test -run TestFuzzCorpus -update-corpus rewrites it).
func TestFuzzCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/*.hex")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	for _, p := range files {
		name := strings.TrimSuffix(filepath.Base(p), ".hex")
		want := "go test fuzz v1\n[]byte(" + strconv.Quote(string(readHex(t, filepath.Base(p)))) + ")\n"
		path := filepath.Join(dir, "seed-"+name)
		if *updateCorpus {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s missing or stale (run go test -run TestFuzzCorpus -update-corpus): %v", path, err)
		}
	}
}
