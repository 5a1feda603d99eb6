package screen_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/unspoof/unspoof"
	"github.com/unspoof/unspoof/screen"
)

// metric returns the metric named name whose labels include the given name/value pairs, or
// nil.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) *dto.Metric {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			return m
		}
	}
	return nil
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	if m := metric(t, reg, name, labels...); m != nil {
		return m.GetCounter().GetValue()
	}
	return 0
}

func gauge(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	if m := metric(t, reg, name, labels...); m != nil {
		return m.GetGauge().GetValue()
	}
	return -1
}

// TestMetrics: verdicts by action and deciding reason, reasons by rule, code and mode, latency
// by signed, and the lists' versions and sizes.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e, reg := setup(t, screen.Config{Modes: map[string]screen.Mode{"ingress": screen.ModeReportOnly},
		Verifier: &fakeVerifier{res: stale}})
	ctx := context.Background()
	for _, r := range []unspoof.ScreenRequest{
		{From: "+447400123456", To: "+447400999888"},
		{From: "+447400123456", To: "+447400999888"},
		{From: "+443005551234", To: "+447400999888", Ingress: unspoof.IngressInternational},
		{From: "+447700900123", To: "+447400999888"},
		{From: "+447400123456", To: "+447400999888", Identity: []string{"x"}},
	} {
		e.Screen(ctx, &r)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"unspoof_screen_verdicts_total", []string{"action", "allow", "reason", "none"}, 2},
		{"unspoof_screen_verdicts_total", []string{"action", "block", "reason", "dno"}, 1},
		{"unspoof_screen_verdicts_total", []string{"action", "flag", "reason", "fictional-number"}, 1},
		{"unspoof_screen_verdicts_total", []string{"action", "flag", "reason", "passport-stale"}, 1},
		{"unspoof_screen_reasons_total", []string{"rule", "dno", "code", "dno", "mode", "enforce"}, 1},
		{"unspoof_screen_reasons_total", []string{"rule", "ingress", "code", "uk-cli-international", "mode", "report-only"}, 1},
		{"unspoof_screen_reasons_total", []string{"rule", "stirshaken", "code", "passport-stale", "mode", "enforce"}, 1},
	} {
		if got := counter(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if m := metric(t, reg, "unspoof_screen_latency_seconds", "signed", "false"); m == nil || m.GetHistogram().GetSampleCount() != 4 {
		t.Errorf("latency of unsigned calls: %v", m)
	}
	if m := metric(t, reg, "unspoof_screen_latency_seconds", "signed", "true"); m == nil || m.GetHistogram().GetSampleCount() != 1 {
		t.Errorf("latency of signed calls: %v", m)
	}
	if got := gauge(t, reg, "unspoof_screen_list_info", "list", "dno", "version", "2026-11-25.1"); got != 1 {
		t.Errorf("dno version gauge: %v", got)
	}
	if got := gauge(t, reg, "unspoof_screen_list_entries", "list", "dno"); got != 4 {
		t.Errorf("dno entries gauge: %v", got)
	}
	if got := gauge(t, reg, "unspoof_screen_list_entries", "list", "egress"); got != 5 {
		t.Errorf("egress entries gauge: %v", got)
	}
	e.SetDNO(readDNO(t, "dno-v2.csv"))
	if old, cur := gauge(t, reg, "unspoof_screen_list_info", "version", "2026-11-25.1"), gauge(t, reg, "unspoof_screen_list_info", "version", "2026-11-26.1"); old != -1 || cur != 1 {
		t.Errorf("after a reload: old version %v, new %v (want gone, 1)", old, cur)
	}
}
