package sipscreen

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are a Server's Prometheus metrics. A nil *Metrics records nothing.
//
//	unspoof_sip_responses_total{method,code}  final responses sent, by request method and status
//	                                          code ("not_sent" when the transport refused one)
//	unspoof_sip_invite_seconds                time from an INVITE's arrival to its answer
//
// Verdicts by reason and the screening latency of the rules themselves are the screen engine's
// metrics; these count what went back on the wire.
type Metrics struct {
	responses *prometheus.CounterVec
	latency   prometheus.Histogram
}

// NewMetrics registers the server's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "unspoof", Subsystem: "sip",
			Name: "responses_total", Help: "Final SIP responses sent, by request method and status code."},
			[]string{"method", "code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "unspoof", Subsystem: "sip",
			Name: "invite_seconds", Help: "Time from an INVITE's arrival to its 302 or 603.",
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 16)}),
	}
	reg.MustRegister(m.responses, m.latency)
	return m
}

// response counts one response; t0, when set, is when its INVITE arrived.
func (m *Metrics) response(method, code string, t0 time.Time) {
	if m == nil {
		return
	}
	m.responses.WithLabelValues(method, code).Inc()
	if !t0.IsZero() {
		m.latency.Observe(time.Since(t0).Seconds())
	}
}
