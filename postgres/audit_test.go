package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/unspoof/unspoof"
)

// TestAuditLogAppendOnly checks that the database itself refuses to change or remove an entry
// of the audit log, whoever asks: an UPDATE, a DELETE and a TRUNCATE all fail and leave the
// entries as they were, while appending still works.
func TestAuditLogAppendOnly(t *testing.T) {
	t.Parallel()
	db, dsn := setup(t)
	ctx := context.Background()
	for i, action := range []string{"campaign.create", "campaign.approve"} {
		must(t, db.Audit(ctx, &unspoof.AuditEntry{At: t0.Add(time.Duration(i) * time.Minute), Actor: "alice", Action: action,
			Object: "campaign 1"}))
	}
	conn, err := pgx.Connect(ctx, dsn)
	must(t, err)
	defer conn.Close(ctx)
	for _, sql := range []string{
		`UPDATE audit_log SET actor = 'mallory'`,
		`UPDATE audit_log SET detail = 'nothing happened' WHERE action = 'campaign.approve'`,
		`DELETE FROM audit_log`,
		`DELETE FROM audit_log WHERE action = 'campaign.create'`,
		`TRUNCATE audit_log`,
	} {
		_, err := conn.Exec(ctx, sql)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "P0001" || !strings.Contains(pe.Message, "the audit log cannot be changed") {
			t.Errorf("%s: %v, want the trigger's exception", sql, err)
		}
	}
	if v := query(t, dsn, `SELECT count(*) FILTER (WHERE detail = ''), string_agg(actor || ' ' || action, ', ' ORDER BY id)
		FROM audit_log`); fmt.Sprint(v) != "[2 alice campaign.create, alice campaign.approve]" {
		t.Errorf("audit log after the attempts: %v", v)
	}
	must(t, db.Audit(ctx, &unspoof.AuditEntry{At: t0.Add(time.Hour), Actor: "bob", Action: "campaign.pause"}))
	es, err := db.FindAudit(ctx, 0)
	must(t, err)
	if len(es) != 3 || es[0].Actor != "bob" {
		t.Errorf("FindAudit after appending: %d entries, want 3, bob's newest", len(es))
	}
}
