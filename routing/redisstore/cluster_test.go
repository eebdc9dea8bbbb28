package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// On a real 3-master Redis Cluster: every script stays within one slot
// (the number's hash tag), the global blocklist on its own slot is read in
// parallel, slots and lists work, and listing scans every master.
func TestOnRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	s := redisstore.New(rdb, redisstore.Options{})
	ctx := context.Background()
	// Numbers spread over the masters.
	for i := range 20 {
		n := routing.Number{DID: fmt.Sprintf("+331876543%02d", i), Route: routing.Route{Targets: []routing.Target{{E164: mobile}}},
			Limits: routing.Limits{MaxConcurrent: 1}}
		if err := s.AddNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.ListNumbers(ctx)
	if err != nil || len(list) != 20 {
		t.Fatalf("list over the cluster: %d numbers, %v", len(list), err)
	}
	did := "+33187654307"
	if err := s.AddEntry(ctx, redisstore.Blocklist, did, routing.Entry{Pattern: "+4477*"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEntry(ctx, redisstore.Blocklist, "", routing.Entry{Pattern: "+1415*"}); err != nil {
		t.Fatal(err)
	}
	check := func(id, from string, want routing.Reason, slot bool) {
		t.Helper()
		d, err := s.Decide(ctx, routing.Call{ID: id, DID: did, Caller: from, At: time.Now()})
		if err != nil || d.Reason != want || d.SlotHeld != slot {
			t.Fatalf("%s from %s: %+v, %v; want %s (slot %v)", id, from, d, err, want, slot)
		}
	}
	check("c1", caller, routing.ReasonBlockedNumber, false)
	check("c2", "+14155550100", routing.ReasonBlockedGlobal, false)
	check("c3", "+33699999999", routing.ReasonForward, true)
	check("c4", "+33699999998", routing.ReasonConcurrency, false) // cap 1 held by c3
	if err := s.Release(ctx, did, "c3"); err != nil {
		t.Fatal(err)
	}
	check("c5", "+33699999998", routing.ReasonForward, true)
	// A globally blocked caller must not keep a slot taken in parallel.
	_ = s.Release(ctx, did, "c5")
	check("c6", "+14155550101", routing.ReasonBlockedGlobal, false)
	check("c7", "+33699999997", routing.ReasonForward, true)
	if err := s.PutCall(ctx, routing.LiveCall{ID: "c7", DID: did, Node: "n1", Started: time.Now(), Slot: true}); err != nil {
		t.Fatal(err)
	}
	if calls, err := s.ListCalls(ctx); err != nil || len(calls) != 1 {
		t.Fatalf("calls over the cluster: %+v, %v", calls, err)
	}
}
