// Package vnumdtest runs vnumd's daemon in the test process against a PBX
// emulator and a real redis-server, and builds the scenario suite's
// environment from it, so the ARI and ESL tests (and benchmarks) share one
// harness.
package vnumdtest

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnum/vnum/internal/daemon"
	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
	"github.com/vnum/vnum/routing/callflow/scenariotest"
	"github.com/vnum/vnum/routing/redisstore"
)

// Logger is a debug logger on stderr when VNUM_TEST_LOG is set, else nil
// (discard).
func Logger() *slog.Logger {
	if os.Getenv("VNUM_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

// Vnumd is one in-process vnumd.
type Vnumd struct {
	D      *daemon.Daemon
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs a vnumd (node "node-1", caller numbers kept as their last 4
// digits, fallback busy) on drv and waits until connected() says the
// event link is up.
func Start(t testing.TB, drv callflow.Driver, connected func() bool, r *redistest.Server) *Vnumd {
	t.Helper()
	d, err := daemon.New(daemon.Config{Node: "node-1", Region: "FR", Fallback: callflow.Fallback{Action: routing.ActionReject},
		Redis: r.Client(), Driver: drv, Privacy: routing.Privacy{Caller: routing.StoreLast4}, Logger: Logger(),
		ConfirmTimeout: time.Second, WebhookReload: 100 * time.Millisecond, SweepEvery: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &Vnumd{D: d, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(v.done)
		_ = d.Run(ctx)
	}()
	<-d.Ready()
	deadline := time.Now().Add(5 * time.Second)
	for !drv.Connected() || (connected != nil && !connected()) {
		if time.Now().After(deadline) {
			v.Stop()
			t.Fatal("vnumd did not connect to the emulator")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return v
}

// Stop stops the daemon without touching its calls (they stay up on the
// PBX, as after a crash).
func (v *Vnumd) Stop() {
	v.cancel()
	<-v.done
}

// Env builds the scenario suite's environment around a PBX emulator:
// start starts a vnumd on it (called again on Restart); stop is called at
// cleanup after vnumd stopped.
func Env(t *testing.T, pbx scenariotest.PBX, r *redistest.Server, start func() *Vnumd) *scenariotest.Env {
	t.Helper()
	var mu sync.Mutex
	cur := start()
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		cur.Stop()
	})
	store := redisstore.New(r.Client(), redisstore.Options{})
	return &scenariotest.Env{
		PBX:   pbx,
		Redis: r,
		Store: store,
		// As vnumctl calls hangup does: through the store to the node that
		// owns the call.
		HangupCall: func(id string) error {
			_, err := store.RequestHangup(context.Background(), id)
			return err
		},
		Drain: func() {
			mu.Lock()
			defer mu.Unlock()
			cur.D.Drain()
		},
		Restart: func() {
			mu.Lock()
			defer mu.Unlock()
			cur.Stop()
			cur = start()
		},
	}
}

// Caller is what the call-cycle benchmark needs of a caller.
type Caller interface {
	Connected() bool // bridged to the target
	Hangup()
	Done() <-chan struct{}
}

// CallCycles runs b.N complete call cycles through d, inFlight at a time:
// place makes a call arrive; the cycle waits until it is bridged, hangs
// the caller up, and waits for the call's end; at the end every call must
// be finished by vnumd (CDR written). It reports calls/s.
func CallCycles(b *testing.B, d *daemon.Daemon, inFlight int, place func() (Caller, error)) {
	b.Helper()
	var next, failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				c, err := place()
				if err != nil {
					failed.Add(1)
					continue
				}
				deadline := time.Now().Add(5 * time.Second)
				for !c.Connected() && time.Now().Before(deadline) {
					time.Sleep(200 * time.Microsecond)
				}
				if !c.Connected() {
					failed.Add(1)
				}
				c.Hangup()
				<-c.Done()
			}
		}()
	}
	wg.Wait()
	for d.Engine().Active() != 0 {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d calls were not bridged", f, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
}
