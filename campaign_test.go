package unspoof_test

import (
	"testing"

	"github.com/unspoof/unspoof"
)

func TestReasonMeaning(t *testing.T) {
	for reason, want := range map[string]bool{
		"UNDELIV 000":                        true, // a receipt: state and error code
		"EXPIRED 000":                        true,
		"ESME_RINVDSTADR":                    true, // the SMSC's answer to submit_sm
		"ESME_RINVSRCADR (part 2 of 2 sent)": true,
		"opted out":                          true,
		"ESME_0x00000400":                    false, // a vendor's own code: shown as it is
		"":                                   false,
	} {
		if got := unspoof.ReasonMeaning(reason); (got != "") != want {
			t.Errorf("unspoof.ReasonMeaning(%q) = %q", reason, got)
		}
	}
	if unspoof.ReasonMeaning("UNDELIV 000") == unspoof.ReasonMeaning("EXPIRED 000") {
		t.Error("undeliverable and expired read the same")
	}
}
