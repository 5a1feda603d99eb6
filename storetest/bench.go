package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
)

// LoadBenchCase fills s with a synthetic case for ranking benchmarks: one bank with one number,
// 1,000 GB accounts of which every tenth paid £150, and n calls from random accounts, 35% to
// 1M UK mobiles and the rest to US numbers, a third presenting the bank's number. The same
// case on every engine makes their benchmarks comparable.
func LoadBenchCase(b testing.TB, s unspoof.EvidenceStore, n int) {
	b.Helper()
	ctx := context.Background()
	t0 := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []int64
	must := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	bank := unspoof.Phone{Raw: "03000000001", E164: "+443000000001"}
	must(s.Load(ctx, &unspoof.Source{Kind: unspoof.KindOrgs, SHA256: "o"}, func(l unspoof.Loader) error {
		return l.AddOrgNumber(ctx, &unspoof.Org{ExternalID: "O1", Name: "Bank", Sector: "bank"}, &unspoof.OrgNumber{Phone: bank})
	}))
	must(s.Load(ctx, &unspoof.Source{Kind: unspoof.KindAccounts, SHA256: "a"}, func(l unspoof.Loader) error {
		for i := range 1000 {
			a := &unspoof.Account{ExternalID: fmt.Sprint("U", i), Country: "GB"}
			if err := l.AddAccount(ctx, a); err != nil {
				return err
			}
			ids = append(ids, a.ID)
		}
		return nil
	}))
	must(s.Load(ctx, &unspoof.Source{Kind: unspoof.KindPayments, SHA256: "p"}, func(l unspoof.Loader) error {
		for i := 0; i < len(ids); i += 10 {
			if err := l.AddPayment(ctx, &unspoof.Payment{AccountID: ids[i], PaidAt: t0, AmountMinor: 15000, Currency: "GBP"}); err != nil {
				return err
			}
		}
		return nil
	}))
	must(s.Load(ctx, &unspoof.Source{Kind: unspoof.KindCalls, SHA256: "c", Size: int64(n) * 100}, func(l unspoof.Loader) error {
		rng := uint64(1)
		for i := range n {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			c := unspoof.Call{AccountID: ids[rng%uint64(len(ids))], StartedAt: t0.Add(time.Duration(i) * 3 * time.Second),
				Duration: time.Duration(rng>>32%300) * time.Second, Status: "answered",
				CLI: unspoof.Phone{Raw: "07700900000", E164: "+447700900000"}, Ref: unspoof.Ref{SourceRow: int64(i + 2)}}
			if rng>>50%3 == 0 {
				c.CLI = bank
			}
			callee := rng >> 20 % 1_000_000
			if rng>>40%100 < 35 {
				c.Callee = unspoof.Phone{Raw: "x", E164: fmt.Sprintf("+447911%06d", callee), Region: "GB", LineType: "mobile", Valid: true}
			} else {
				c.Callee = unspoof.Phone{Raw: "x", E164: fmt.Sprintf("+12025%06d", callee), Region: "US", LineType: "fixed_line_or_mobile", Valid: true}
			}
			if err := l.AddCall(ctx, &c); err != nil {
				return err
			}
		}
		return nil
	}))
}
