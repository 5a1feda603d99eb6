package siptest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Call is one line of a UAC scenario's injection file.
type Call struct {
	From, To string // numbers as the caller signals them: From's and the Request-URI's user parts
	Identity string // a whole Identity header value ("token;info=<url>;alg=ES256;ppt=shaken"), or ""
}

// UAC says which caller scenario to run and where.
type UAC struct {
	Scenario  string        // a file in test/peers/sipp, e.g. "uac-signed.xml"
	Target    string        // host:port the INVITEs go to (kamailio, or the redirect server itself)
	UAS       string        // host:port of the callee named in the Request-URI (any, if unused)
	Transport string        // "u1" (UDP, default) or "t1" (TCP)
	Calls     []Call        // one call each, in order
	Rate      int           // calls per second (default 10)
	Timeout   time.Duration // the whole run (default 30 s)
}

// UACResult is a finished sipp caller run.
type UACResult struct {
	Exit     int    // sipp's exit status: 0 all calls succeeded, 1 some failed, other: sipp failed
	Output   string // what sipp printed (its final statistics screen)
	Messages string // every message sent and received (-trace_msg)
	Errors   string // unexpected messages (-trace_err)
}

// RunUAC runs sipp as the caller until every call ended, and returns what happened. A call
// succeeds when the scenario ran to its end: every expected response came, every check held.
func RunUAC(t testing.TB, u UAC) *UACResult {
	t.Helper()
	bin := Need(t, "sipp", "sip-tester")
	dir := peerDir(t, "sipp")
	tmp := t.TempDir()
	inf := filepath.Join(tmp, "calls.csv")
	var csv strings.Builder
	csv.WriteString("SEQUENTIAL\n")
	for _, c := range u.Calls {
		token, info, err := splitIdentity(c.Identity)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&csv, "%s;%s;%s;%s;\n", c.From, c.To, token, info)
	}
	if err := os.WriteFile(inf, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if u.Transport == "" {
		u.Transport = "u1"
	}
	if u.Rate == 0 {
		u.Rate = 10
	}
	if u.Timeout == 0 {
		u.Timeout = 30 * time.Second
	}
	if u.UAS == "" {
		u.UAS = "127.0.0.1:9"
	}
	msgs, errs := filepath.Join(tmp, "messages.log"), filepath.Join(tmp, "errors.log")
	var res *UACResult
	for try := 1; ; try++ {
		args := []string{
			"-sf", filepath.Join(dir, u.Scenario),
			"-inf", inf,
			"-key", "uas", u.UAS,
			"-i", "127.0.0.1", "-p", strconv.Itoa(FreePort(t)), "-t", u.Transport,
			"-m", strconv.Itoa(len(u.Calls)), "-r", strconv.Itoa(u.Rate), "-l", "100",
			"-timeout", strconv.Itoa(int(u.Timeout.Seconds())) + "s", "-timeout_error",
			"-recv_timeout", "5000",
			"-nostdin",
			"-trace_msg", "-message_file", msgs,
			"-trace_err", "-error_file", errs,
			u.Target,
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = tmp
		out, err := cmd.CombinedOutput()
		res = &UACResult{Output: string(out)}
		var ee *exec.ExitError
		switch {
		case err == nil:
		case errors.As(err, &ee):
			res.Exit = ee.ExitCode()
		default:
			t.Fatalf("siptest: sipp: %v", err)
		}
		// sipp binds its port before it sends anything: a taken port means no call was made.
		if res.Exit == 0 || try == 3 || !portTaken(res.Output) {
			break
		}
		t.Logf("siptest: sipp %s: its port was taken before it bound it; trying another", u.Scenario)
	}
	b, _ := os.ReadFile(msgs)
	res.Messages = string(b)
	b, _ = os.ReadFile(errs)
	res.Errors = string(b)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("siptest: sipp %s exit %d\n%s\nerrors:\n%s\nmessages (last 8 KiB):\n%s",
				u.Scenario, res.Exit, tail(res.Output, 4<<10), res.Errors, tail(res.Messages, 8<<10))
		}
	})
	return res
}

// splitIdentity splits an Identity header value into its token and its info URL, the two
// injection fields the scenarios rebuild it from (sipp's fields are separated by ';').
func splitIdentity(v string) (token, info string, err error) {
	if v == "" {
		return "", "", nil
	}
	token, params, _ := strings.Cut(v, ";")
	for p := range strings.SplitSeq(params, ";") {
		if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "info") {
			info = strings.Trim(strings.Trim(val, `"`), "<>")
		}
	}
	if info == "" || strings.ContainsAny(token+info, ";\r\n") {
		return "", "", fmt.Errorf("siptest: Identity %q: want token;info=<url>…", v)
	}
	return token, info, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// UAS is a running sipp callee (test/peers/sipp/uas.xml): it answers each INVITE 200, takes
// the ACK and answers the BYE.
type UAS struct {
	Addr     string // "127.0.0.1:port", UDP
	Port     int
	msgsPath string
	p        *proc
}

// StartUAS starts sipp as the callee on a free loopback UDP port and stops it when the test
// ends.
func StartUAS(t testing.TB) *UAS {
	t.Helper()
	return startUAS(t, FreePort)
}

func startUAS(t testing.TB, pick func(testing.TB) int) *UAS {
	t.Helper()
	bin := Need(t, "sipp", "sip-tester")
	dir := peerDir(t, "sipp")
	tmp := t.TempDir()
	u := &UAS{msgsPath: filepath.Join(tmp, "uas-messages.log")}
	u.p, u.Port = startOnFreePort(t, pick, "sipp-uas", tmp, "UDP socket", 10*time.Second,
		func(port int) []string {
			return []string{bin,
				"-sf", filepath.Join(dir, "uas.xml"),
				"-i", "127.0.0.1", "-p", strconv.Itoa(port), "-t", "u1",
				"-nostdin",
				"-trace_msg", "-message_file", u.msgsPath,
				"-trace_err", "-error_file", filepath.Join(tmp, "uas-errors.log"),
			}
		}, (*proc).bindsUDP)
	u.Addr = "127.0.0.1:" + strconv.Itoa(u.Port)
	return u
}

// Invites returns the INVITEs the callee received so far, each as the text sipp logged.
func (u *UAS) Invites() []string {
	b, _ := os.ReadFile(u.msgsPath)
	return receivedMessages(string(b), "INVITE ")
}

// receivedMessages returns the messages of a sipp -trace_msg log that were received and start
// with prefix. sipp writes each one after a line "… message received [N] bytes :" and a blank
// line, and separates them with a line of dashes.
func receivedMessages(log, prefix string) []string {
	var out []string
	for _, block := range strings.Split(log, "\n------------") {
		i := strings.Index(block, "message received [")
		if i < 0 {
			continue
		}
		_, msg, ok := strings.Cut(block[i:], "\n\n")
		if !ok {
			continue
		}
		msg = strings.TrimLeft(msg, "\r\n")
		if strings.HasPrefix(msg, prefix) {
			out = append(out, msg)
		}
	}
	return out
}

// ReceivedMessages returns the messages of a UACResult's log that sipp received and that start
// with prefix ("SIP/2.0 302", "SIP/2.0 603"…).
func (r *UACResult) ReceivedMessages(prefix string) []string {
	return receivedMessages(r.Messages, prefix)
}

// HeaderValue returns the value of the first header called name in a logged message, or "".
func HeaderValue(msg, name string) string {
	for line := range strings.SplitSeq(msg, "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
		if strings.TrimSpace(line) == "" {
			break
		}
	}
	return ""
}
