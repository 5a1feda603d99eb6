package smpp

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParts(t *testing.T) {
	t.Parallel()
	r := strings.Repeat
	for _, tc := range []struct {
		name   string
		text   string
		parts  int
		coding DataCoding
	}{
		{"empty", "", 1, CodingDefault},
		{"gsm 1", "a", 1, CodingDefault},
		{"gsm 160", r("a", 160), 1, CodingDefault},
		{"gsm 161", r("a", 161), 2, CodingDefault},
		{"gsm 306", r("a", 306), 2, CodingDefault},
		{"gsm 307", r("a", 307), 3, CodingDefault},
		{"gsm 459", r("a", 459), 3, CodingDefault},
		{"gsm 460", r("a", 460), 4, CodingDefault},
		{"gsm basic non-ASCII", "£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà@\r\n", 1, CodingDefault},
		{"euro counts two: 158+€", r("a", 158) + "€", 1, CodingDefault},
		{"euro counts two: 159+€", r("a", 159) + "€", 2, CodingDefault},
		{"bracket counts two: 159+[", r("a", 159) + "[", 2, CodingDefault},
		{"all extension chars", "€[]{}^~\\|\f", 1, CodingDefault},
		{"80 euros = 160 septets", r("€", 80), 1, CodingDefault},
		{"81 euros", r("€", 81), 2, CodingDefault},
		// 152 + € (2) does not fit 153: € starts part 2.
		{"escape not split", r("a", 152) + "€" + r("a", 151), 2, CodingDefault},
		{"escape not split, spills", r("a", 152) + "€" + r("a", 152), 3, CodingDefault},
		{"welsh", "Cymraeg ŵ", 1, CodingUCS2},
		{"ucs2 70", r("ŵ", 70), 1, CodingUCS2},
		{"ucs2 71", r("ŵ", 71), 2, CodingUCS2},
		{"ucs2 134", r("ŵ", 134), 2, CodingUCS2},
		{"ucs2 135", r("ŵ", 135), 3, CodingUCS2},
		{"one ŵ makes 160 GSM chars UCS-2", r("a", 159) + "ŵ", 3, CodingUCS2},
		{"lower-case ç is not GSM", "ç", 1, CodingUCS2},
		{"backtick is not GSM", "`", 1, CodingUCS2},
		{"emoji 35 = 70 units", r("😀", 35), 1, CodingUCS2},
		{"emoji 36 = 72 units", r("😀", 36), 2, CodingUCS2},
		{"a + 35 emoji = 71 units", "a" + r("😀", 35), 2, CodingUCS2},
		// 66 units then a pair would make 68 > 67: the pair moves whole.
		{"pair not split", r("ŵ", 66) + "😀" + r("ŵ", 65), 2, CodingUCS2},
		{"pair not split, spills", r("ŵ", 66) + "😀" + r("ŵ", 66), 3, CodingUCS2},
		{"invalid utf-8 is UCS-2", "a\xffb", 1, CodingUCS2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Parts(tc.text); got != tc.parts {
				t.Errorf("Parts = %d, want %d", got, tc.parts)
			}
			if got := Coding(tc.text); got != tc.coding {
				t.Errorf("Coding = %s, want %s", got, tc.coding)
			}
			bodies, err := Split(tc.text, tc.coding, 9)
			if err != nil {
				t.Fatal(err)
			}
			if len(bodies) != tc.parts {
				t.Errorf("Split gave %d bodies, Parts %d", len(bodies), tc.parts)
			}
		})
	}
}

func TestSplitBodies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		text   string
		coding DataCoding
		want   [][]byte
	}{
		{"gsm ascii", "Hi @ 5", CodingDefault, [][]byte{{0x48, 0x69, 0x20, 0x00, 0x20, 0x35}}},
		{"gsm extension", "€[", CodingDefault, [][]byte{{0x1B, 0x65, 0x1B, 0x3C}}},
		{"gsm non-ascii", "£_é", CodingDefault, [][]byte{{0x01, 0x11, 0x05}}},
		{"latin1", "café", CodingLatin1, [][]byte{{0x63, 0x61, 0x66, 0xE9}}},
		{"ucs2", "aŵ", CodingUCS2, [][]byte{{0x00, 0x61, 0x01, 0x75}}},
		{"ucs2 surrogate pair", "😀", CodingUCS2, [][]byte{{0xD8, 0x3D, 0xDE, 0x00}}},
		{"empty", "", CodingDefault, [][]byte{{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Split(tc.text, tc.coding, 1)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d bodies, want %d", len(got), len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Errorf("body %d = % x, want % x", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestSplitMultipart(t *testing.T) {
	t.Parallel()
	text := strings.Repeat("a", 152) + "€" + strings.Repeat("b", 10)
	bodies, err := Split(text, CodingDefault, 0x42)
	if err != nil {
		t.Fatal(err)
	}
	if len(bodies) != 2 {
		t.Fatalf("%d parts, want 2", len(bodies))
	}
	for i, b := range bodies {
		if want := []byte{0x05, 0x00, 0x03, 0x42, 0x02, byte(i + 1)}; !bytes.Equal(b[:6], want) {
			t.Errorf("part %d UDH = % x, want % x", i+1, b[:6], want)
		}
	}
	if n := len(bodies[0]) - 6; n != 152 {
		t.Errorf("part 1 carries %d septets, want 152 (the escape pair moved whole)", n)
	}
	if !bytes.Equal(bodies[1][6:8], []byte{0x1B, 0x65}) {
		t.Errorf("part 2 starts % x, want the € escape 1b 65", bodies[1][6:8])
	}

	latin := strings.Repeat("é", 141)
	lb, err := Split(latin, CodingLatin1, 7)
	if err != nil {
		t.Fatal(err)
	}
	if len(lb) != 2 || len(lb[0]) != 6+134 || len(lb[1]) != 6+7 {
		t.Errorf("latin-1 141 chars: parts of %d and %d bytes, want 140 and 13", len(lb[0]), len(lb[1]))
	}
	if one, _ := Split(strings.Repeat("é", 140), CodingLatin1, 7); len(one) != 1 || len(one[0]) != 140 {
		t.Errorf("latin-1 140 chars should be one body of 140 bytes")
	}
}

func TestSplitErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		text   string
		coding DataCoding
	}{
		{"ŵ in gsm", "Cymraeg ŵ", CodingDefault},
		{"euro in latin1", "5€", CodingLatin1},
		{"binary coding", "x", CodingBinary},
		{"over 255 parts", strings.Repeat("a", 153*255+1), CodingDefault},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Split(tc.text, tc.coding, 0); err == nil {
				t.Error("no error")
			}
		})
	}
	if _, err := Split(strings.Repeat("a", 153*255), CodingDefault, 0); err != nil {
		t.Errorf("255 parts: %v", err)
	}
}

// TestSplitAgreesWithParts generates texts from mixed alphabets around the
// segment limits and checks Split and Parts agree, no part is oversize, no
// character is cut, and the parts decode back to the text.
func TestSplitAgreesWithParts(t *testing.T) {
	t.Parallel()
	pools := [][]rune{
		[]rune("abcXYZ 0123456789.,!?@£$_"),          // GSM basic
		[]rune("abc €[]{}^~\\|"),                     // GSM with extension
		[]rune("abc ŵŷâêîôûẁẃẅỳ"),                    // Welsh: UCS-2
		[]rune("ab😀🚓👮\U0001F1EC\U0001F1E7"),          // surrogate pairs
		[]rune("a€ŵ😀"),                               // everything
		[]rune(string(rune(0x7FF)) + "\u20AC\u00e9"), // assorted
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		pool := pools[i%len(pools)]
		n := rng.IntN(700)
		if i%3 == 0 { // dwell on the boundaries
			n = []int{69, 70, 71, 133, 134, 135, 152, 153, 154, 159, 160, 161, 306, 307}[rng.IntN(14)]
		}
		var sb strings.Builder
		for range n {
			sb.WriteRune(pool[rng.IntN(len(pool))])
		}
		text := sb.String()
		coding := Coding(text)
		bodies, err := Split(text, coding, uint8(i))
		if err != nil {
			t.Fatalf("Split(%q): %v", text, err)
		}
		if len(bodies) != Parts(text) {
			t.Fatalf("Split gave %d parts, Parts %d, for %q", len(bodies), Parts(text), text)
		}
		var joined []byte
		for j, b := range bodies {
			payload := b
			if len(bodies) > 1 {
				if b[0] != 5 || b[1] != 0 || b[2] != 3 || b[3] != uint8(i) || int(b[4]) != len(bodies) || int(b[5]) != j+1 {
					t.Fatalf("part %d UDH % x", j+1, b[:6])
				}
				payload = b[6:]
			}
			limit := map[DataCoding]int{CodingDefault: 160, CodingUCS2: 140}[coding]
			if len(bodies) > 1 {
				limit = map[DataCoding]int{CodingDefault: 153, CodingUCS2: 134}[coding]
			}
			if len(payload) > limit {
				t.Fatalf("part %d carries %d bytes, limit %d", j+1, len(payload), limit)
			}
			if _, err := Decode(coding, payload); err != nil {
				t.Fatalf("part %d does not decode alone (a character was cut): %v", j+1, err)
			}
			if coding == CodingDefault && len(payload) > 0 && payload[len(payload)-1] == gsmEscape {
				t.Fatalf("part %d ends in an escape", j+1)
			}
			if coding == CodingUCS2 && len(payload) >= 2 {
				if hi := uint16(payload[len(payload)-2])<<8 | uint16(payload[len(payload)-1]); hi >= 0xD800 && hi < 0xDC00 {
					t.Fatalf("part %d ends in a high surrogate", j+1)
				}
			}
			joined = append(joined, payload...)
		}
		back, err := Decode(coding, joined)
		if err != nil || back != text {
			t.Fatalf("round trip: %q, %v; want %q", back, err, text)
		}
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		coding  DataCoding
		in      []byte
		want    string
		wantErr bool
	}{
		{"gsm", CodingDefault, []byte{0x48, 0x69, 0x00, 0x01, 0x1B, 0x65}, "Hi@£€", false},
		{"gsm message class", 0xF0, []byte("STOP"), "STOP", false},
		{"gsm lone escape", CodingDefault, []byte{0x41, 0x1B}, "A ", false},
		{"gsm unknown extension shows basic", CodingDefault, []byte{0x1B, 0x41}, "A", false},
		{"gsm 8-bit byte", CodingDefault, []byte{0x41, 0xC3}, "", true},
		{"ia5", CodingIA5, []byte("stop"), "stop", false},
		{"ia5 8-bit", CodingIA5, []byte{0xE9}, "", true},
		{"latin1", CodingLatin1, []byte{0x63, 0x61, 0x66, 0xE9}, "café", false},
		{"ucs2", CodingUCS2, []byte{0x01, 0x75, 0xD8, 0x3D, 0xDE, 0x00}, "ŵ😀", false},
		{"ucs2 odd", CodingUCS2, []byte{0x00}, "", true},
		{"binary", CodingBinary, []byte{1, 2}, "", true},
		{"8-bit message class", 0xF4, []byte{1}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.coding, tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("Decode = %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestTextSubmits(t *testing.T) {
	t.Parallel()
	sms, err := TextSubmits(Text{Source: "MetPolice", Dest: "+447700900123", Body: "Hello", RegisteredDelivery: true})
	if err != nil {
		t.Fatal(err)
	}
	want := SubmitSM{SourceTON: 5, SourceNPI: 0, Source: "MetPolice", DestTON: 1, DestNPI: 1, Dest: "447700900123",
		RegisteredDelivery: 1, DataCoding: CodingDefault, ShortMessage: []byte("Hello")}
	if len(sms) != 1 || !equalSM(*sms[0], want) {
		t.Errorf("got %+v, want %+v", sms[0], want)
	}

	long := strings.Repeat("Ffoniwch ni ŵ ", 10) // 140 chars, UCS-2: 3 parts
	sms, err = TextSubmits(Text{Source: "+447700900999", Dest: "447700900123", Body: long, Ref: 77})
	if err != nil {
		t.Fatal(err)
	}
	if len(sms) != Parts(long) || len(sms) != 3 {
		t.Fatalf("%d PDUs, Parts says %d, want 3", len(sms), Parts(long))
	}
	for i, sm := range sms {
		if sm.SourceTON != 1 || sm.SourceNPI != 1 || sm.Source != "447700900999" {
			t.Errorf("part %d source %d/%d %q, want 1/1 without '+'", i, sm.SourceTON, sm.SourceNPI, sm.Source)
		}
		if sm.ESMClass != ESMClassUDHI || sm.DataCoding != CodingUCS2 || sm.RegisteredDelivery != 0 {
			t.Errorf("part %d esm 0x%02x coding %s reg %d", i, sm.ESMClass, sm.DataCoding, sm.RegisteredDelivery)
		}
		if sm.ShortMessage[3] != 77 || sm.ShortMessage[5] != byte(i+1) {
			t.Errorf("part %d UDH % x", i, sm.ShortMessage[:6])
		}
		if b, err := (&PDU{ID: CmdSubmitSM, Body: sm}).MarshalBinary(); err != nil || len(b) > 200 {
			t.Errorf("part %d encodes to %d bytes, %v", i, len(b), err)
		}
	}

	sms, err = TextSubmits(Text{Source: "60006", SourceTON: 3, SourceNPI: 0, Dest: "447700900123", Body: "x"})
	if err != nil || sms[0].SourceTON != 3 || sms[0].SourceNPI != 0 {
		t.Errorf("explicit TON/NPI not kept: %+v %v", sms, err)
	}
	// A short code is not an international number: network specific unless told otherwise,
	// and told otherwise even to 0/0 (unknown), as some SMSCs want.
	sms, err = TextSubmits(Text{Source: "60006", Dest: "447700900123", Body: "x"})
	if err != nil || sms[0].Source != "60006" || sms[0].SourceTON != 3 || sms[0].SourceNPI != 0 {
		t.Errorf("short code: %+v %v", sms, err)
	}
	sms, err = TextSubmits(Text{Source: "447700900999", SourceTypeSet: true, Dest: "447700900123", Body: "x"})
	if err != nil || sms[0].SourceTON != 0 || sms[0].SourceNPI != 0 {
		t.Errorf("explicit 0/0 not kept: %+v %v", sms, err)
	}
	sms, err = TextSubmits(Text{Dest: "447700900123", Body: "x"})
	if err != nil || sms[0].Source != "" || sms[0].SourceTON != 0 {
		t.Errorf("empty source: %+v %v", sms, err)
	}

	for _, bad := range []Text{
		{Source: "POLICE", Dest: "07700 900123", Body: "x"},
		{Source: "POLICE", Dest: "07700900123", Body: "x"},
		{Source: "POLICE", Dest: "", Body: "x"},
		{Source: "POLICE", Dest: "+4477009001234567", Body: "x"},
		{Source: "POLICE", Dest: "++447700900123", Body: "x"},
		{Source: "MetropolitanPolice", Dest: "447700900123", Body: "x"},
		{Source: "POLICE", Dest: "447700900123", Body: strings.Repeat("a", 153*256)},
	} {
		_, err := TextSubmits(bad)
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("TextSubmits(%+v) = %v, want ErrInvalid", bad.Dest, err)
		}
		if err != nil && strings.Contains(err.Error(), "900123") {
			t.Errorf("error shows the whole number: %v", err)
		}
	}
}

func equalSM(a, b SubmitSM) bool {
	ab, _ := (&PDU{ID: CmdSubmitSM, Body: &a}).MarshalBinary()
	bb, _ := (&PDU{ID: CmdSubmitSM, Body: &b}).MarshalBinary()
	return bytes.Equal(ab, bb)
}

func TestMaskNumber(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"+447911123123": "+44791…123",
		"447911123123":  "44791…123",
		"60006":         "60…",
		"":              "",
	} {
		if got := MaskNumber(in); got != want {
			t.Errorf("MaskNumber(%q) = %q, want %q", in, got, want)
		}
		if in != "" && utf8.RuneCountInString(MaskNumber(in)) >= len(in) && len(in) > 6 {
			t.Errorf("MaskNumber(%q) hides nothing", in)
		}
	}
}
