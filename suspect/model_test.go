package suspect_test

import (
	"fmt"
	"testing"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/suspect"
)

func TestModelTerms(t *testing.T) {
	t.Parallel()
	s := &unspoof.Suspect{AccountActivity: unspoof.AccountActivity{Victims: 3, LongCalls: 4, Orgs: 2, PaidMinor: 65000,
		LossMinor: 1000}}
	terms := suspect.DefaultModel.Terms(s)
	var got string
	for _, tm := range terms {
		got += fmt.Sprintf("%s=%.2f ", tm.Feature, tm.Points)
	}
	if want := "victims=30.00 long_calls=4.00 orgs=40.00 spend_gbp=65.00 loss_gbp=1.00 "; got != want {
		t.Errorf("terms %q, want %q", got, want)
	}
	if score := suspect.DefaultModel.Score(s); score != 140 {
		t.Errorf("score %v, want 140", score)
	}
}

// The harm score of an account that reached 3 victims, made 4 calls over 60 s, impersonated 2
// organisations and paid £650, term by term.
func ExampleModel_Terms() {
	s := &unspoof.Suspect{AccountActivity: unspoof.AccountActivity{Victims: 3, LongCalls: 4, Orgs: 2, PaidMinor: 65000}}
	for _, t := range suspect.DefaultModel.Terms(s) {
		fmt.Printf("%s %g × %g = %g\n", t.Feature, t.Value, t.Weight, t.Points)
	}
	// Output:
	// victims 3 × 10 = 30
	// long_calls 4 × 1 = 4
	// orgs 2 × 20 = 40
	// spend_gbp 650 × 0.1 = 65
	// loss_gbp 0 × 0.1 = 0
}
