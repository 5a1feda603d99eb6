package phonenum_test

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/unspoof/unspoof/phonenum"
)

// TestAgreesWithLibphonenumber checks every field Parse returns against the library on real
// numbers (the FTC complaints file, default region US) and UK shapes (default region GB).
func TestAgreesWithLibphonenumber(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../shared/data/ftc-dnc-complaints-2021-07-08.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	type input struct{ raw, region string }
	var inputs []input
	for _, r := range rows[1:] {
		inputs = append(inputs, input{r[0], "US"})
	}
	for _, raw := range []string{"07400 123456", "+44 7911 123456", "0044 20 7946 0123", "(202) 967-1717", "07700 900123",
		"0800 111 999", "09098790123", "+1 202 555 0143", "001 212 555 0100", "+33 6 12 34 56 78", "0791", "abc", "+999 123",
		"+44 1632 960123", "0161 496 0000", "03069 990000", "+800 1234 5678", "", "1"} {
		inputs = append(inputs, input{raw, "GB"})
	}
	var checked int
	for _, in := range inputs {
		got, gotErr := phonenum.Parse(in.raw, in.region)
		pn, err := phonenumbers.Parse(in.raw, in.region)
		if err != nil {
			if gotErr == nil {
				t.Errorf("Parse(%q, %s) = %+v; libphonenumber: %v", in.raw, in.region, got, err)
			}
			continue
		}
		checked++
		want := fmt.Sprint(phonenumbers.Format(pn, phonenumbers.E164), phonenumbers.GetRegionCodeForNumber(pn),
			phonenumbers.IsValidNumber(pn), int(phonenumbers.GetNumberType(pn)), int(phonenumbers.IsPossibleNumberWithReason(pn)))
		have := fmt.Sprint(got.E164, got.Region, got.Valid, libType(got.Type), libPossible(got.Possible))
		if gotErr != nil || have != want {
			t.Errorf("Parse(%q, %s) = %s (%v); libphonenumber %s", in.raw, in.region, have, gotErr, want)
		}
	}
	if checked < 13000 {
		t.Errorf("only %d numbers checked", checked)
	}
}

func libType(t phonenum.LineType) int {
	m := map[phonenum.LineType]phonenumbers.PhoneNumberType{
		phonenum.FixedLine: phonenumbers.FIXED_LINE, phonenum.Mobile: phonenumbers.MOBILE,
		phonenum.FixedLineOrMobile: phonenumbers.FIXED_LINE_OR_MOBILE, phonenum.TollFree: phonenumbers.TOLL_FREE,
		phonenum.PremiumRate: phonenumbers.PREMIUM_RATE, phonenum.SharedCost: phonenumbers.SHARED_COST,
		phonenum.VoIP: phonenumbers.VOIP, phonenum.PersonalNumber: phonenumbers.PERSONAL_NUMBER,
		phonenum.Pager: phonenumbers.PAGER, phonenum.UAN: phonenumbers.UAN, phonenum.Voicemail: phonenumbers.VOICEMAIL,
		phonenum.Unknown: phonenumbers.UNKNOWN,
	}
	return int(m[t])
}

func libPossible(p phonenum.Possibility) int {
	return int(map[phonenum.Possibility]phonenumbers.ValidationResult{
		phonenum.IsPossible: phonenumbers.IS_POSSIBLE, phonenum.IsPossibleLocalOnly: phonenumbers.IS_POSSIBLE_LOCAL_ONLY,
		phonenum.InvalidCountryCode: phonenumbers.INVALID_COUNTRY_CODE, phonenum.TooShort: phonenumbers.TOO_SHORT,
		phonenum.TooLong: phonenumbers.TOO_LONG, phonenum.InvalidLength: phonenumbers.INVALID_LENGTH,
	}[p])
}

func TestErrors(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]error{
		"":                       phonenum.ErrNotANumber,
		"hello":                  phonenum.ErrNotANumber,
		"+999 1234567":           phonenum.ErrInvalidCountryCode,
		"0":                      phonenum.ErrNotANumber,
		"1234567890123456789012": phonenum.ErrTooLong,
	} {
		if _, err := phonenum.Parse(raw, "GB"); !errors.Is(err, want) {
			t.Errorf("Parse(%q) error = %v, want %v", raw, err, want)
		}
	}
}

func TestFictional(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{
		"07700 900123": true, "07700 901123": false, "020 7946 0999": true, "020 7946 1000": false,
		"0161 496 0123": true, "01632 960001": true, "0191 498 0555": true, "+1 202 555 0143": true,
		"+1 202 555 0200": false, "07400 123456": false,
	} {
		n, err := phonenum.Parse(raw, "GB")
		if err != nil {
			t.Fatalf("Parse(%q): %v", raw, err)
		}
		if n.Fictional != want {
			t.Errorf("Parse(%q).Fictional = %v, want %v", raw, n.Fictional, want)
		}
	}
	// Fictional does not change libphonenumber's validity answer.
	if n, _ := phonenum.Parse("07700 900123", "GB"); n.Valid {
		t.Error("07700 900123 is not valid according to libphonenumber")
	}
}

func ExampleParse() {
	n, err := phonenum.Parse("07400 123456", "GB")
	if err != nil {
		panic(err)
	}
	fmt.Println(n.E164, n.Region, n.Type, n.Valid)
	// Output: +447400123456 GB mobile true
}
