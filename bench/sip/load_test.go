package sipbench

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/unspoof/unspoof/screen"
	"github.com/unspoof/unspoof/sipscreen"
	"github.com/unspoof/unspoof/sipscreen/siptest"
)

var (
	rate      = flag.Int("sipp.rate", 250, "calls per second sipp offers")
	calls     = flag.Int("sipp.calls", 500, "calls in the run")
	limit     = flag.Int("sipp.limit", 2000, "calls sipp keeps in flight at most")
	target    = flag.String("sipp.target", "", "host:port of a running redirect server (UDP); empty: one in process")
	transport = flag.String("sipp.transport", "u1", "sipp transport: u1 (UDP) or t1 (TCP)")
)

// dnoNumbers are the Do-Not-Originate list of the run (Ofcom drama numbers standing for
// banks' inbound lines); 1 call in 100 presents one of them.
var dnoNumbers = []string{"+441632960999", "+442079460999", "+441134960999", "+441614960999", "+441214960999"}

// callers returns n presented numbers spread over Ofcom's drama ranges (+44 and ten digits),
// so that no single number trips the velocity rule; every 100th is a DNO number.
func callers(n int) []string {
	ranges := []string{"+447700900", "+441632960", "+442079460", "+441134960", "+441144960", "+441154960",
		"+441164960", "+441174960", "+441184960", "+441214960", "+441314960", "+441414960", "+441514960", "+441614960"}
	out := make([]string, n)
	for i := range out {
		if i%100 == 99 {
			out[i] = dnoNumbers[i/100%len(dnoNumbers)]
			continue
		}
		out[i] = fmt.Sprintf("%s%03d", ranges[i%len(ranges)], (i/len(ranges))%999)
	}
	return out
}

// TestSippLoad offers -sipp.calls calls at -sipp.rate per second and reports what came back.
func TestSippLoad(t *testing.T) {
	bin := siptest.Need(t, "sipp", "sip-tester")
	scenario, err := filepath.Abs("load.xml")
	if err != nil {
		t.Fatal(err)
	}
	addr := *target
	var reg *prometheus.Registry // the in-process server's metrics
	if addr == "" {
		var dno strings.Builder
		dno.WriteString("version,bench-1\nnumber,org\n")
		for _, n := range dnoNumbers {
			dno.WriteString(n + ",Bench Bank\n")
		}
		list, err := screen.ParseDNO(strings.NewReader(dno.String()), "GB")
		if err != nil {
			t.Fatal(err)
		}
		eng, err := screen.New(screen.Config{DNO: list})
		if err != nil {
			t.Fatal(err)
		}
		reg = prometheus.NewRegistry()
		srv := sipscreen.New(sipscreen.Config{Screener: eng, Addr: "127.0.0.1:0", Metrics: sipscreen.NewMetrics(reg)})
		if err := srv.Open(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Close() })
		addr = srv.Addr()
	}

	dir := t.TempDir()
	var inf strings.Builder
	inf.WriteString("SEQUENTIAL\n")
	for _, c := range callers(min(*calls, 20000)) {
		inf.WriteString(c + ";+441632960001;\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "calls.csv"), []byte(inf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runFor := time.Duration(float64(*calls)/float64(*rate)*float64(time.Second)) + 60*time.Second
	cmd := exec.Command(bin, "-sf", scenario, "-inf", filepath.Join(dir, "calls.csv"),
		"-key", "uas", "127.0.0.1:5099",
		"-i", "127.0.0.1", "-p", strconv.Itoa(siptest.FreePort(t)), "-t", *transport,
		"-r", strconv.Itoa(*rate), "-m", strconv.Itoa(*calls), "-l", strconv.Itoa(*limit),
		"-recv_timeout", "5000", "-timeout", strconv.Itoa(int(runFor.Seconds()))+"s", "-timeout_error",
		"-buff_size", strconv.Itoa(4<<20), "-nostdin", "-trace_rtt", "-rtt_freq", "100", "-trace_stat", "-stf", filepath.Join(dir, "stat.csv"), "-fd", "1",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		addr)
	cmd.Dir = dir
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(t0)
	var ee *exec.ExitError
	exit := 0
	if errors.As(err, &ee) {
		exit = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}

	rtts, first, last := readRTT(t, dir)
	ok, failed := readStats(t, filepath.Join(dir, "stat.csv"))
	if len(rtts) == 0 {
		t.Fatalf("sipp exit %d, no response times\n%s", exit, tail(string(out), 4000))
	}
	slices.Sort(rtts)
	q := func(p float64) float64 { return rtts[min(len(rtts)-1, int(p*float64(len(rtts))))] }
	span := last.Sub(first).Seconds()
	achieved := float64(len(rtts)-1) / span
	t.Logf("sipp exit %d after %s", exit, wall.Round(time.Millisecond))
	fmt.Printf("| %s | %d/s | %d | %d | %d | %.0f | %.0f ms | %.0f ms | %.0f ms | %s |\n",
		map[string]string{"u1": "UDP", "t1": "TCP"}[*transport], *rate, *calls, ok, failed, achieved,
		q(0.50), q(0.99), rtts[len(rtts)-1], serverP99(t, reg))
	if failed > 0 || exit != 0 {
		b, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Errorf("%d calls failed (sipp exit %d)\n%s\nerrors:\n%s", failed, exit, tail(string(out), 4000), tail(string(b), 4000))
	}
}

// serverP99 returns the upper bound of the histogram bucket that holds the 99th percentile of
// the in-process server's INVITE-to-answer times (unspoof_sip_invite_seconds), or "-".
func serverP99(t *testing.T, reg *prometheus.Registry) string {
	if reg == nil {
		return "-"
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "unspoof_sip_invite_seconds" {
			continue
		}
		h := mf.GetMetric()[0].GetHistogram()
		need := float64(h.GetSampleCount()) * 0.99
		for _, b := range h.GetBucket() {
			if float64(b.GetCumulativeCount()) >= need {
				return fmt.Sprintf("≤ %s", time.Duration(b.GetUpperBound()*float64(time.Second)).Round(time.Microsecond))
			}
		}
		return "> last bucket"
	}
	return "-"
}

// readRTT reads sipp's response-time file: one line per call, "date_ms;response_time_ms;rtd_no".
func readRTT(t *testing.T, dir string) (ms []float64, first, last time.Time) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*_rtt.csv"))
	if len(files) != 1 {
		t.Fatalf("want one sipp rtt file, found %v", files)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Split(sc.Text(), ";")
		if len(fs) < 2 {
			continue
		}
		at, err1 := strconv.ParseFloat(fs[0], 64)
		v, err2 := strconv.ParseFloat(fs[1], 64)
		if err1 != nil || err2 != nil {
			continue // the header
		}
		ts := time.UnixMicro(int64(at * 1000))
		if first.IsZero() || ts.Before(first) {
			first = ts
		}
		if ts.After(last) {
			last = ts
		}
		ms = append(ms, v)
	}
	return ms, first, last
}

// readStats reads the cumulative successful and failed call counts from the last line of
// sipp's statistics file.
func readStats(t *testing.T, path string) (ok, failed int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comma = ';'
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	var lastRec []string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		lastRec = rec
	}
	for i, h := range head {
		if i >= len(lastRec) {
			break
		}
		n, _ := strconv.Atoi(lastRec[i])
		switch h {
		case "SuccessfulCall(C)":
			ok = n
		case "FailedCall(C)":
			failed = n
		}
	}
	return ok, failed
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
