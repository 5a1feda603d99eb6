package main

import (
	"context"
	"strings"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/postgres"
	"github.com/unspoof/unspoof/sqlite"
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
