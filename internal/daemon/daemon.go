// Package daemon is vnumd without its main: the routing store, the call
// flow engine, one PBX driver, the control channel (hang-up requests from
// vnumctl) and the health and metrics endpoint, wired together. It never
// touches signals, so tests and the demo embed it.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/internal/webhook"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
	"github.com/vnum/vnum/routing/redisstore"
)

// Config is everything vnumd needs, already read and checked by its main.
type Config struct {
	Node     string
	Region   string
	Listen   string // health + metrics; "" disables
	Fallback callflow.Fallback
	Privacy  routing.Privacy
	Logger   *slog.Logger
	// Redis is the store's client (the daemon closes it).
	Redis redis.UniversalClient
	// Driver is the PBX driver.
	Driver callflow.Driver
	// Lease of slots and registry entries (default redisstore.DefaultLease).
	Lease time.Duration
	// Velocity limits calls per caller (zero: off).
	Velocity redisstore.Velocity
	// CDRRetention drops CDRs older than it (0: keep the newest ~1,000,000).
	CDRRetention time.Duration
	// RecordingRetention, VoicemailRetention: recorded calls and voicemail
	// messages older than it are deleted by the sweep, files (through the
	// driver) and metadata (defaults: redisstore.DefaultRetention, then
	// RecordingRetention). A number's shorter periods win.
	RecordingRetention time.Duration
	VoicemailRetention time.Duration
	// SMSRetention: how long SMS threads are kept after their last
	// message (default redisstore.DefaultRetention; applied by the SMS work).
	SMSRetention time.Duration
	// ConsentCountries: where numbers with by-country consent announce
	// recordings (nil: routing.DefaultConsentCountries).
	ConsentCountries []string
	// SweepEvery is how often the number lifecycle is swept (default 1 min).
	SweepEvery time.Duration
	// ConfirmTimeout is how long a party answering a call that needs
	// confirmation (masked sessions with --confirm) has to press a key
	// (default 10 s).
	// WebhookReload is how often webhook endpoints are re-read from the
	// store (default 10 s).
	WebhookReload  time.Duration
	ConfirmTimeout time.Duration
	// Registry for metrics (nil: a new one).
	Registry *prometheus.Registry
}

// Daemon is a running vnumd.
type Daemon struct {
	cfg    Config
	log    *slog.Logger
	store  *redisstore.Store
	engine *callflow.Engine
	reg    *prometheus.Registry
	ret    retentionMetrics
	// hooks delivers webhooks while Run runs.
	hooks atomic.Pointer[webhook.Dispatcher]

	ready chan struct{}
	mu    sync.Mutex
	addr  string
}

// New wires a daemon; Run starts it.
func New(cfg Config) (*Daemon, error) {
	if cfg.Driver == nil || cfg.Redis == nil {
		return nil, errors.New("daemon: a driver and a Redis client are required")
	}
	if cfg.Node == "" {
		return nil, errors.New("daemon: node name is required")
	}
	if err := cfg.Privacy.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
		cfg.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	lease := cfg.Lease
	if lease <= 0 {
		lease = redisstore.DefaultLease
	}
	store := redisstore.New(cfg.Redis, redisstore.Options{Logger: cfg.Logger, Lease: lease, CDRRetention: cfg.CDRRetention, Velocity: cfg.Velocity,
		Retention: cfg.RecordingRetention, VoicemailRetention: cfg.VoicemailRetention, SMSRetention: cfg.SMSRetention,
		Privacy: cfg.Privacy, ConsentCountries: cfg.ConsentCountries})
	d := &Daemon{cfg: cfg, log: cfg.Logger.With("node", cfg.Node, "pbx", cfg.Driver.Name()), store: store,
		reg: cfg.Registry, ret: newRetentionMetrics(cfg.Registry), ready: make(chan struct{})}
	d.engine = callflow.New(callflow.Options{
		PBX: cfg.Driver, Store: store, Node: cfg.Node, Region: cfg.Region, Privacy: cfg.Privacy,
		Fallback: cfg.Fallback, Logger: cfg.Logger, Metrics: callflow.NewMetrics(cfg.Registry),
		Refresh: lease / 4, ConfirmTimeout: cfg.ConfirmTimeout, Notify: d.notify,
	})
	return d, nil
}

// notify hands a call's notice to the webhook dispatcher (while it runs).
func (d *Daemon) notify(n callflow.Notice) {
	if h := d.hooks.Load(); h != nil {
		h.Publish(webhook.Event{Type: n.Type, DID: n.DID, CallID: n.CallID, Created: n.At, Data: n.Data})
	}
}

// Engine is the call flow engine (tests).
func (d *Daemon) Engine() *callflow.Engine { return d.engine }

// Store is the routing store.
func (d *Daemon) Store() *redisstore.Store { return d.store }

// Ready closes once the daemon runs (health endpoint listening, driver
// started).
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Addr is the health endpoint's address once Ready.
func (d *Daemon) Addr() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.addr
}

// Drain stops taking new calls; the channel closes when the last one ended.
func (d *Daemon) Drain() <-chan struct{} {
	d.log.Info("draining: no new calls, running calls finish")
	return d.engine.Drain()
}

// Run runs until ctx ends. Then it stops reading the PBX and lets go of
// the calls still running without ending them (a restarted vnumd adopts
// them), and returns when everything it started has stopped.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.cfg.Redis.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := d.store.Preload(pctx); err != nil {
		d.log.Warn("routing store unreachable at start: new calls take the fallback until it is back", "err", err)
	}
	cancel()

	var srv *http.Server
	if d.cfg.Listen != "" {
		ln, err := net.Listen("tcp", d.cfg.Listen)
		if err != nil {
			return fmt.Errorf("vnumd: listen %s: %w", d.cfg.Listen, err)
		}
		d.mu.Lock()
		d.addr = ln.Addr().String()
		d.mu.Unlock()
		srv = &http.Server{Handler: d.handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				d.log.Error("health endpoint", "err", err)
			}
		}()
	}

	hooks, err := webhook.New(d.store, webhook.Options{Logger: d.cfg.Logger, Registry: d.reg, Reload: d.cfg.WebhookReload})
	if err != nil {
		if srv != nil {
			_ = srv.Close()
		}
		return fmt.Errorf("vnumd: webhooks: %w", err)
	}
	d.hooks.Store(hooks)

	rctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(rctx); err != nil {
				d.log.Error(name, "err", err)
			}
		}()
	}
	run("pbx driver", func(ctx context.Context) error { return d.cfg.Driver.Run(ctx, d.engine) })
	run("registry refresh", d.engine.Run)
	run("control channel", d.control)
	run("lifecycle sweep", d.sweep)
	close(d.ready)
	d.log.Info("vnumd running")

	<-ctx.Done()
	stop()
	wg.Wait()
	d.engine.Detach()
	d.hooks.Store(nil)
	_ = hooks.Close() // in-flight deliveries get a short grace
	if srv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = srv.Shutdown(sctx)
		cancel()
	}
	d.log.Info("vnumd stopped", "calls_left_running", "adopted by the next start")
	return nil
}

// sweep moves expired numbers to quarantine and numbers whose cool-off
// ended back to their pool, deletes records past their retention and
// drains the recording deletion queue (retain), once a minute, on one node of the deployment
// at a time (a lock in Redis).
func (d *Daemon) sweep(ctx context.Context) error {
	every := d.cfg.SweepEvery
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		sctx, cancel := context.WithTimeout(ctx, every)
		ok, err := d.cfg.Redis.SetNX(sctx, "vnum:sweep:lock", d.cfg.Node, every*9/10).Result()
		if err == nil && ok {
			var res redisstore.Swept
			res, err = d.store.Sweep(sctx, time.Now())
			if n := len(res.Quarantined) + len(res.Freed); n > 0 {
				d.log.Info("number lifecycle", "quarantined", len(res.Quarantined), "back_in_pool", len(res.Freed))
			}
			d.retain(sctx)
		}
		cancel()
		if err != nil {
			d.log.Warn("number lifecycle sweep", "err", err)
		}
	}
}

// control executes hang-up requests sent by vnumctl through the store.
func (d *Daemon) control(ctx context.Context) error {
	ps := d.store.SubscribeControl(ctx, d.cfg.Node)
	defer ps.Close()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return nil
		case m, ok := <-ch:
			if !ok {
				return nil
			}
			if id, ok := strings.CutPrefix(m.Payload, "hangup "); ok {
				if err := d.engine.HangupCall(id); err != nil {
					d.log.Warn("hang-up request", "call_id", id, "err", err)
				} else {
					d.log.Info("hang-up requested by an operator", "call_id", id)
				}
			}
		}
	}
}

// handler serves /healthz (liveness), /readyz (the PBX link and the store)
// and /metrics.
func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		storeErr := d.store.Ping(ctx)
		st := map[string]any{
			"pbx":           d.cfg.Driver.Name(),
			"pbx_connected": d.cfg.Driver.Connected(),
			"store_ok":      storeErr == nil,
			"active_calls":  d.engine.Active(),
			"node":          d.cfg.Node,
		}
		code := http.StatusOK
		if !d.cfg.Driver.Connected() {
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(st)
	})
	mux.Handle("/metrics", promhttp.HandlerFor(d.reg, promhttp.HandlerOpts{}))
	return mux
}
