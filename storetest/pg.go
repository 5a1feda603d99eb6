package storetest

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// PostgresDatabase creates an empty PostgreSQL database for one test, dropped when it ends, and
// returns its DSN. The server is UNSPOOF_TEST_PG, whose user may create databases:
//
//	export UNSPOOF_TEST_PG=$(scripts/pg-test-cluster.sh start)
//
// Without it the test fails when CI is set (CI runs every test on both engines) and otherwise
// returns "".
func PostgresDatabase(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("UNSPOOF_TEST_PG")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("UNSPOOF_TEST_PG is not set: CI must run the PostgreSQL tests (scripts/test.sh sets it)")
		}
		return ""
	}
	ctx := context.Background()
	name := "unspoof_test_" + strings.ToLower(rand.Text()[:12])
	admin := func(sql string) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := admin("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("create a test database on UNSPOOF_TEST_PG: %v", err)
	}
	tb.Cleanup(func() {
		if err := admin("DROP DATABASE " + name + " WITH (FORCE)"); err != nil {
			tb.Logf("drop test database %s: %v", name, err)
		}
	})
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name
}
