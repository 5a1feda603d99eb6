package stirshakenbench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/stirshaken"
)

const (
	vectors = "../../../shared/vectors/libstirshaken/"
	x5u     = "https://shaken.signalwire.cloud/sp.pem" // the tokens' x5u
	expire  = "2000000000"                             // secsipidx: accept iat from 2021 (its clock is not settable)
)

// call is one README token as a call: its Identity header, numbers and iat.
type call struct {
	header, from, to string
	iat              time.Time
}

func calls(b *testing.B) []call {
	f, err := os.Open(vectors + "sp/readme-passports.txt")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var out []call
	for sc := bufio.NewScanner(f); sc.Scan(); {
		tok := strings.TrimSpace(sc.Text())
		p, err := stirshaken.ParsePASSporT(tok)
		if err != nil || p.Claims.Orig.TN == "Bob" { // the one with non-numeric TNs fails anyway
			continue
		}
		out = append(out, call{header: tok + ";info=<" + x5u + ">;alg=ES256;ppt=shaken",
			from: "+" + p.Claims.Orig.TN, to: "+" + p.Claims.Dest.TN[0], iat: time.Unix(p.Claims.IAT, 0)})
	}
	if len(out) != 2 {
		b.Fatalf("%d usable tokens, want 2", len(out))
	}
	return out
}

func secsipidx(b *testing.B) string {
	path, err := exec.LookPath("secsipidx")
	if err != nil {
		b.Skip("secsipidx not installed")
	}
	return path
}

// BenchmarkVerifyCallVectors verifies the README tokens in process, the clock at their iat,
// the test CA as trust anchor and sp.pem cached (its TNAuthList is malformed: lax).
func BenchmarkVerifyCallVectors(b *testing.B) {
	cs := calls(b)
	ca, err := os.ReadFile(vectors + "ca/ca.pem")
	if err != nil {
		b.Fatal(err)
	}
	sp, err := os.ReadFile(vectors + "sp/sp.pem")
	if err != nil {
		b.Fatal(err)
	}
	anchors, err := stirshaken.ParseCertificates(ca)
	if err != nil {
		b.Fatal(err)
	}
	now := cs[0].iat
	f := stirshaken.NewFetcher(stirshaken.FetcherConfig{Now: func() time.Time { return now }})
	if err := f.Preload(x5u, sp); err != nil {
		b.Fatal(err)
	}
	v := stirshaken.NewVerifier(stirshaken.Config{TrustAnchors: anchors, Fetcher: f, Window: 24 * time.Hour,
		Now: func() time.Time { return now }, LaxTNAuthList: true})
	ctx := context.Background()
	i := 0
	for b.Loop() {
		c := cs[i%len(cs)]
		i++
		if r := v.VerifyCall(ctx, []string{c.header}, c.from, c.to); r.Verstat != unspoof.VerstatPassed {
			b.Fatal(r.Reasons)
		}
	}
}

// BenchmarkSecsipidxHTTP posts the same headers to secsipidx's check service on loopback.
func BenchmarkSecsipidxHTTP(b *testing.B) {
	bin := secsipidx(b)
	cs := calls(b)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-H", addr, "-p", vectors+"sp/sp.pem", "-expire", expire)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	url := "http://" + addr + "/v1/check"
	client := &http.Client{Timeout: 5 * time.Second}
	post := func(h string) error {
		resp, err := client.Post(url, "text/plain", strings.NewReader(h))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("secsipidx: %s", resp.Status)
		}
		return nil
	}
	for deadline := time.Now().Add(10 * time.Second); post(cs[0].header) != nil; {
		if time.Now().After(deadline) {
			b.Fatalf("secsipidx -H %s does not answer: %v", addr, post(cs[0].header))
		}
		time.Sleep(20 * time.Millisecond)
	}
	i := 0
	for b.Loop() {
		if err := post(cs[i%len(cs)].header); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSecsipidxCLI runs secsipidx -c once per verification.
func BenchmarkSecsipidxCLI(b *testing.B) {
	bin := secsipidx(b)
	cs := calls(b)
	i := 0
	for b.Loop() {
		out, err := exec.Command(bin, "-c", "-identity", cs[i%len(cs)].header, "-p", vectors+"sp/sp.pem",
			"-expire", expire, "-cert-verify", "5", "-ca-file", vectors+"ca/ca.pem").CombinedOutput()
		if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "ok") {
			b.Fatalf("secsipidx: %v %s", err, out)
		}
		i++
	}
}

var (
	buildOnce  sync.Once
	unspoofBin string
	buildErr   error
)

// BenchmarkUnspoofCLI runs unspoof passport verify once per verification, the same way.
func BenchmarkUnspoofCLI(b *testing.B) {
	cs := calls(b)
	buildOnce.Do(func() {
		unspoofBin = filepath.Join(os.TempDir(), fmt.Sprintf("unspoof-bench-stirshaken-%d", os.Getpid()))
		out, err := exec.Command("go", "build", "-o", unspoofBin, "../../cmd/unspoof").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build: %v %s", err, out)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	b.Cleanup(func() { os.Remove(unspoofBin) })
	i := 0
	for b.Loop() {
		c := cs[i%len(cs)]
		out, err := exec.Command(unspoofBin, "passport", "verify", "--identity", c.header, "--from", c.from, "--to", c.to,
			"--ca", vectors+"ca/ca.pem", "--cert", vectors+"sp/sp.pem", "--at", c.iat.UTC().Format(time.RFC3339),
			"--lax-tnauthlist").CombinedOutput()
		if err != nil {
			b.Fatalf("unspoof: %v %s", err, out)
		}
		i++
	}
}
