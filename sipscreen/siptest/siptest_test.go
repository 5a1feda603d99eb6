package siptest

import (
	"encoding/hex"
	"testing"
)

func TestSplitIdentity(t *testing.T) {
	tok, info, err := splitIdentity(`a.b.c;info=<https://x.example/c.pem>;alg=ES256;ppt=shaken`)
	if err != nil || tok != "a.b.c" || info != "https://x.example/c.pem" {
		t.Errorf("got %q %q %v", tok, info, err)
	}
	if _, _, err := splitIdentity("a.b.c;alg=ES256"); err == nil {
		t.Error("no info accepted")
	}
}

func TestReceivedMessages(t *testing.T) {
	log := "----------------------------------------------- 2026-11-25 03:35:54.042454\n" +
		"UDP message sent (3 bytes):\n\nINVITE sip:x SIP/2.0\nVia: a\n\n\n" +
		"----------------------------------------------- 2026-11-25 03:35:54.044742\n" +
		"UDP message received [491] bytes :\n\nSIP/2.0 603 Decline\nReason: SIP;cause=603;text=\"dno\"\nContent-Length: 0\n\n\n"
	got := receivedMessages(log, "SIP/2.0 603")
	if len(got) != 1 || HeaderValue(got[0], "reason") != `SIP;cause=603;text="dno"` {
		t.Errorf("got %q", got)
	}
	if got := receivedMessages(log, "INVITE"); len(got) != 0 {
		t.Errorf("a sent message was read as received: %q", got)
	}
}

// TestTNAuthListSPC pins the DER of RFC 8226's example-shaped list: SEQUENCE { [0] { IA5String "1234" } }.
func TestTNAuthListSPC(t *testing.T) {
	b, err := TNAuthListSPC("1234")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hex.EncodeToString(b), "3008a0061604"+hex.EncodeToString([]byte("1234")); got != want {
		t.Errorf("DER %s, want %s", got, want)
	}
}
