package smpp_test

import (
	"fmt"
	"strings"

	"github.com/unspoof/unspoof/smpp"
)

func ExampleParts() {
	fmt.Println(smpp.Parts(strings.Repeat("a", 160)))
	fmt.Println(smpp.Parts(strings.Repeat("a", 159) + "€")) // € takes two septets
	fmt.Println(smpp.Parts("Ffoniwch ni ŵ"), smpp.Coding("Ffoniwch ni ŵ"))
	// Output:
	// 1
	// 2
	// 1 ucs2
}

func ExampleTextSubmits() {
	sms, err := smpp.TextSubmits(smpp.Text{
		Source:             "MetPolice",
		Dest:               "+447700900123",
		Body:               strings.Repeat("Your reference is K7Q-2HX. ", 7),
		Ref:                42,
		RegisteredDelivery: true,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, sm := range sms {
		fmt.Printf("%s %d/%d → %s esm=0x%02x udh=% x len=%d\n", sm.Source, sm.SourceTON, sm.SourceNPI, sm.Dest, sm.ESMClass, sm.ShortMessage[:6], len(sm.ShortMessage))
	}
	// Output:
	// MetPolice 5/0 → 447700900123 esm=0x40 udh=05 00 03 2a 02 01 len=159
	// MetPolice 5/0 → 447700900123 esm=0x40 udh=05 00 03 2a 02 02 len=42
}

func ExampleMessageIDKeys() {
	fmt.Println(smpp.MessageIDKeys("0000A3F1")) // as submit_sm_resp gave it
	fmt.Println(smpp.MessageIDKeys("41969"))    // as the receipt named it
	// Output:
	// [a3f1 41969]
	// [41969 268649]
}
