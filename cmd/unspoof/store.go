package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/postgres"
	"github.com/unspoof/unspoof/sqlite"
	"github.com/unspoof/unspoof/web"
)

// isPostgres reports whether a --db value names a PostgreSQL server.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// openStore opens the evidence store --db names, bringing its schema up to date.
func (g *globals) openStore(ctx context.Context) (unspoof.EvidenceStore, error) {
	if isPostgres(g.db) {
		return postgres.Open(ctx, g.db)
	}
	return sqlite.Open(ctx, g.db)
}

// table is what an export writes, as CSV (the header line first) or JSON Lines (an object a
// row, keyed by the header): rows rows, row(i) giving row i as text.
type table struct {
	header []string
	rows   int
	row    func(i int) []string
	safe   []int                     // CSV columns of text from outside, defused with web.CSVSafe
	typed  func(int, map[string]any) // if set, puts the JSON values that are numbers or booleans
}

func (t table) write(w io.Writer, format string) error {
	if format == "csv" {
		cw := csv.NewWriter(w)
		cw.Write(t.header)
		for i := range t.rows {
			r := t.row(i)
			for _, c := range t.safe {
				r[c] = web.CSVSafe(r[c])
			}
			cw.Write(r)
		}
		cw.Flush()
		return cw.Error()
	}
	enc := json.NewEncoder(w)
	for i := range t.rows {
		r := t.row(i)
		obj := make(map[string]any, len(r))
		for c, k := range t.header {
			obj[k] = r[c]
		}
		if t.typed != nil {
			t.typed(i, obj)
		}
		if err := enc.Encode(obj); err != nil {
			return err
		}
	}
	return nil
}

// export runs write on stdout, or, with out set, on a file that appears at out only once write
// has succeeded (written beside it, then renamed): a failed export never leaves half a file.
func (g *globals) export(out, what string, n int, write func(io.Writer) error) error {
	if out == "" {
		return write(g.stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*")
	if err != nil {
		return unspoof.Errorf(unspoof.EINVALID, "--out: %v", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	bw := bufio.NewWriterSize(tmp, 1<<16)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if e := tmp.Close(); err == nil {
		err = e
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		return fmt.Errorf("export to %s: %w", out, err)
	}
	fmt.Fprintf(g.stderr, "%s export: %s %s → %s\n", what, count(int64(n)), what, out)
	return nil
}

// audit records in the store's audit log that the user of this command saw or exported
// personal data (or made a decision). If it cannot be recorded, the command stops.
func (g *globals) audit(ctx context.Context, s caseStore, action, object, detail string) error {
	actor := os.Getenv("UNSPOOF_STAFF")
	if actor == "" {
		actor = currentUser()
	}
	if err := s.Audit(ctx, &unspoof.AuditEntry{At: time.Now().UTC(), Actor: actor + " (cli)", Action: action, Object: object,
		Detail: detail}); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}
