package siptest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Kamailio is a running kamailio proxy with test/peers/kamailio/kamailio.cfg.
type Kamailio struct {
	Addr string // "127.0.0.1:port", UDP
	Port int
	p    *proc
}

// KamailioSigner makes kamailio sign unsigned INVITEs itself (its secsipid module, attestation
// A) before asking the screening server, as an originating network's authentication service.
type KamailioSigner struct {
	KeyPath string // the private key (PEM)
	X5U     string // the certificate's URL
}

// StartKamailio starts kamailio on a free loopback UDP port, sending each new INVITE to the
// redirect server at screenAddr (host:port, UDP), and stops it when the test ends. It returns
// once kamailio answers SIP. With a signer (at most one), kamailio signs unsigned INVITEs
// first; that needs the kamailio-secsipid-modules package.
func StartKamailio(t testing.TB, screenAddr string, signer ...KamailioSigner) *Kamailio {
	t.Helper()
	return startKamailio(t, FreePort, screenAddr, signer...)
}

func startKamailio(t testing.TB, pick func(testing.TB) int, screenAddr string, signer ...KamailioSigner) *Kamailio {
	t.Helper()
	bin := Need(t, "kamailio", "kamailio")
	dir := peerDir(t, "kamailio")
	run := t.TempDir()
	var sign []string
	for _, s := range signer {
		if _, err := os.Stat(secsipidModule(bin)); err != nil {
			unavailable(t, "kamailio's secsipid module is not installed (apt-get install kamailio-secsipid-modules)")
		}
		sign = append(sign, "-A", `SIGN_KEY="`+s.KeyPath+`"`, "-A", `SIGN_X5U="`+s.X5U+`"`)
	}
	argv := func(port int) []string {
		return append([]string{bin,
			"-f", filepath.Join(dir, "kamailio.cfg"),
			"-DD", "-E", // foreground, log to stderr
			"-n", "1", "-m", "32", "-M", "4", // one worker, small memory
			"-Y", run, // runtime dir in the test's temp dir
			"-l", "udp:127.0.0.1:" + strconv.Itoa(port),
			"-A", `SCREEN="sip:` + screenAddr + `"`,
		}, sign...)
	}
	k := &Kamailio{}
	k.p, k.Port = startOnFreePort(t, pick, "kamailio", run, "answer to OPTIONS", 20*time.Second, argv,
		func(p *proc, port int) bool { return p.bindsUDP(port) && ping("127.0.0.1:"+strconv.Itoa(port)) })
	k.Addr = "127.0.0.1:" + strconv.Itoa(k.Port)
	return k
}

// secsipidModule returns where kamailio looks for secsipid.so: its module directory, which
// `kamailio -I` does not print, found beside the tm module Debian installs with it.
func secsipidModule(bin string) string {
	for _, dir := range []string{"/usr/lib/x86_64-linux-gnu/kamailio/modules", "/usr/lib/aarch64-linux-gnu/kamailio/modules",
		"/usr/lib/kamailio/modules", "/usr/local/lib64/kamailio/modules"} {
		if _, err := os.Stat(filepath.Join(dir, "tm.so")); err == nil {
			return filepath.Join(dir, "secsipid.so")
		}
	}
	return filepath.Join(filepath.Dir(filepath.Dir(bin)), "lib", "kamailio", "modules", "secsipid.so")
}

// Output returns what kamailio logged so far (the last 64 KiB).
func (k *Kamailio) Output() string { return k.p.output(64 << 10) }

// ping sends an OPTIONS over UDP and reports whether any response came within 200 ms.
func ping(addr string) bool {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	la := c.LocalAddr().String()
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	msg := fmt.Sprintf("OPTIONS sip:ping@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-ping-%s;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:siptest@%s>;tag=%s\r\nTo: <sip:ping@%s>\r\nCall-ID: ping-%s\r\n"+
		"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", addr, la, id, la, id, addr, id)
	if _, err := c.Write([]byte(msg)); err != nil {
		return false
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	return err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 ")
}
