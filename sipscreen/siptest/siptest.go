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
	"math/rand/v2"
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

// FreePort returns a loopback port that was free over UDP and TCP a moment ago, for a peer that
// takes its port on the command line. It is picked at random below the kernel's ephemeral range,
// so that no socket bound to port 0 (a client's, or a server's in another test) can take it
// before the peer binds it, and never twice in one process. Another test process can still pick
// the same one: the peers' starters try again on a new port when theirs was taken.
func FreePort(t testing.TB) int {
	t.Helper()
	lo, hi := portRange()
	portMu.Lock()
	defer portMu.Unlock()
	for range 200 {
		port := lo + rand.IntN(hi-lo)
		if portsGiven[port] {
			continue
		}
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		u.Close()
		if err == nil {
			l.Close()
			portsGiven[port] = true
			return port
		}
	}
	t.Fatal("siptest: no free port")
	return 0
}

var (
	portMu     sync.Mutex
	portsGiven = map[int]bool{}
)

// portRange is where FreePort picks: from 20000 up to the first ephemeral port (32768 on
// Linux by default), or 40000–50000 when the ephemeral range starts too low to leave room.
func portRange() (lo, hi int) {
	lo, hi = 20000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if first, err := strconv.Atoi(f[0]); err == nil {
				hi = first
			}
		}
	}
	if hi-lo < 2000 {
		return 40000, 50000
	}
	return lo, hi
}

// portTaken reports whether a peer's output says its port was taken: errno 98, as sipp and
// kamailio print it.
func portTaken(output string) bool {
	return strings.Contains(output, "Address already in use") || strings.Contains(output, "errno = 98")
}

// startOnFreePort starts a peer on a port from pick (FreePort) and waits until ready holds,
// which should check that the peer itself bound the port (bindsUDP). If the peer exits first
// because another process bound its port in the meantime, it starts it again on another port
// (three tries).
func startOnFreePort(t testing.TB, pick func(testing.TB) int, name, dir, what string, d time.Duration,
	argv func(port int) []string, ready func(p *proc, port int) bool) (*proc, int) {
	t.Helper()
	for try := 1; ; try++ {
		port := pick(t)
		p := start(t, name, dir, argv(port)...)
		err := p.wait(what, d, func() bool { return ready(p, port) })
		if err == nil {
			return p, port
		}
		if try < 3 && p.exited() && portTaken(p.output(8<<10)) {
			t.Logf("siptest: %s: port %d was taken before it bound it; trying another", name, port)
			p.quiet = true
			continue
		}
		t.Fatal(err)
	}
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

// bindsUDP reports whether a process of the peer's process group holds a UDP socket bound to
// 127.0.0.1:port. That something is bound there is not enough: another process that took the
// port would show the same. Linux only (/proc); elsewhere it falls back to the port being bound.
func (p *proc) bindsUDP(port int) bool {
	table, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return udpBound(port)
	}
	local := fmt.Sprintf("0100007F:%04X", port)
	inodes := map[string]bool{}
	for line := range strings.SplitSeq(string(table), "\n") {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		if f := strings.Fields(line); len(f) > 9 && f[1] == local {
			inodes["socket:["+f[9]+"]"] = true
		}
	}
	if len(inodes) == 0 {
		return false
	}
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !inGroup(pid, p.cmd.Process.Pid) {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && inodes[target] {
				return true
			}
		}
	}
	return false
}

// inGroup reports whether process pid is in process group pgid (the fifth field of its stat,
// after the command name in parentheses).
func inGroup(pid, pgid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(string(b[i+1:])) // state ppid pgrp …
	return len(f) > 2 && f[2] == strconv.Itoa(pgid)
}

// proc is a peer subprocess in its own process group, its output in a file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	outPath string
	done    chan struct{}
	err     error
	once    sync.Once
	quiet   bool // a try abandoned for another port: not logged when the test fails
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
		if t.Failed() && !p.quiet {
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

// waitFor polls cond every 20 ms until it holds, and fails the test if the peer exits or d
// passes first.
func (p *proc) waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	if err := p.wait(what, d, cond); err != nil {
		t.Fatal(err)
	}
}

// wait polls cond every 20 ms until it holds, the peer exits or d passes.
func (p *proc) wait(what string, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if p.exited() {
			return fmt.Errorf("siptest: %s exited before %s: %v\n%s", p.name, what, p.err, p.output(8<<10))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("siptest: %s: no %s within %s\n%s", p.name, what, d, p.output(8<<10))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
