// Command seed fills the victims table of an unspoof store with N synthetic UK mobile victims,
// for the campaign benchmark (bench/campaign/run.sh): distinct valid +447… numbers (never one of
// Ofcom's fictional ranges), channel sms, tier high, an invented organisation name as the one
// impersonated, and reference codes from victim.NewCode. It writes them with the store's own
// ReplaceVictims, so `unspoof campaign create` then selects them as it would a real ranking.
//
// The store is an SQLite file (created if missing) or a postgres:// URL, opened with
// sqlite.Open or postgres.Open, which bring the schema up to date. No source is recorded, so
// the campaign is not marked synthetic; the benchmark's SMSC is on loopback either way.
//
// The numbers are the same for the same --n: the i-th is the i-th valid GB mobile of a fixed
// permutation of +447000000000…+447999999999, so they are distinct by construction.
//
// Usage:
//
//	go run ./bench/campaign/seed --db /tmp/bench.db --n 70000
//	go run ./bench/campaign/seed --db 'postgres://postgres@127.0.0.1:5432/unspoof?sslmode=disable' --n 70000
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/phonenum"
	"github.com/unspoof/unspoof/postgres"
	"github.com/unspoof/unspoof/sqlite"
	"github.com/unspoof/unspoof/victim"
)

// orgs are the organisations the victims' calls impersonated (invented names, as the
// simulator's), one per victim in turn.
var orgs = []string{"Northbridge Bank", "Albion & Vale Bank", "Kestrel Bank", "Thameside Building Society",
	"Revenue and Duties Office", "Crownmere Bank", "Britline Telecom"}

// victimStore is what seed needs of a store.
type victimStore interface {
	unspoof.VictimStore
	Close() error
}

func main() {
	db := flag.String("db", os.Getenv("UNSPOOF_DB"), "SQLite file or postgres:// URL of the store (default $UNSPOOF_DB)")
	n := flag.Int("n", 70000, "victims to write")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: seed --db PATH|postgres://… [--n N]\n\nWrites N synthetic UK mobile victims (tier high, channel sms) into the store.")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *db == "" || *n <= 0 || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	t0 := time.Now()
	if err := seed(context.Background(), *db, *n); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "seed: %d victims written in %s\n", *n, time.Since(t0).Round(time.Millisecond))
}

// seed opens the store db names and replaces its victims with n synthetic ones.
func seed(ctx context.Context, db string, n int) error {
	var s victimStore
	var err error
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		s, err = postgres.Open(ctx, db)
	} else {
		s, err = sqlite.Open(ctx, db)
	}
	if err != nil {
		return err
	}
	vs, err := victims(n, time.Now().UTC().Truncate(time.Second))
	if err == nil {
		err = s.ReplaceVictims(ctx, vs, victim.NewCode)
	}
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	return err
}

// victims returns n synthetic high-tier SMS victims ranked at now, in rank order.
func victims(n int, now time.Time) ([]*unspoof.Victim, error) {
	rng := rand.New(rand.NewPCG(1, 2)) // the same figures every time
	nums := mobiles(n)
	if len(nums) < n {
		return nil, fmt.Errorf("only %d valid UK mobile numbers found, want %d", len(nums), n)
	}
	vs := make([]*unspoof.Victim, n)
	for i, e164 := range nums {
		calls := 1 + rng.Int64N(20)
		long := 1 + rng.Int64N(calls)
		talk := time.Duration(long*(60+rng.Int64N(900))) * time.Second
		first := now.AddDate(0, -12, 0).Add(time.Duration(rng.Int64N(int64(300 * 24 * time.Hour))))
		vs[i] = &unspoof.Victim{
			E164: e164, Region: "GB", LineType: phonenum.Mobile.String(), Valid: true,
			Calls: calls, AnsweredCalls: calls, LongCalls: long, TalkTime: talk, LongestCall: talk / time.Duration(long),
			FirstCall: first, LastCall: first.Add(time.Duration(rng.Int64N(int64(60 * 24 * time.Hour)))),
			Accounts: 1, LongAccounts: 1, Orgs: 1, Org: orgs[i%len(orgs)], OrgCalls: calls, BankCalls: calls,
			IdentifiedLongCalls: long, Identified: true,
			Rule: "met-2022", Score: float64(n - i), Rank: i + 1, Tier: victim.TierHigh, Channel: unspoof.ChannelSMS,
			Status: unspoof.VictimNew, RankedAt: now,
		}
	}
	return vs, nil
}

// mobiles returns the first n valid, non-fictional GB mobile numbers of the permutation
// k ↦ (k·m + c) mod 10⁹ of the nine digits after +447: m is odd and not a multiple of 5, so
// the map is one-to-one and the numbers distinct.
func mobiles(n int) []string {
	const (
		space = 1_000_000_000
		m     = 387_420_489 // 3^18
		c     = 123_456_789
	)
	out := make([]string, 0, n)
	for k := int64(0); k < space && len(out) < n; k++ {
		e164 := fmt.Sprintf("+447%09d", (k*m+c)%space)
		p, err := phonenum.Parse(e164, "GB")
		if err != nil || !p.Valid || p.Fictional || p.Type != phonenum.Mobile || p.Region != "GB" || p.E164 != e164 {
			continue
		}
		out = append(out, e164)
	}
	return out
}
