package phonenum

import (
	"bytes"
	"os"
	"testing"

	"github.com/unspoof/unspoof/phonenum/internal/tablegen"
)

// TestTablesUpToDate checks that tables_gen.go and automata_gen.go are what go generate makes from
// the nyaruka/phonenumbers metadata in go.mod: after upgrading the library, run
// `go generate ./phonenum/`.
func TestTablesUpToDate(t *testing.T) {
	t.Parallel()
	src, bin, err := tablegen.Generate()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{"tables_gen.go": src, "automata_gen.go": bin} {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./phonenum/", name)
		}
	}
}
