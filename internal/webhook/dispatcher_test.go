package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/vnum/vnum/internal/webhook"
	"github.com/vnum/vnum/internal/webhook/webhooktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeStore serves a fixed endpoint list and collects status writes.
type fakeStore struct {
	failStatus atomic.Bool   // RecordWebhookStatus fails
	hang       chan struct{} // non-nil: Webhooks waits for it

	mu      sync.Mutex
	eps     []webhook.Endpoint
	status  map[string]webhook.StatusDelta
	changed chan struct{}
}

func newFakeStore(eps ...webhook.Endpoint) *fakeStore {
	return &fakeStore{eps: eps, status: map[string]webhook.StatusDelta{}, changed: make(chan struct{})}
}

func (s *fakeStore) Webhooks(ctx context.Context) ([]webhook.Endpoint, error) {
	s.mu.Lock()
	hang := s.hang
	s.mu.Unlock()
	if hang != nil {
		select {
		case <-hang:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.eps), nil
}

func (s *fakeStore) set(eps ...webhook.Endpoint) {
	s.mu.Lock()
	s.eps = eps
	s.mu.Unlock()
}

func (s *fakeStore) RecordWebhookStatus(_ context.Context, id string, d webhook.StatusDelta) error {
	if s.failStatus.Load() {
		return errors.New("store down")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status[id]
	st.Delivered += d.Delivered
	st.Failed += d.Failed
	st.Dropped += d.Dropped
	if !d.LastErrorAt.IsZero() {
		st.LastError, st.LastErrorAt = d.LastError, d.LastErrorAt
	}
	if !d.LastSuccess.IsZero() {
		st.LastSuccess = d.LastSuccess
	}
	s.status[id] = st
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

// waitStatus waits until ok(status of id) holds.
func (s *fakeStore) waitStatus(t *testing.T, id string, ok func(webhook.StatusDelta) bool) webhook.StatusDelta {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		s.mu.Lock()
		st, ch := s.status[id], s.changed
		s.mu.Unlock()
		if ok(st) {
			return st
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("status of %s: %+v", id, st)
		}
	}
}

// fast are options for tests: quick retries and status writes.
func fast(reg prometheus.Registerer) webhook.Options {
	return webhook.Options{Registry: reg, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		StatusEvery: 10 * time.Millisecond, Timeout: 5 * time.Second, CloseGrace: 200 * time.Millisecond}
}

func start(t *testing.T, s webhook.Store, o webhook.Options) *webhook.Dispatcher {
	t.Helper()
	d, err := webhook.New(s, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDeliveredSigned(t *testing.T) {
	rcv := webhooktest.New(t, secret)
	st := newFakeStore(webhook.Endpoint{ID: "wh_1", URL: rcv.URL, Secret: secret})
	reg := prometheus.NewRegistry()
	d := start(t, st, fast(reg))
	d.Publish(webhook.Event{Type: webhook.CallEnded, DID: "+33187654321", CallID: "c-1",
		Data: map[string]any{"caller": "+4477009xxxxx", "outcome": "answered"}})
	got := rcv.WaitDelivered(t, 1, 10*time.Second)[0]
	if got.Verified != nil {
		t.Fatalf("receiver could not verify the signature: %v", got.Verified)
	}
	ev := got.Event
	if !strings.HasPrefix(ev.ID, "evt_") || ev.Type != "call.ended" || ev.DID != "+33187654321" || ev.CallID != "c-1" ||
		ev.Data["outcome"] != "answered" || ev.Data["caller"] != "+4477009xxxxx" || time.Since(ev.Created) > time.Minute {
		t.Fatalf("event %+v", ev)
	}
	var raw map[string]any
	if err := json.Unmarshal(got.Body, &raw); err != nil {
		t.Fatal(err)
	}
	if _, err := time.Parse(time.RFC3339, raw["created"].(string)); err != nil {
		t.Fatalf("created not RFC 3339: %v (%s)", err, got.Body)
	}
	h := got.Header
	if h.Get("Vnum-Event") != "call.ended" || !strings.HasPrefix(h.Get("Vnum-Delivery"), "dlv_") || h.Get("Content-Type") != "application/json" || got.Attempt != "1" {
		t.Fatalf("headers %v", h)
	}
	s := st.waitStatus(t, "wh_1", func(s webhook.StatusDelta) bool { return s.Delivered == 1 })
	if s.Failed != 0 || s.LastSuccess.IsZero() {
		t.Fatalf("status %+v", s)
	}
	if n := metric(t, reg, "vnum_webhook_deliveries_total", "delivered"); n != 1 {
		t.Fatalf("deliveries_total{delivered} = %v", n)
	}
}

// metric reads one series from a registry (label "" for an unlabelled
// one); -1 when absent.
func metric(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return -1
}

func TestRetriedThenDelivered(t *testing.T) {
	for _, code := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusTooManyRequests} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			rcv := webhooktest.New(t, secret)
			rcv.FailNext(2, code)
			st := newFakeStore(webhook.Endpoint{ID: "wh_1", URL: rcv.URL, Secret: secret})
			d := start(t, st, fast(nil))
			d.Publish(webhook.Event{Type: webhook.CallStarted, DID: "+33187654321"})
			rcv.WaitDelivered(t, 1, 10*time.Second)
			reqs := rcv.Requests()
			if len(reqs) != 3 {
				t.Fatalf("%d requests, want 3 (2 failures then success)", len(reqs))
			}
			for i, r := range reqs {
				if r.Attempt != string(rune('1'+i)) || r.Header.Get("Vnum-Delivery") != reqs[0].Header.Get("Vnum-Delivery") ||
					r.Event.ID != reqs[0].Event.ID || r.Verified != nil {
					t.Fatalf("request %d: attempt %q delivery %q event %q verified %v", i, r.Attempt, r.Header.Get("Vnum-Delivery"), r.Event.ID, r.Verified)
				}
			}
			s := st.waitStatus(t, "wh_1", func(s webhook.StatusDelta) bool { return s.Delivered == 1 })
			if s.Failed != 0 {
				t.Fatalf("status %+v", s)
			}
		})
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	rcv := webhooktest.New(t, secret)
	rcv.FailNext(10, http.StatusBadRequest)
	st := newFakeStore(webhook.Endpoint{ID: "wh_1", URL: rcv.URL + "?token=abc123", Secret: secret})
	reg := prometheus.NewRegistry()
	d := start(t, st, fast(reg))
	d.Publish(webhook.Event{Type: webhook.CallStarted, DID: "+33187654321"})
	s := st.waitStatus(t, "wh_1", func(s webhook.StatusDelta) bool { return s.Failed == 1 })
	if n := len(rcv.Requests()); n != 1 {
		t.Fatalf("%d requests for a 400, want 1", n)
	}
	if !strings.Contains(s.LastError, "400") || !strings.Contains(s.LastError, "call.started") || strings.Contains(s.LastError, "abc123") {
		t.Fatalf("last error %q", s.LastError)
	}
	if n := metric(t, reg, "vnum_webhook_deliveries_total", "failed"); n != 1 {
		t.Fatalf("deliveries_total{failed} = %v", n)
	}
}

func TestDeadEndpointGivesUp(t *testing.T) {
	rcv := webhooktest.New(t, secret)
	url := rcv.URL
	rcv.Close() // nothing listens any more: connection refused
	st := newFakeStore(webhook.Endpoint{ID: "wh_1", URL: url, Secret: secret})
	o := fast(nil)
	o.MaxAttempts = 3
	d := start(t, st, o)
	d.Publish(webhook.Event{Type: webhook.CallStarted})
	s := st.waitStatus(t, "wh_1", func(s webhook.StatusDelta) bool { return s.Failed == 1 })
	if !strings.Contains(s.LastError, "attempt 3") || !strings.Contains(s.LastError, "refused") {
		t.Fatalf("last error %q", s.LastError)
	}
}

// A hanging endpoint never holds up Publish: events queue up to the bound,
// the rest are dropped and counted, and delivery resumes when it answers.
func TestHangingEndpointNeverBlocksPublish(t *testing.T) {
	rcv := webhooktest.New(t, secret)
	rcv.Hang()
	st := newFakeStore(webhook.Endpoint{ID: "wh_1", URL: rcv.URL, Secret: secret})
	reg := prometheus.NewRegistry()
	o := fast(reg)
	o.QueueSize = 5
	d := start(t, st, o)
	d.Publish(webhook.Event{Type: webhook.CallStarted, CallID: "first"})
	<-rcv.Arrived() // the worker is stuck in the first delivery
	var worst time.Duration
	for i := range 100 {
		t0 := time.Now()
		d.Publish(webhook.Event{Type: webhook.CallEnded, CallID: "c"})
		worst = max(worst, time.Since(t0))
		if len(rcv.Requests()) != 0 {
			t.Fatalf("publish %d: the endpoint answered while hanging", i)
		}
	}
	t.Logf("100 Publish calls while the endpoint hangs: slowest %v", worst)
	if n := metric(t, reg, "vnum_webhook_dropped_total", "queue_full"); n != 95 {
		t.Fatalf("dropped_total{queue_full} = %v, want 95", n)
	}
	if n := metric(t, reg, "vnum_webhook_queue_depth", ""); n != 5 {
		t.Fatalf("queue_depth = %v, want 5", n)
	}
	st.waitStatus(t, "wh_1", func(s webhook.StatusDelta) bool { return s.Dropped == 95 })
	rcv.Release()
	rcv.WaitDelivered(t, 6, 10*time.Second)
	st.waitStatus(t, "wh_1", func(s webhook.StatusDelta) bool { return s.Delivered == 6 })
}

// One hanging endpoint does not delay another.
func TestEndpointsIndependent(t *testing.T) {
	slow := webhooktest.New(t, secret)
	slow.Hang()
	ok := webhooktest.New(t, secret)
	st := newFakeStore(webhook.Endpoint{ID: "wh_slow", URL: slow.URL, Secret: secret},
		webhook.Endpoint{ID: "wh_ok", URL: ok.URL, Secret: secret})
	d := start(t, st, fast(nil))
	for range 3 {
		d.Publish(webhook.Event{Type: webhook.CallStarted})
	}
	ok.WaitDelivered(t, 3, 10*time.Second)
	if n := len(slow.Requests()); n != 0 {
		t.Fatalf("slow endpoint answered %d", n)
	}
}

func TestFilters(t *testing.T) {
	global := webhooktest.New(t, secret)
	alice := webhooktest.New(t, secret)
	endedOnly := webhooktest.New(t, secret)
	st := newFakeStore(
		webhook.Endpoint{ID: "wh_g", URL: global.URL, Secret: secret},
		webhook.Endpoint{ID: "wh_a", URL: alice.URL, DID: "+33187654321", Secret: secret},
		webhook.Endpoint{ID: "wh_e", URL: endedOnly.URL, Events: []string{webhook.CallEnded, webhook.VoicemailNew}, Secret: secret})
	d := start(t, st, fast(nil))
	d.Publish(webhook.Event{Type: webhook.CallStarted, DID: "+33187654321", CallID: "a1"})
	d.Publish(webhook.Event{Type: webhook.CallStarted, DID: "+33187650000", CallID: "b1"})
	d.Publish(webhook.Event{Type: webhook.CallEnded, DID: "+33187650000", CallID: "b1"})
	d.Publish(webhook.Event{Type: webhook.CallEnded, DID: "+33187654321", CallID: "a1"})
	ids := func(ds []webhooktest.Delivery) string {
		var s []string
		for _, d := range ds {
			s = append(s, d.Event.CallID+"/"+d.Event.Type)
		}
		slices.Sort(s)
		return strings.Join(s, " ")
	}
	if got := ids(global.WaitDelivered(t, 4, 10*time.Second)); got != "a1/call.ended a1/call.started b1/call.ended b1/call.started" {
		t.Fatalf("global endpoint got %s", got)
	}
	if got := ids(alice.WaitDelivered(t, 2, 10*time.Second)); got != "a1/call.ended a1/call.started" {
		t.Fatalf("per-number endpoint got %s", got)
	}
	if got := ids(endedOnly.WaitDelivered(t, 2, 10*time.Second)); got != "a1/call.ended b1/call.ended" {
		t.Fatalf("filtered endpoint got %s", got)
	}
	// Nothing more arrives later (every endpoint's queue is drained in order,
	// so a close now would drop nothing).
	d.Close()
	if n := len(alice.Requests()) + len(endedOnly.Requests()); n != 4 {
		t.Fatalf("%d requests to the filtered endpoints, want 4", n)
	}
}

func TestReloadAddsAndRemoves(t *testing.T) {
	a := webhooktest.New(t, secret)
	b := webhooktest.New(t, secret)
	st := newFakeStore(webhook.Endpoint{ID: "wh_a", URL: a.URL, Secret: secret})
	o := fast(nil)
	o.Reload = 20 * time.Millisecond
	d := start(t, st, o)
	d.Publish(webhook.Event{Type: webhook.CallStarted, CallID: "1"})
	a.WaitDelivered(t, 1, 10*time.Second)
	st.set(webhook.Endpoint{ID: "wh_b", URL: b.URL, Secret: secret})
	// The periodic reload picks the change up: publish until b receives.
	deadline := time.Now().Add(10 * time.Second)
	for len(b.Delivered()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("added endpoint never received an event")
		}
		d.Publish(webhook.Event{Type: webhook.CallStarted, CallID: "2"})
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := len(a.Requests())
	d.Publish(webhook.Event{Type: webhook.CallStarted, CallID: "3"})
	for got := 1; !slices.ContainsFunc(b.Delivered(), func(d webhooktest.Delivery) bool { return d.Event.CallID == "3" }); got++ {
		b.WaitDelivered(t, got, 10*time.Second) // fails the test if "3" never comes
	}
	d.Close()
	if len(a.Requests()) != n {
		t.Fatalf("removed endpoint still received events")
	}
}

// Close gives a hung delivery its grace, drops the queue (counted), writes
// the last counters and leaves no goroutine behind (TestMain checks).
func TestCloseWithHungEndpoint(t *testing.T) {
	rcv := webhooktest.New(t, secret)
	rcv.Hang()
	st := newFakeStore(webhook.Endpoint{ID: "wh_1", URL: rcv.URL, Secret: secret})
	reg := prometheus.NewRegistry()
	o := fast(reg)
	o.CloseGrace = 50 * time.Millisecond
	d := start(t, st, o)
	d.Publish(webhook.Event{Type: webhook.CallStarted})
	<-rcv.Arrived()
	d.Publish(webhook.Event{Type: webhook.CallEnded})
	d.Publish(webhook.Event{Type: webhook.CallEnded})
	done := make(chan struct{})
	go func() { d.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return with a hung endpoint")
	}
	s := st.waitStatus(t, "wh_1", func(s webhook.StatusDelta) bool { return s.Failed == 1 && s.Dropped == 2 })
	if !strings.Contains(s.LastError, "shutting down") {
		t.Fatalf("last error %q", s.LastError)
	}
	if n := metric(t, reg, "vnum_webhook_dropped_total", "shutdown"); n != 2 {
		t.Fatalf("dropped_total{shutdown} = %v", n)
	}
	d.Publish(webhook.Event{Type: webhook.CallEnded}) // after Close: ignored, no panic
	d.Close()
}

func TestMetricsRegisteredOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	d, err := webhook.New(newFakeStore(), webhook.Options{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := webhook.New(newFakeStore(), webhook.Options{Registry: reg}); err == nil {
		t.Fatal("second dispatcher on one registry: no error")
	}
}

// BenchmarkPublishHungEndpoint measures Publish while the only endpoint
// hangs and its queue is full (every event dropped).
func BenchmarkPublishHungEndpoint(b *testing.B) {
	rcv := webhooktest.New(b, secret)
	rcv.Hang()
	st := newFakeStore(webhook.Endpoint{ID: "wh_1", URL: rcv.URL, Secret: secret})
	o := fast(nil)
	o.QueueSize = 10
	d, err := webhook.New(st, o)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if err := d.Reload(context.Background()); err != nil {
		b.Fatal(err)
	}
	ev := webhook.Event{Type: webhook.CallEnded, DID: "+33187654321", CallID: "c", Data: map[string]any{"outcome": "answered", "duration_s": 42}}
	b.ReportAllocs()
	for b.Loop() {
		d.Publish(ev)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	rcv := webhooktest.New(t, secret)
	rcv.FailNext(1, http.StatusTooManyRequests)
	rcv.FailHeader("Retry-After", "1")
	st := newFakeStore(webhook.Endpoint{ID: "wh_1", URL: rcv.URL, Secret: secret})
	o := fast(nil)
	o.MaxBackoff = 300 * time.Millisecond // caps the receiver's 1 s
	d := start(t, st, o)
	d.Publish(webhook.Event{Type: webhook.CallStarted})
	rcv.WaitDelivered(t, 1, 10*time.Second)
	r := rcv.Requests()
	if gap := r[1].Received.Sub(r[0].Received); len(r) != 2 || gap < 250*time.Millisecond {
		t.Fatalf("%d requests, second %v after the first; want 2, at least ~300ms apart", len(r), gap)
	}
}

func TestAttemptTimeout(t *testing.T) {
	rcv := webhooktest.New(t, secret)
	rcv.Hang()
	st := newFakeStore(webhook.Endpoint{ID: "wh_1", URL: rcv.URL, Secret: secret})
	o := fast(nil)
	o.Timeout = 100 * time.Millisecond
	o.MaxAttempts = 2
	d := start(t, st, o)
	d.Publish(webhook.Event{Type: webhook.CallStarted})
	s := st.waitStatus(t, "wh_1", func(s webhook.StatusDelta) bool { return s.Failed == 1 })
	if !strings.Contains(s.LastError, "attempt 2") || !(strings.Contains(strings.ToLower(s.LastError), "timeout") || strings.Contains(s.LastError, "deadline")) {
		t.Fatalf("last error %q", s.LastError)
	}
	rcv.WaitRequests(t, 2, 10*time.Second) // both attempts reached it, both given up
}

// Counters are not lost while the store refuses status writes.
func TestStatusKeptWhileStoreDown(t *testing.T) {
	rcv := webhooktest.New(t, secret)
	st := newFakeStore(webhook.Endpoint{ID: "wh_1", URL: rcv.URL, Secret: secret})
	st.failStatus.Store(true)
	d := start(t, st, fast(nil))
	d.Publish(webhook.Event{Type: webhook.CallStarted})
	d.Publish(webhook.Event{Type: webhook.CallEnded})
	rcv.WaitDelivered(t, 2, 10*time.Second)
	time.Sleep(50 * time.Millisecond) // a few failed status writes
	st.failStatus.Store(false)
	st.waitStatus(t, "wh_1", func(s webhook.StatusDelta) bool { return s.Delivered == 2 })
}

// A hanging store (reload stuck) does not hold up Publish or deliveries.
func TestPublishWhileStoreHangs(t *testing.T) {
	rcv := webhooktest.New(t, secret)
	st := newFakeStore(webhook.Endpoint{ID: "wh_1", URL: rcv.URL, Secret: secret})
	o := fast(nil)
	o.Reload = 5 * time.Millisecond
	d := start(t, st, o)
	st.mu.Lock()
	st.hang = make(chan struct{})
	st.mu.Unlock()
	time.Sleep(20 * time.Millisecond) // the periodic reload is now stuck in the store
	d.Publish(webhook.Event{Type: webhook.CallStarted})
	rcv.WaitDelivered(t, 1, 10*time.Second)
	close(st.hang)
}
