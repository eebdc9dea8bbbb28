package esl_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/vnum/vnum/esl"
	"github.com/vnum/vnum/esl/esltest"
	"github.com/vnum/vnum/internal/daemon"
	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/internal/vnumdtest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

const benchDID = "+33187654321"

// benchWorld is vnumd + the FreeSWITCH emulator + a real Redis with one
// forwarding number whose target answers at once.
func benchWorld(b *testing.B) (*esltest.Server, *daemon.Daemon, func()) {
	b.Helper()
	r := redistest.Start(b)
	srv, err := esltest.New(esltest.Options{Password: password})
	if err != nil {
		b.Fatal(err)
	}
	store := redisstore.New(r.Client(), redisstore.Options{})
	if err := store.AddNumber(context.Background(), routing.Number{DID: benchDID,
		Route: routing.Route{Targets: []routing.Target{{E164: "+33612345678"}}}}); err != nil {
		b.Fatal(err)
	}
	drv, err := esl.New(esl.Options{Addr: srv.Addr(), Password: password, Trunk: trunk})
	if err != nil {
		b.Fatal(err)
	}
	v := vnumdtest.Start(b, drv, nil, r)
	return srv, v.D, func() { v.Stop(); srv.Close() }
}

// BenchmarkCallSetup reports complete call cycles per second (a call
// arrives parked, is decided, rings the target, is answered and bridged,
// then the caller hangs up and everything is torn down, CDR written)
// through vnumd + the ESL driver + the FreeSWITCH emulator + a real
// redis-server, with 64 calls in flight.
func BenchmarkCallSetup(b *testing.B) {
	srv, d, stop := benchWorld(b)
	defer stop()
	vnumdtest.CallCycles(b, d, 64, func() (vnumdtest.Caller, error) {
		c, err := srv.Inbound(esltest.InboundCall{DID: benchDID, CallerNumber: "+447700900123", CallerName: "Bench"})
		return eslCaller{c}, err
	})
}

type eslCaller struct{ c *esltest.Call }

func (e eslCaller) Connected() bool       { return e.c.State().BridgedTo != "" }
func (e eslCaller) Hangup()               { _ = e.c.Hangup("") }
func (e eslCaller) Done() <-chan struct{} { return e.c.HungUp() }

// BenchmarkLiveCalls reports the heap per live bridged call with 10,000
// calls up at once. Everything in the process is counted — vnumd (engine,
// driver, ESL client), the emulator's channels and the go-redis client —
// except the emulator's command log, discarded before the measurement:
// an upper bound for vnumd alone.
func BenchmarkLiveCalls(b *testing.B) {
	const n = 10_000
	for i := 0; i < b.N; i++ {
		func() {
			srv, d, stop := benchWorld(b)
			defer stop()
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			calls := make([]*esltest.Call, 0, n)
			for j := 0; j < n; j++ {
				c, err := srv.Inbound(esltest.InboundCall{DID: benchDID, CallerNumber: fmt.Sprintf("+4477009%05d", j)})
				if err != nil {
					b.Fatal(err)
				}
				calls = append(calls, c)
				if j%200 == 199 {
					for c.State().BridgedTo == "" {
						time.Sleep(time.Millisecond)
					}
				}
			}
			deadline := time.Now().Add(2 * time.Minute)
			for _, c := range calls {
				for c.State().BridgedTo == "" {
					if time.Now().After(deadline) {
						b.Fatalf("only some of %d calls were bridged", n)
					}
					time.Sleep(time.Millisecond)
				}
			}
			for d.Engine().Active() != n {
				time.Sleep(time.Millisecond)
			}
			srv.DiscardCommandLog()
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "B/call")
			b.ReportMetric(float64(runtime.NumGoroutine())/n, "goroutines/call")
			for _, c := range calls {
				_ = c.Hangup("")
			}
			for d.Engine().Active() != 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
}
