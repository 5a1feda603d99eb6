//go:build ignore

// gen.go compiles github.com/nyaruka/phonenumbers' metadata into tables_gen.go and automata_gen.go.
// Run it with `go generate ./phonenum/` after upgrading the library; TestTablesUpToDate fails
// until you do.
package main

import (
	"log"
	"os"

	"github.com/unspoof/unspoof/phonenum/internal/tablegen"
)

func main() {
	src, bin, err := tablegen.Generate()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("tables_gen.go", src, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("automata_gen.go", bin, 0o644); err != nil {
		log.Fatal(err)
	}
}
