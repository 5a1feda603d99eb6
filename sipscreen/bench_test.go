package sipscreen_test

import (
	"bytes"
	"context"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/sipscreen"
)

// allowAll is the trivial Screener of the benchmark: every call allowed, as a verified one.
type allowAll struct{}

func (allowAll) Screen(_ context.Context, r *unspoof.ScreenRequest) *unspoof.Verdict {
	return &unspoof.Verdict{Action: unspoof.ActionAllow, Verstat: unspoof.VerstatPassed, Attest: "A", From: r.From}
}

// BenchmarkRedirect measures one INVITE → 302 → ACK exchange over loopback UDP, in process,
// with a trivial Screener: the cost of the SIP stack and of building the answer. Each parallel
// worker is one UDP socket (a proxy) with one call in flight. Reports the answer's p50 and p99.
//
//	go test -run '^$' -bench BenchmarkRedirect -benchtime 20000x ./sipscreen/
func BenchmarkRedirect(b *testing.B) {
	srv := sipscreen.New(sipscreen.Config{Screener: allowAll{}, Addr: "127.0.0.1:0"})
	if err := srv.Open(); err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	raddr, err := net.ResolveUDPAddr("udp", srv.Addr())
	if err != nil {
		b.Fatal(err)
	}
	var (
		seq  atomic.Int64
		mu   sync.Mutex
		lats []time.Duration
	)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		conn, err := net.DialUDP("udp", nil, raddr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		laddr := conn.LocalAddr().String()
		buf := make([]byte, 4096)
		var msg []byte
		var mine []time.Duration
		for pb.Next() {
			id := strconv.FormatInt(seq.Add(1), 10)
			msg = appendInvite(msg[:0], "INVITE", laddr, id)
			t0 := time.Now()
			if _, err := conn.Write(msg); err != nil {
				b.Error(err)
				return
			}
			for {
				conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := conn.Read(buf)
				if err != nil {
					b.Errorf("call %s: %v", id, err)
					return
				}
				if bytes.HasPrefix(buf[:n], []byte("SIP/2.0 302 ")) && bytes.Contains(buf[:n], []byte("Call-ID: bench-"+id+"\r\n")) {
					break
				}
				// a 100 Trying, or a retransmission of an earlier answer: keep reading
			}
			mine = append(mine, time.Since(t0))
			msg = appendInvite(msg[:0], "ACK", laddr, id)
			if _, err := conn.Write(msg); err != nil {
				b.Error(err)
				return
			}
		}
		mu.Lock()
		lats = append(lats, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	if len(lats) > 0 {
		slices.Sort(lats)
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-µs")
	}
}

// appendInvite appends an INVITE (or its ACK) of call id from a proxy at laddr.
func appendInvite(b []byte, method, laddr, id string) []byte {
	b = append(b, method...)
	b = append(b, " sip:+441632960001@127.0.0.1:5099;user=phone SIP/2.0\r\nVia: SIP/2.0/UDP "...)
	b = append(b, laddr...)
	b = append(b, ";branch=z9hG4bK-bench-"...)
	b = append(b, id...)
	b = append(b, "\r\nMax-Forwards: 70\r\nFrom: <sip:+447700900123@carrier.example;user=phone>;tag=b"...)
	b = append(b, id...)
	b = append(b, "\r\nTo: <sip:+441632960001@127.0.0.1;user=phone>\r\nCall-ID: bench-"...)
	b = append(b, id...)
	b = append(b, "\r\nCSeq: 1 "...)
	b = append(b, method...)
	b = append(b, "\r\nContent-Length: 0\r\n\r\n"...)
	return b
}
