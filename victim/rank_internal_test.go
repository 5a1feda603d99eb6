package victim

import (
	"testing"

	"github.com/unspoof/unspoof"
)

func TestChannel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		v      unspoof.Victim
		abroad bool
		want   string
	}{
		{unspoof.Victim{E164: "+447911123456", LineType: "mobile", Valid: true}, false, unspoof.ChannelSMS},
		{unspoof.Victim{E164: "+442071234567", LineType: "fixed_line", Valid: true}, false, unspoof.ChannelLetter},
		{unspoof.Victim{E164: "+443001234567", LineType: "uan", Valid: true}, false, unspoof.ChannelLetter},
		{unspoof.Victim{E164: "+447911123456", LineType: "mobile", Valid: false}, false, unspoof.ChannelNone},
		{unspoof.Victim{E164: "+447700900123", LineType: "mobile", Valid: true, Fictional: true}, false, unspoof.ChannelNone},
		{unspoof.Victim{E164: "+12025550143", LineType: "fixed_line_or_mobile", Valid: true}, false, unspoof.ChannelNone},
		{unspoof.Victim{E164: "+12025550143", LineType: "fixed_line_or_mobile", Valid: true}, true, unspoof.ChannelLetter},
		{unspoof.Victim{E164: "+33612345678", LineType: "mobile", Valid: true}, true, unspoof.ChannelSMS},
	} {
		if got := channel(&tt.v, tt.abroad); got != tt.want {
			t.Errorf("channel(%s %s valid %v fictional %v, abroad %v) = %s, want %s", tt.v.E164, tt.v.LineType, tt.v.Valid,
				tt.v.Fictional, tt.abroad, got, tt.want)
		}
	}
}

func TestTier(t *testing.T) {
	t.Parallel()
	counts := map[string]int{}
	for i := range 100 {
		counts[tier(i, 100)]++
	}
	if counts[TierHigh] != 20 || counts[TierMedium] != 30 || counts[TierLow] != 50 {
		t.Errorf("tiers of 100: %v, want 20/30/50", counts)
	}
	if tier(0, 1) != TierHigh {
		t.Error("a ranking of one is not high")
	}
}
