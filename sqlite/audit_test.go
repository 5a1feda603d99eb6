package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/sqlite"
)

// TestAuditLogAppendOnly: the application has no statement that changes the audit log, and the
// database refuses one from anywhere else (another tool on the same file) too.
func TestAuditLogAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "unspoof.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Audit(ctx, &unspoof.AuditEntry{At: time.Now(), Actor: "alice", Action: "reports.export"}); err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`UPDATE audit_log SET actor = 'nobody'`, `DELETE FROM audit_log`} {
		if _, err := raw.ExecContext(ctx, q); err == nil {
			t.Errorf("%s: allowed", q)
		}
	}
	if es, _ := db.FindAudit(ctx, 0); len(es) != 1 || es[0].Actor != "alice" {
		t.Errorf("audit log after the attempts: %+v", es)
	}
}
