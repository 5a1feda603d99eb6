package siptest

import (
	"encoding/hex"
	"net"
	"strconv"
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

// TestFreePort: the ports handed out lie below the kernel's ephemeral range, where no socket
// bound to port 0 can take them, and none is handed out twice.
func TestFreePort(t *testing.T) {
	lo, hi := portRange()
	seen := map[int]bool{}
	for range 100 {
		p := FreePort(t)
		if p < lo || p >= hi {
			t.Fatalf("port %d outside %d–%d", p, lo, hi)
		}
		if seen[p] {
			t.Fatalf("port %d handed out twice", p)
		}
		seen[p] = true
	}
}

// takenFirst returns a port picker whose first port is held by this test, and the number of
// ports it handed out.
func takenFirst(t *testing.T) (pick func(testing.TB) int, busy int, picks *int) {
	taken, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	busy = taken.LocalAddr().(*net.UDPAddr).Port
	picks = new(int)
	return func(t testing.TB) int {
		*picks++
		if *picks == 1 {
			return busy
		}
		return FreePort(t)
	}, busy, picks
}

// TestStartUASPortTaken: when another process binds the callee's port between FreePort and
// sipp starting, sipp fails to bind and the callee is started again on another port.
func TestStartUASPortTaken(t *testing.T) {
	pick, busy, picks := takenFirst(t)
	uas := startUAS(t, pick)
	if *picks != 2 || uas.Port == busy {
		t.Fatalf("picked %d ports, callee on %d (busy %d): want a second try on another port", *picks, uas.Port, busy)
	}
	if !uas.p.bindsUDP(uas.Port) {
		t.Errorf("sipp does not hold the callee's port %s", strconv.Itoa(uas.Port))
	}
}

// TestStartKamailioPortTaken: the same for kamailio, which must also answer on its new port.
func TestStartKamailioPortTaken(t *testing.T) {
	pick, busy, picks := takenFirst(t)
	k := startKamailio(t, pick, "127.0.0.1:9")
	if *picks != 2 || k.Port == busy {
		t.Fatalf("picked %d ports, kamailio on %d (busy %d): want a second try on another port", *picks, k.Port, busy)
	}
	if !ping(k.Addr) {
		t.Errorf("kamailio does not answer OPTIONS on %s", k.Addr)
	}
}
