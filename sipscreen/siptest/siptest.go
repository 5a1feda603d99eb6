// Package siptest starts the third-party SIP peers the screening tests run against — sipp
// (Debian's sip-tester) as caller and callee, kamailio as the proxy that asks the screening
// server — and signs Identity headers with Debian's secsipidx CLI under a test PKI it makes.
//
// Every peer runs as a subprocess on free loopback ports, with its configuration from the
// repository's test/peers (kamailio/kamailio.cfg, sipp/*.xml), and is stopped when the test
// ends; on a failure its output is logged. When a peer's binary is missing the test is skipped,
// or fails when the environment variable CI is set (scripts/test.sh installs them).
//
//	k := siptest.StartKamailio(t, srv.Addr())          // proxy → our redirect server
//	uas := siptest.StartUAS(t)                          // the callee
//	pki := siptest.NewPKI(t, "1234")                    // CA, SP certificate, x5u over TLS
//	id := pki.Sign(t, "+447700900123", "+441632960001") // secsipidx -sign-full
//	res := siptest.RunUAC(t, siptest.UAC{Scenario: "uac-signed.xml", Target: k.Addr,
//		UAS: uas.Addr, Calls: []siptest.Call{{From: "+447700900123", To: "+441632960001", Identity: id}}})
package siptest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// unavailable skips the test, or fails it in CI, where every peer must be installed.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("siptest: %s (CI is set: the peers are required; scripts/test.sh installs them)", msg)
	}
	t.Skipf("siptest: %s", msg)
}

// Need returns the path of a peer's binary, skipping the test (failing it in CI) when it is not
// installed. pkg is the Debian package that provides it.
func Need(t testing.TB, bin, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(bin)
	if err != nil {
		for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/sbin"} {
			if st, err := os.Stat(filepath.Join(dir, bin)); err == nil && !st.IsDir() {
				return filepath.Join(dir, bin)
			}
		}
		unavailable(t, fmt.Sprintf("%s is not installed (apt-get install %s)", bin, pkg))
	}
	return p
}

// PeerDir returns the absolute path of test/peers/name in the repository that holds the
// current directory.
func PeerDir(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(b, []byte("module github.com/unspoof/unspoof\n")) {
			return filepath.Join(dir, "test", "peers", name), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("siptest: not inside the unspoof repository")
		}
		dir = parent
	}
}

func peerDir(t testing.TB, name string) string {
	t.Helper()
	d, err := PeerDir(name)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// FreePort returns a UDP port on 127.0.0.1 that was free a moment ago (and whose TCP twin was
// too), for a peer that takes its port on the command line.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("siptest: no free port")
	return 0
}

// udpBound reports whether something listens on 127.0.0.1:port over UDP.
func udpBound(port int) bool {
	c, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// proc is a peer subprocess in its own process group, its output in a file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	outPath string
	done    chan struct{}
	err     error
	once    sync.Once
}

func start(t testing.TB, name, dir string, argv ...string) *proc {
	t.Helper()
	outPath := filepath.Join(t.TempDir(), name+".out")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("siptest: start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, outPath: outPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("siptest: %s output (%s):\n%s", name, strings.Join(argv, " "), p.output(16<<10))
		}
	})
	return p
}

// stop ends the peer's process group (the peer and the children it forked): SIGTERM, then
// SIGKILL after 5 s.
func (p *proc) stop() {
	p.once.Do(func() {
		pgid := p.cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
	})
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// output returns the last max bytes the peer printed.
func (p *proc) output(max int) string {
	b, _ := os.ReadFile(p.outPath)
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}

// waitFor polls cond every 20 ms until it holds, the peer exits or d passes.
func (p *proc) waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if p.exited() {
			t.Fatalf("siptest: %s exited before %s: %v\n%s", p.name, what, p.err, p.output(8<<10))
		}
		if time.Now().After(deadline) {
			t.Fatalf("siptest: %s: no %s within %s\n%s", p.name, what, d, p.output(8<<10))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
