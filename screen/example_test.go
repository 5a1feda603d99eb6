package screen_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/screen"
)

func ExampleEngine() {
	e, err := screen.New(screen.Config{Modes: map[string]screen.Mode{screen.RuleVelocity: screen.ModeReportOnly}})
	if err != nil {
		panic(err)
	}
	dno := `version,2026-11-25.1
number,org
0300 593 4275,Northbridge Bank
`
	if _, err := e.LoadDNO(strings.NewReader(dno)); err != nil {
		panic(err)
	}
	v := e.Screen(context.Background(), &unspoof.ScreenRequest{
		From: "sip:+443005934275@carrier.example;user=phone", To: "07400 123456", Ingress: unspoof.IngressInternational})
	fmt.Println(v.Action, v.From, v.To, v.Verstat)
	for _, r := range v.Reasons {
		fmt.Printf("%s (%s): %s\n", r.Code, r.Rule, r.Detail)
	}
	// Output:
	// block +443005934275 +447400123456 No-TN-Validation
	// dno (dno): on the Do-Not-Originate list (Northbridge Bank)
	// uk-cli-international (ingress): a UK number presented on a call from abroad
}

func ExampleMask() {
	fmt.Println(screen.Mask("+447700900123"))
	// Output: +4477…123
}
