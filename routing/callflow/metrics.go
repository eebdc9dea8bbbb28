package callflow

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the call flow's Prometheus metrics (vnum_*), registered on
// the registry given, never the global one.
type Metrics struct {
	calls           *prometheus.CounterVec
	ended           *prometheus.CounterVec
	active          prometheus.Gauge
	adopted         prometheus.Counter
	voicemails      prometheus.Counter
	storeErrors     prometheus.Counter
	pbxErrors       prometheus.Counter
	decisionSeconds prometheus.Histogram
	setup           prometheus.Histogram
	messages        *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vnum_calls_total",
			Help: "Inbound calls by routing action (forward, reject, voicemail, unknown, unavailable, drained)."}, []string{"action"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vnum_calls_ended_total",
			Help: "Ended calls by outcome (answered, busy, no-answer, failed, rejected, voicemail, abandoned)."}, []string{"outcome"}),
		active:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "vnum_calls_active", Help: "Calls in progress on this node."}),
		adopted:     prometheus.NewCounter(prometheus.CounterOpts{Name: "vnum_calls_adopted_total", Help: "Bridged calls adopted after a restart."}),
		voicemails:  prometheus.NewCounter(prometheus.CounterOpts{Name: "vnum_voicemails_total", Help: "Voicemail messages recorded."}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "vnum_store_errors_total", Help: "Failed requests to the routing store."}),
		pbxErrors:   prometheus.NewCounter(prometheus.CounterOpts{Name: "vnum_pbx_errors_total", Help: "Failed requests to the PBX."}),
		decisionSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vnum_decision_seconds",
			Help: "Routing decision latency (one store round trip).", Buckets: prometheus.ExponentialBuckets(0.0001, 2, 14)}),
		setup: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vnum_call_setup_seconds",
			Help: "From the call's arrival to the bridge (includes the callee's ringing).", Buckets: prometheus.ExponentialBuckets(0.01, 2, 14)}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vnum_messages_total",
			Help: "Inbound text messages by result (relayed, blocked, dropped, failed)."}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.calls, m.ended, m.active, m.adopted, m.voicemails, m.storeErrors, m.pbxErrors, m.decisionSeconds, m.setup, m.messages)
	}
	return m
}
