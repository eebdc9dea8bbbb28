package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// Paris (area 1), Lyon (area 4), a French mobile, San Francisco (415).
var (
	paris = []string{"+33187650001", "+33187650002", "+33187650003"}
	lyon  = []string{"+33478650001"}
	frMob = []string{"+33612340001"}
	sf    = []string{"+14155550101", "+14155550102"}
)

func concat(ls ...[]string) []string { return slices.Concat(ls...) }

// dump reads every key with its content, so a test can tell that an
// operation wrote nothing.
func dump(t *testing.T, rdb redis.UniversalClient) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		v, err := rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

func TestPoolAddListShow(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{})
	added, already, err := s.AddToPool(ctx, "eu", concat(paris, lyon, frMob), 0)
	if err != nil || added != 5 || already != 0 {
		t.Fatalf("add: %d added, %d already, %v", added, already, err)
	}
	// Adding again is harmless: counted as already there.
	if added, already, err = s.AddToPool(ctx, "eu", concat(paris[:1], []string{"+33187650009"}), 0); err != nil || added != 1 || already != 1 {
		t.Fatalf("add again: %d added, %d already, %v", added, already, err)
	}
	if _, _, err := s.AddToPool(ctx, "us", sf, 48*time.Hour); err != nil {
		t.Fatal(err)
	}
	pools, err := s.ListPools(ctx)
	if err != nil || len(pools) != 2 {
		t.Fatalf("list: %+v %v", pools, err)
	}
	if pools[0].Name != "eu" || pools[0].Free != 6 || pools[0].CoolOff != routing.DefaultCoolOff ||
		pools[1].Name != "us" || pools[1].Free != 2 || pools[1].CoolOff != 48*time.Hour {
		t.Fatalf("list: %+v", pools)
	}
	if _, err := s.Allocate(ctx, "eu", "FR", "4"); err != nil {
		t.Fatal(err)
	}
	p, err := s.GetPool(ctx, "eu")
	if err != nil {
		t.Fatal(err)
	}
	if p.Free != 5 || p.Allocated != 1 || p.Quarantined != 0 || len(p.Members) != 6 {
		t.Fatalf("show: %+v", p)
	}
	byDID := map[string]redisstore.PoolMember{}
	for _, m := range p.Members {
		byDID[m.DID] = m
	}
	if m := byDID[lyon[0]]; m.State != "allocated" || m.Country != "FR" || m.Area != "4" {
		t.Fatalf("lyon member: %+v", m)
	}
	if m := byDID[paris[1]]; m.State != "free" || m.Country != "FR" || m.Area != "1" {
		t.Fatalf("paris member: %+v", m)
	}
	if m := byDID[frMob[0]]; m.State != "free" || m.Area != "" {
		t.Fatalf("mobile member: %+v", m)
	}
	if _, err := s.GetPool(ctx, "nope"); !errors.Is(err, redisstore.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown pool: %v", err)
	}
}

// A DID in another pool, one provisioned as a number, a bad DID or pool
// name: one error naming it, nothing written.
func TestPoolAddRefusesAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{})
	if _, _, err := s.AddToPool(ctx, "eu", paris, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNumber(ctx, number()); err != nil { // did is provisioned, in no pool
		t.Fatal(err)
	}
	before := dump(t, srv.Client())
	for _, c := range []struct {
		pool  string
		dids  []string
		name  string
		is    error
		extra string
	}{
		{"us", concat(sf, paris[1:2]), paris[1], redisstore.ErrExists, "pool eu"},
		{"eu", concat(lyon, []string{did}), did, redisstore.ErrExists, "provisioned"},
		{"eu", concat(lyon, []string{"12ab"}), "12ab", routing.ErrBadNumber, ""},
		{"eu", []string{"0187650001"}, "0187650001", routing.ErrBadNumber, ""}, // national format: not E.164
		{"e{u}", lyon, "e{u}", routing.ErrBadPoolName, ""},
	} {
		_, _, err := s.AddToPool(ctx, c.pool, c.dids, 0)
		if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.name) || !strings.Contains(err.Error(), c.extra) {
			t.Errorf("add %s %v: %v, want %v naming %s", c.pool, c.dids, err, c.is, c.name)
		}
	}
	if after := dump(t, srv.Client()); !mapsEqual(before, after) {
		t.Fatalf("refused adds wrote: before %d keys, after %d", len(before), len(after))
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestAllocateFilters(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{})
	if _, _, err := s.AddToPool(ctx, "mix", concat(paris, lyon, frMob, sf), 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Allocate(ctx, "mix", "fr", "4")
	if err != nil || got != lyon[0] {
		t.Fatalf("FR area 4: %q %v", got, err)
	}
	if _, err := s.Allocate(ctx, "mix", "FR", "4"); !errors.Is(err, redisstore.ErrPoolEmpty) || !strings.Contains(err.Error(), "mix") {
		t.Fatalf("FR area 4 again: %v, want ErrPoolEmpty naming the pool", err)
	}
	for range sf {
		d, err := s.Allocate(ctx, "mix", "US", "")
		if err != nil || !slices.Contains(sf, d) {
			t.Fatalf("US: %q %v", d, err)
		}
	}
	if _, err := s.Allocate(ctx, "mix", "US", "415"); !errors.Is(err, redisstore.ErrPoolEmpty) {
		t.Fatalf("US after all taken: %v", err)
	}
	// Any: the 4 French numbers left.
	seen := map[string]bool{}
	for range 4 {
		d, err := s.Allocate(ctx, "mix", "", "")
		if err != nil || routing.CountryOf(d) != "FR" || seen[d] {
			t.Fatalf("any: %q %v", d, err)
		}
		seen[d] = true
	}
	if _, err := s.Allocate(ctx, "mix", "", ""); !errors.Is(err, redisstore.ErrPoolEmpty) || !strings.Contains(err.Error(), "pool mix") {
		t.Fatalf("empty pool: %v", err)
	}
	if _, err := s.Allocate(ctx, "nope", "", ""); !errors.Is(err, redisstore.ErrNotFound) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown pool: %v", err)
	}
	for _, bad := range [][2]string{{"France", ""}, {"", "1"}, {"FR", "1*"}} {
		if _, err := s.Allocate(ctx, "mix", bad[0], bad[1]); err == nil {
			t.Fatalf("allocate %q %q: no error", bad[0], bad[1])
		}
	}
	// Giving a number back makes it free again; twice is an error.
	d := frMob[0]
	if !seen[d] {
		t.Fatalf("mobile not handed out: %v", seen)
	}
	if err := s.Unallocate(ctx, "mix", d); err != nil {
		t.Fatal(err)
	}
	if err := s.Unallocate(ctx, "mix", d); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("second give back: %v", err)
	}
	if got, err := s.Allocate(ctx, "mix", "FR", ""); err != nil || got != d {
		t.Fatalf("after give back: %q %v", got, err)
	}
}

// 8 allocators on 2 clients drain one pool: every DID handed out once.
func TestConcurrentAllocation(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	a := redisstore.New(srv.Client(), redisstore.Options{})
	b := redisstore.New(srv.Client(), redisstore.Options{})
	const size = 400
	dids := make([]string, size)
	for i := range dids {
		dids[i] = fmt.Sprintf("+331876%05d", i)
	}
	if _, _, err := a.AddToPool(ctx, "big", dids, 0); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		s := a
		if i%2 == 1 {
			s = b
		}
		wg.Go(func() {
			for range size + 1 { // bounded: a broken allocator must not hang the test
				d, err := s.Allocate(ctx, "big", "FR", "1")
				if errors.Is(err, redisstore.ErrPoolEmpty) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				got = append(got, d)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slices.Sort(got)
	if len(got) != size || len(slices.Compact(slices.Clone(got))) != size {
		t.Fatalf("%d allocations, %d distinct, want %d", len(got), len(slices.Compact(got)), size)
	}
	p, err := a.GetPool(ctx, "big")
	if err != nil || p.Free != 0 || p.Allocated != size {
		t.Fatalf("after draining: %+v %v", p.Pool, err)
	}
}

// On a 3-master Cluster every pool script stays on its pool's slot, and a
// release touches the number's slot, the pool's and the CDR stream's.
func TestPoolsOnRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	s := redisstore.New(rdb, redisstore.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	for i, p := range []string{"a", "b", "c", "d"} {
		if _, _, err := s.AddToPool(ctx, p, []string{fmt.Sprintf("+3318765000%d", i)}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.AddToPool(ctx, "d", []string{"+33187650000"}, 0); !errors.Is(err, redisstore.ErrExists) {
		t.Fatalf("DID of pool a added to d: %v", err)
	}
	pools, err := s.ListPools(ctx)
	if err != nil || len(pools) != 4 {
		t.Fatalf("pools over the cluster: %+v %v", pools, err)
	}
	d, err := s.Allocate(ctx, "c", "FR", "1")
	if err != nil || d != "+33187650002" {
		t.Fatalf("allocate: %q %v", d, err)
	}
	n := number(func(n *routing.Number) { n.DID = d; n.Labels = map[string]string{routing.LabelPool: "c"} })
	if err := s.AddNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteCDR(ctx, routing.CDR{CallID: "x1", DID: d, Started: now, Ended: now}); err != nil {
		t.Fatal(err)
	}
	r, err := s.ReleaseNumber(ctx, d)
	if err != nil || r.Purged.CDRs != 1 || !r.Purged.Number || !r.FreeAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("release: %+v %v", r, err)
	}
	sw, err := s.Sweep(ctx, now.Add(time.Hour))
	if err != nil || len(sw.Freed) != 1 || sw.Freed[0] != d {
		t.Fatalf("sweep: %+v %v", sw, err)
	}
}
