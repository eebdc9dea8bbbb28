package esl_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
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
	const inFlight = 64
	var next, failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < inFlight; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				c, err := srv.Inbound(esltest.InboundCall{DID: benchDID, CallerNumber: "+447700900123", CallerName: "Bench"})
				if err != nil {
					failed.Add(1)
					continue
				}
				deadline := time.Now().Add(5 * time.Second)
				for c.State().BridgedTo == "" && time.Now().Before(deadline) {
					time.Sleep(200 * time.Microsecond)
				}
				if c.State().BridgedTo == "" {
					failed.Add(1)
				}
				_ = c.Hangup("")
				<-c.HungUp()
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
