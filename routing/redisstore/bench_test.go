package redisstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

const (
	benchNumbers = 100_000
	benchBlocks  = 10_000
)

func benchDID(i int) string { return fmt.Sprintf("+3318%07d", i) }

// loadBench provisions 100,000 numbers (each with a concurrency cap, so a
// decision takes a slot) and 10,000 block entries, half global, half on
// numbers.
func loadBench(b *testing.B, opts redisstore.Options) *redisstore.Store {
	b.Helper()
	ctx := context.Background()
	opts.Lease = time.Minute
	s, _ := newStore(b, opts)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < benchNumbers; i += 16 {
				n := routing.Number{DID: benchDID(i), Owner: "bench",
					Route:  routing.Route{Targets: []routing.Target{{E164: mobile}, {SIPURI: "sip:app@example.com"}}, CallerID: routing.PresentDID},
					Limits: routing.Limits{MaxConcurrent: 1_000_000, AllowCountries: []string{"FR"}, DailyMinutes: 1_000_000}}
				if err := s.AddNumber(ctx, n); err != nil {
					errs <- err
					return
				}
				if i < benchBlocks/2 {
					p := routing.Pattern(fmt.Sprintf("+4477009%05d", i))
					if err := s.AddEntry(ctx, redisstore.Blocklist, benchDID(i), routing.Entry{Pattern: p, Reason: "bench"}); err != nil {
						errs <- err
						return
					}
					if err := s.AddEntry(ctx, redisstore.Blocklist, "", routing.Entry{Pattern: routing.Pattern(fmt.Sprintf("+1555%06d*", i))}); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return s
}

// BenchmarkDecide is one full decision for a forwarded call (number read,
// both blocklists checked for every prefix of the caller, limits checked,
// a slot taken), to compare with BenchmarkRedisPing in the same run. It is
// vnumd's steady state: each number's decoded spec is cached (checked by
// version on every decision), as after one call to it.
func BenchmarkDecide(b *testing.B) { benchDecideOn(b, loadBench(b, redisstore.Options{}), true) }

// BenchmarkDecideUncached is the same with no spec cache: every decision
// transfers and decodes the number's spec (a number's first call).
func BenchmarkDecideUncached(b *testing.B) {
	benchDecideOn(b, loadBench(b, redisstore.Options{SpecCache: -1}), false)
}

func benchDecideOn(b *testing.B, s *redisstore.Store, warm bool) {
	ctx := context.Background()
	if err := s.Preload(ctx); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	if warm {
		for i := range benchNumbers {
			if _, err := s.Simulate(ctx, routing.Call{DID: benchDID(i), Caller: "+447711122233", At: now}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d, err := s.Decide(ctx, routing.Call{ID: fmt.Sprint("b", i), DID: benchDID(i % benchNumbers), Caller: "+447711122233", At: now})
		if err != nil || d.Action != routing.ActionForward || !d.SlotHeld {
			b.Fatalf("decision %+v, %v", d, err)
		}
	}
}

// BenchmarkRedisPing is one PING on the same client: the floor of one
// round trip.
func BenchmarkRedisPing(b *testing.B) {
	s, _ := newStore(b, redisstore.Options{})
	ctx := context.Background()
	rdb := s.Client()
	b.ReportAllocs()
	for b.Loop() {
		if err := rdb.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
	}
}
