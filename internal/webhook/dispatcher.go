package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of Options.
const (
	DefaultQueueSize      = 1000
	DefaultTimeout        = 10 * time.Second
	DefaultMaxAttempts    = 6
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultMaxElapsed     = 5 * time.Minute
	DefaultReload         = 10 * time.Second
	DefaultStatusEvery    = time.Second
	DefaultCloseGrace     = 5 * time.Second
)

// Options configure a Dispatcher. Zero values take the defaults.
type Options struct {
	Logger *slog.Logger
	// Registry receives the dispatcher's metrics (nil: not registered).
	Registry prometheus.Registerer
	// QueueSize bounds each endpoint's queue; a full queue drops (and
	// counts) new events (default 1000).
	QueueSize int
	// Timeout bounds each delivery attempt (default 10 s).
	Timeout time.Duration
	// Client sends deliveries (default: a client with dial, TLS and
	// response timeouts that follows no redirect).
	Client *http.Client
	// MaxAttempts caps attempts per event (default 6); MaxElapsed caps the
	// time spent retrying one event (default 5 min). Retries wait
	// exponentially from InitialBackoff (default 1 s) up to MaxBackoff
	// (default 1 min), with jitter.
	MaxAttempts    int
	MaxElapsed     time.Duration
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// Reload is how often endpoints are re-read from the store (default 10 s).
	Reload time.Duration
	// StatusEvery is how often counters are written to the store's status
	// records (default 1 s).
	StatusEvery time.Duration
	// CloseGrace is how long Close lets in-flight attempts finish (default 5 s).
	CloseGrace time.Duration
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Dispatcher routes published events to the matching endpoints' queues
// and delivers them, one worker goroutine per endpoint. Create it with
// New; Close stops it.
type Dispatcher struct {
	store  Store
	o      Options
	log    *slog.Logger
	client *http.Client
	own    *http.Transport // closed at Close when the dispatcher made it
	m      metrics

	mu      sync.RWMutex
	workers map[string]*worker
	closed  bool

	reloadMu sync.Mutex

	stop     context.Context // no new jobs, no more retry waits
	stopNow  context.CancelFunc
	hard     context.Context // in-flight attempts
	hardStop context.CancelFunc
	workWG   sync.WaitGroup
	loopWG   sync.WaitGroup
	once     sync.Once
}

type worker struct {
	ep     atomic.Pointer[Endpoint]
	q      chan *job
	ctx    context.Context
	cancel context.CancelFunc

	mu    sync.Mutex
	delta StatusDelta
}

type job struct {
	id, typ, delivery string
	body              []byte
}

type metrics struct {
	delivered, failed prometheus.Counter
	full, encode      prometheus.Counter
	shutdown          prometheus.Counter
}

// New starts a dispatcher: it loads the store's endpoints at once and then
// every Options.Reload (call Reload to load synchronously, e.g. at start
// or on SIGHUP). It fails only if the metrics cannot be registered.
func New(store Store, opts Options) (*Dispatcher, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MaxElapsed <= 0 {
		opts.MaxElapsed = DefaultMaxElapsed
	}
	if opts.InitialBackoff <= 0 {
		opts.InitialBackoff = DefaultInitialBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Reload <= 0 {
		opts.Reload = DefaultReload
	}
	if opts.StatusEvery <= 0 {
		opts.StatusEvery = DefaultStatusEvery
	}
	if opts.CloseGrace <= 0 {
		opts.CloseGrace = DefaultCloseGrace
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	d := &Dispatcher{store: store, o: opts, log: opts.Logger, client: opts.Client, workers: map[string]*worker{}}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.client == nil {
		d.own = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: min(5*time.Second, opts.Timeout), KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   min(5*time.Second, opts.Timeout),
			ResponseHeaderTimeout: opts.Timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		}
		d.client = &http.Client{Transport: d.own, Timeout: opts.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if err := d.register(opts.Registry); err != nil {
		return nil, err
	}
	d.stop, d.stopNow = context.WithCancel(context.Background())
	d.hard, d.hardStop = context.WithCancel(context.Background())
	d.loopWG.Add(2)
	go d.reloadLoop()
	go d.statusLoop()
	return d, nil
}

func (d *Dispatcher) register(reg prometheus.Registerer) error {
	deliveries := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vnum_webhook_deliveries_total",
		Help: "Webhook events by final outcome (delivered, or failed after its retries or on a 4xx)."}, []string{"result"})
	dropped := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vnum_webhook_dropped_total",
		Help: "Webhook events never attempted: queue full, not encodable, or still queued at shutdown or removal."}, []string{"reason"})
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "vnum_webhook_queue_depth",
		Help: "Webhook events waiting in the endpoints' queues."}, d.depth)
	d.m = metrics{delivered: deliveries.WithLabelValues("delivered"), failed: deliveries.WithLabelValues("failed"),
		full: dropped.WithLabelValues("queue_full"), encode: dropped.WithLabelValues("encode"),
		shutdown: dropped.WithLabelValues("shutdown")}
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{deliveries, dropped, depth} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("webhook: register metrics: %w", err)
		}
	}
	return nil
}

func (d *Dispatcher) depth() float64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n := 0
	for _, w := range d.workers {
		n += len(w.q)
	}
	return float64(n)
}

// Publish hands ev to every matching endpoint's queue and returns: it
// never waits for a delivery, the store or a full queue (a full queue
// drops the event and counts it). It fills ev.Created when empty, and
// ev.ID when empty and some endpoint gets the event. ev.Data is encoded
// before Publish returns, so the caller may reuse it.
func (d *Dispatcher) Publish(ev Event) {
	if ev.Created.IsZero() {
		ev.Created = d.o.Now()
	}
	ev.Created = ev.Created.UTC()
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.closed {
		return
	}
	var body []byte
	for id, w := range d.workers {
		if !w.ep.Load().Matches(&ev) {
			continue
		}
		if body == nil {
			if ev.ID == "" { // only for events some endpoint gets: no random id per call otherwise
				ev.ID = newID("evt_")
			}
			b, err := json.Marshal(ev)
			if err != nil {
				d.m.encode.Inc()
				d.log.Error("webhook event not encodable, dropped", "type", ev.Type, "event_id", ev.ID, "err", err)
				return
			}
			body = b
		}
		select {
		case w.q <- &job{id: ev.ID, typ: ev.Type, delivery: newID("dlv_"), body: body}:
		default:
			d.m.full.Inc()
			w.note(func(s *StatusDelta) { s.Dropped++ })
			d.log.Debug("webhook queue full, event dropped", "endpoint", id, "type", ev.Type)
		}
	}
}

// Reload re-reads the endpoints: new ones get a worker, removed ones lose
// theirs (their queued events are dropped), changed ones take effect at
// their next delivery.
func (d *Dispatcher) Reload(ctx context.Context) error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	eps, err := d.store.Webhooks(ctx)
	if err != nil {
		return fmt.Errorf("webhook: load endpoints: %w", err)
	}
	want := make(map[string]bool, len(eps))
	var gone []*worker
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	for i := range eps {
		ep := eps[i]
		want[ep.ID] = true
		if w, ok := d.workers[ep.ID]; ok {
			w.ep.Store(&ep)
			continue
		}
		w := &worker{q: make(chan *job, d.o.QueueSize)}
		w.ctx, w.cancel = context.WithCancel(d.stop)
		w.ep.Store(&ep)
		d.workers[ep.ID] = w
		d.workWG.Add(1)
		go d.run(w)
		d.log.Info("webhook endpoint added", "endpoint", ep.ID, "did", ep.DID)
	}
	for id, w := range d.workers {
		if !want[id] {
			delete(d.workers, id)
			gone = append(gone, w)
			d.log.Info("webhook endpoint removed", "endpoint", id)
		}
	}
	d.mu.Unlock()
	for _, w := range gone {
		w.cancel()
	}
	return nil
}

func (d *Dispatcher) reloadLoop() {
	defer d.loopWG.Done()
	t := time.NewTicker(d.o.Reload)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(d.stop, 5*time.Second)
		if err := d.Reload(ctx); err != nil && d.stop.Err() == nil {
			d.log.Warn("webhook endpoints not reloaded, keeping the current ones", "err", err)
		}
		cancel()
		select {
		case <-d.stop.Done():
			return
		case <-t.C:
		}
	}
}

func (d *Dispatcher) statusLoop() {
	defer d.loopWG.Done()
	t := time.NewTicker(d.o.StatusEvery)
	defer t.Stop()
	for {
		select {
		case <-d.stop.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(d.stop, 5*time.Second)
			d.flush(ctx)
			cancel()
		}
	}
}

// flush writes the workers' status deltas; a failed write is kept for the
// next one.
func (d *Dispatcher) flush(ctx context.Context) {
	d.mu.RLock()
	ws := make(map[string]*worker, len(d.workers))
	for id, w := range d.workers {
		ws[id] = w
	}
	d.mu.RUnlock()
	for id, w := range ws {
		w.mu.Lock()
		delta := w.delta
		w.delta = StatusDelta{}
		w.mu.Unlock()
		if delta.Empty() {
			continue
		}
		if err := d.store.RecordWebhookStatus(ctx, id, delta); err != nil {
			w.note(func(s *StatusDelta) { s.merge(delta) })
			if ctx.Err() == nil {
				d.log.Warn("webhook status not written", "endpoint", id, "err", err)
			}
		}
	}
}

// merge adds an older delta o back into s.
func (s *StatusDelta) merge(o StatusDelta) {
	s.Delivered += o.Delivered
	s.Failed += o.Failed
	s.Dropped += o.Dropped
	if s.LastErrorAt.IsZero() {
		s.LastError, s.LastErrorAt = o.LastError, o.LastErrorAt
	}
	if s.LastSuccess.IsZero() {
		s.LastSuccess = o.LastSuccess
	}
}

func (w *worker) note(f func(*StatusDelta)) {
	w.mu.Lock()
	f(&w.delta)
	w.mu.Unlock()
}

// run is an endpoint's worker: it delivers its queue in order until the
// endpoint is removed or the dispatcher closes, then drops what is left.
func (d *Dispatcher) run(w *worker) {
	defer d.workWG.Done()
	defer func() {
		for {
			select {
			case <-w.q:
				d.m.shutdown.Inc()
				w.note(func(s *StatusDelta) { s.Dropped++ })
			default:
				return
			}
		}
	}()
	for {
		select {
		case <-w.ctx.Done():
			return
		case j := <-w.q:
			if w.ctx.Err() != nil {
				d.m.shutdown.Inc()
				w.note(func(s *StatusDelta) { s.Dropped++ })
				return
			}
			d.deliver(w, j)
		}
	}
}

// attemptError is a failed attempt; retry marks one worth retrying
// (network error, 5xx, 429).
type attemptError struct {
	msg   string
	retry bool
	after time.Duration // the receiver's Retry-After, if any
}

// hinted waits at least the receiver's Retry-After (capped by the
// maximum backoff) before the next attempt.
type hinted struct {
	backoff.BackOff
	after *time.Duration
	max   time.Duration
}

func (h hinted) NextBackOff() time.Duration {
	d := h.BackOff.NextBackOff()
	if d != backoff.Stop && *h.after > d {
		d = min(*h.after, h.max)
	}
	*h.after = 0
	return d
}

func (e *attemptError) Error() string { return e.msg }

// deliver sends one event to w's endpoint, retrying with exponential
// backoff, and counts the outcome.
func (d *Dispatcher) deliver(w *worker, j *job) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = d.o.InitialBackoff
	b.MaxInterval = d.o.MaxBackoff
	b.MaxElapsedTime = d.o.MaxElapsed
	var after time.Duration
	bo := backoff.WithContext(hinted{backoff.WithMaxRetries(b, uint64(d.o.MaxAttempts-1)), &after, d.o.MaxBackoff}, w.ctx)
	n := 0
	var last error
	ep := w.ep.Load()
	err := backoff.Retry(func() error {
		n++
		ep = w.ep.Load()
		last = d.attempt(ep, j, n)
		var ae *attemptError
		if last != nil && errors.As(last, &ae) {
			if !ae.retry {
				return backoff.Permanent(last)
			}
			after = ae.after
		}
		if last != nil {
			d.log.Debug("webhook attempt failed", "endpoint", ep.ID, "event_id", j.id, "attempt", n, "err", last)
		}
		return last
	}, bo)
	now := d.o.Now()
	if err == nil {
		d.m.delivered.Inc()
		w.note(func(s *StatusDelta) { s.Delivered++; s.LastSuccess = now })
		return
	}
	if last == nil {
		last = err
	}
	msg := fmt.Sprintf("%s %s: attempt %d: %v", j.typ, j.id, n, last)
	if w.ctx.Err() != nil {
		msg += " (retries stopped: shutting down or endpoint removed)"
	}
	d.m.failed.Inc()
	w.note(func(s *StatusDelta) { s.Failed++; s.LastError = msg; s.LastErrorAt = now })
	d.log.Warn("webhook delivery failed", "endpoint", ep.ID, "event_id", j.id, "type", j.typ, "attempts", n, "err", last)
}

// attempt POSTs one event once. Errors never quote the URL (it may carry
// a token in its query).
func (d *Dispatcher) attempt(ep *Endpoint, j *job, n int) error {
	ctx, cancel := context.WithTimeout(d.hard, d.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(j.body))
	if err != nil {
		return &attemptError{msg: "bad request: " + unwrapURLError(err).Error()}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vnum-webhook/1")
	req.Header.Set(SignatureHeader, Sign(ep.Secret, d.o.Now(), j.body))
	req.Header.Set(EventHeader, j.typ)
	req.Header.Set(DeliveryHeader, j.delivery)
	req.Header.Set("Vnum-Attempt", strconv.Itoa(n))
	resp, err := d.client.Do(req)
	if err != nil {
		return &attemptError{msg: unwrapURLError(err).Error(), retry: true}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return nil
	case c >= 500 || c == http.StatusTooManyRequests:
		e := &attemptError{msg: "HTTP " + resp.Status, retry: true}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
			e.after = time.Duration(min(secs, 3600)) * time.Second
		}
		return e
	default:
		return &attemptError{msg: "HTTP " + resp.Status + " (not retried)"}
	}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Close stops the dispatcher: no event is accepted any more, retry waits
// end, in-flight attempts get Options.CloseGrace to finish, queued events
// are dropped (counted), the last counters are written to the store, and
// every goroutine has returned when Close does. It is safe to call twice.
func (d *Dispatcher) Close() error {
	d.once.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		d.stopNow()
		grace := time.AfterFunc(d.o.CloseGrace, d.hardStop)
		d.workWG.Wait()
		grace.Stop()
		d.hardStop()
		d.loopWG.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		d.flush(ctx)
		cancel()
		if d.own != nil {
			d.own.CloseIdleConnections()
		}
	})
	return nil
}
