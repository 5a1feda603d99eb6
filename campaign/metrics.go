package campaign

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/unspoof/unspoof/smpp"
)

// Metrics are a campaign engine's Prometheus metrics. A nil *Metrics records nothing.
type Metrics struct {
	messages *prometheus.CounterVec
	receipts *prometheus.CounterVec
	submits  *prometheus.CounterVec
	latency  prometheus.Histogram
}

// NewMetrics registers the engine's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "unspoof", Subsystem: "campaign",
			Name: "messages_total", Help: "Messages moved to each state by this process."}, []string{"state"}),
		receipts: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "unspoof", Subsystem: "campaign",
			Name: "receipts_total", Help: "Delivery receipts received, by the SMSC's state."}, []string{"state"}),
		submits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "unspoof", Subsystem: "campaign",
			Name: "submits_total", Help: "submit_sm PDUs (SMS parts) by outcome: ok, throttled, refused, unknown, not_sent."},
			[]string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "unspoof", Subsystem: "campaign",
			Name: "submit_seconds", Help: "Time from submit_sm to its response.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
	}
	reg.MustRegister(m.messages, m.receipts, m.submits, m.latency)
	return m
}

func (m *Metrics) message(state string) {
	if m != nil {
		m.messages.WithLabelValues(state).Inc()
	}
}

func (m *Metrics) receipt(state string) {
	if m != nil {
		m.receipts.WithLabelValues(state).Inc()
	}
}

func (m *Metrics) observeSubmit(d time.Duration, err error) {
	if m == nil {
		return
	}
	var se *smpp.StatusError
	outcome := "ok"
	switch {
	case err == nil:
		m.latency.Observe(d.Seconds())
	case errors.As(err, &se) && (se.Status == smpp.StatusThrottled || se.Status == smpp.StatusMsgQFull):
		outcome = "throttled"
	case errors.As(err, &se):
		outcome = "refused"
	case errors.Is(err, smpp.ErrNotSent):
		outcome = "not_sent"
	default:
		outcome = "unknown"
	}
	m.submits.WithLabelValues(outcome).Inc()
}
