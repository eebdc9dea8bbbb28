package ari_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/vnum/vnum/ari/aritest"
	"github.com/vnum/vnum/internal/daemon"
	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/internal/vnumdtest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

const benchDID = "+33187654321"

// benchWorld is vnumd + emulator + real Redis with one forwarding number.
func benchWorld(b *testing.B, maxConcurrent int) (*aritest.Server, *daemon.Daemon, func()) {
	b.Helper()
	r := redistest.Start(b)
	srv, err := aritest.New(aritest.Options{User: "vnum", Password: "s3cret-ari", App: "vnum", DisableRequestLog: true})
	if err != nil {
		b.Fatal(err)
	}
	srv.SetDefaultDestination(aritest.Behavior{}) // answers at once
	store := redisstore.New(r.Client(), redisstore.Options{})
	if err := store.AddNumber(context.Background(), routing.Number{DID: benchDID,
		Route:  routing.Route{Targets: []routing.Target{{E164: "+33612345678"}}},
		Limits: routing.Limits{MaxConcurrent: maxConcurrent}}); err != nil {
		b.Fatal(err)
	}
	v := startVnumd(b, srv, r)
	return srv, v.D, func() { v.Stop(); srv.Close() }
}

// BenchmarkCallSetup reports complete call cycles per second (a call
// arrives, is decided, rings the target, is answered and bridged, then the
// caller hangs up and everything is torn down, CDR written) through vnumd
// + the ARI emulator + a real redis-server, with 64 calls in flight.
func BenchmarkCallSetup(b *testing.B) {
	srv, d, stop := benchWorld(b, 0)
	defer stop()
	vnumdtest.CallCycles(b, d, 64, func() (vnumdtest.Caller, error) {
		c, err := srv.Inbound(aritest.InboundCall{DID: benchDID, CallerNumber: "+447700900123", CallerName: "Bench"})
		return ariCaller{c}, err
	})
}

type ariCaller struct{ c *aritest.Call }

func (a ariCaller) Connected() bool       { return a.c.Answered() }
func (a ariCaller) Hangup()               { a.c.Hangup() }
func (a ariCaller) Done() <-chan struct{} { return a.c.Done() }

// BenchmarkLiveCalls reports the heap per live bridged call with 10,000
// calls up at once (vnumd, emulator and client side all counted: an upper
// bound for vnumd alone).
func BenchmarkLiveCalls(b *testing.B) {
	const n = 10_000
	for i := 0; i < b.N; i++ {
		func() {
			srv, d, stop := benchWorld(b, 0)
			defer stop()
			runtime.GC()
			var before runtime.MemStats
			runtime.ReadMemStats(&before)
			calls := make([]*aritest.Call, 0, n)
			for j := 0; j < n; j++ {
				c, err := srv.Inbound(aritest.InboundCall{DID: benchDID, CallerNumber: fmt.Sprintf("+4477009%05d", j)})
				if err != nil {
					b.Fatal(err)
				}
				calls = append(calls, c)
				if j%200 == 199 {
					for !c.Answered() {
						time.Sleep(time.Millisecond)
					}
				}
			}
			deadline := time.Now().Add(2 * time.Minute)
			for _, c := range calls {
				for !c.Answered() {
					if time.Now().After(deadline) {
						b.Fatalf("only some of %d calls were bridged", n)
					}
					time.Sleep(time.Millisecond)
				}
			}
			for d.Engine().Active() != n {
				time.Sleep(time.Millisecond)
			}
			runtime.GC()
			var after runtime.MemStats
			runtime.ReadMemStats(&after)
			perCall := float64(after.HeapAlloc-before.HeapAlloc) / n
			goroutines := runtime.NumGoroutine()
			b.ReportMetric(perCall, "B/call")
			b.ReportMetric(float64(goroutines)/n, "goroutines/call")
			for _, c := range calls {
				c.Hangup()
			}
			for d.Engine().Active() != 0 {
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
}
