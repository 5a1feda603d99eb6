package phonenum_test

import (
	"errors"
	"fmt"

	"github.com/unspoof/unspoof/phonenum"
)

func ExampleParse_international() {
	n, err := phonenum.Parse("011 44 20 7946 0123", "US")
	if err != nil {
		panic(err)
	}
	fmt.Println(n.E164, n.CountryCode, n.Region, n.Type, n.Valid, n.Fictional)
	// The international prefix is the default region's: from the US, 00 is not one.
	n, _ = phonenum.Parse("0044 20 7946 0123", "US")
	fmt.Println(n.E164, n.Valid)
	// Output:
	// +442079460123 44 GB fixed_line true true
	// +100442079460123 false
}

func ExampleParse_nanp() {
	n, _ := phonenum.Parse("(202) 555-0143", "US")
	fmt.Println(n.E164, n.Region, n.Type, n.Fictional)
	// Output: +12025550143 US fixed_line_or_mobile true
}

func ExampleParse_errors() {
	_, err := phonenum.Parse("+999 1234567", "GB")
	fmt.Println(errors.Is(err, phonenum.ErrInvalidCountryCode))
	n, _ := phonenum.Parse("0791", "GB")
	fmt.Println(n.Possible)
	// Output:
	// true
	// possible local only (no area code)
}

func ExampleParseCompact() {
	c, err := phonenum.ParseCompact("+44 7400 123456", "GB")
	if err != nil {
		panic(err)
	}
	buf := c.AppendE164(make([]byte, 0, 32)) // no allocation beyond buf
	fmt.Println(string(buf), c.Region, c.Type)
	// Output: +447400123456 GB mobile
}

func ExampleStats() {
	fast0, fallback0 := phonenum.Stats()
	phonenum.Parse("07911 123456", "GB")         // the fast path
	phonenum.Parse("07911 123456 ext. 12", "GB") // extensions: the library itself
	fast, fallback := phonenum.Stats()
	fmt.Println(fast-fast0 >= 1, fallback-fallback0 >= 1)
	// Output: true true
}

func ExampleIsFictional() {
	fmt.Println(phonenum.IsFictional("+447700900123"), phonenum.IsFictional("+447911123456"))
	// Output: true false
}
