package smpp

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func BenchmarkEncodeSubmit(b *testing.B) {
	sms, err := TextSubmits(Text{Source: "MetPolice", Dest: "+447700900123", Body: strings.Repeat("Your reference is K7Q-2HX. ", 5), RegisteredDelivery: true})
	if err != nil {
		b.Fatal(err)
	}
	p := &PDU{ID: CmdSubmitSM, Seq: 1, Body: sms[0]}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = p.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeDeliver(b *testing.B) {
	wire := readHex(b, "deliver_sm_receipt.hex")
	r := bytes.NewReader(wire)
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(wire)
		p, err := ReadPDU(r)
		if err != nil {
			b.Fatal(err)
		}
		if d := ParseDeliver(p.Body.(*DeliverSM)); d.Receipt == nil || d.Receipt.ID != "0A3F" {
			b.Fatal("receipt not read")
		}
	}
}

func BenchmarkParts(b *testing.B) {
	for _, bc := range []struct{ name, text string }{
		{"gsm-1", strings.Repeat("Police: call 101 quoting K7Q-2HX. ", 4)},
		{"gsm-3", strings.Repeat("Police: call 101 quoting K7Q-2HX [ref]. ", 10)},
		{"ucs2-2", strings.Repeat("Heddlu: ffoniwch 101 ŵ ", 5)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if Parts(bc.text) == 0 {
					b.Fatal("zero parts")
				}
			}
		})
	}
}

// BenchmarkClientSubmit measures Submit against the in-process fake SMSC
// over loopback, window 10, from many goroutines.
func BenchmarkClientSubmit(b *testing.B) {
	f := startFake(b, fakeOpts{})
	c := New(Config{Addr: f.addr, SystemID: "bench", Password: "secret", Window: 10, Logger: testLogger()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	waitFor(b, 5*time.Second, "bound", c.Bound)
	sm := testSM("Police: call 101 quoting K7Q-2HX.")
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Submit(context.Background(), sm); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	if m := f.maxOutstanding.Load(); m > 10 {
		b.Errorf("window exceeded: %d outstanding", m)
	}
}
