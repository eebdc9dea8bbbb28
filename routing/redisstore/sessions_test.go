package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

const (
	sessA = "+33612345601"
	sessB = "+447700900602"
	sessC = "+14155550603"
	sessD = "+33612345604"
	sessE = "+33612345605"
)

// sessClock is a settable time for Options.Now.
type sessClock struct{ ns atomic.Int64 }

func newSessClock() *sessClock           { c := &sessClock{}; c.ns.Store(time.Now().UnixNano()); return c }
func (c *sessClock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *sessClock) add(d time.Duration) { c.ns.Add(int64(d)) }

// sessionStore is a store with a pool "px" of the given DIDs.
func sessionStore(t *testing.T, dids ...string) (*redisstore.Store, *redistest.Server, *sessClock) {
	t.Helper()
	clk := newSessClock()
	s, srv := newStore(t, redisstore.Options{Now: clk.now})
	if _, _, err := s.AddToPool(context.Background(), "px", dids, time.Hour); err != nil {
		t.Fatal(err)
	}
	return s, srv, clk
}

func create(t *testing.T, s *redisstore.Store, spec routing.SessionSpec) routing.Session {
	t.Helper()
	if spec.Pool == "" {
		spec.Pool = "px"
	}
	sess, err := s.CreateSession(context.Background(), spec)
	if err != nil {
		t.Fatalf("create %+v: %v", spec, err)
	}
	return sess
}

func decideAt(t *testing.T, s *redisstore.Store, proxy, from string, at time.Time) routing.Decision {
	t.Helper()
	d, err := s.Decide(context.Background(), routing.Call{ID: "c-" + from, DID: proxy, Caller: from, At: at, Trace: true})
	if err != nil {
		t.Fatalf("decide %s -> %s: %v", from, proxy, err)
	}
	return d
}

// reaches checks that from, calling proxy, is connected to exactly want,
// shown the proxy number, within session id.
func reaches(t *testing.T, s *redisstore.Store, clk *sessClock, proxy, from, id string, want ...string) routing.Decision {
	t.Helper()
	d := decideAt(t, s, proxy, from, clk.now())
	var got []string
	for _, tg := range d.Targets {
		got = append(got, tg.E164)
	}
	if d.Action != routing.ActionForward || d.Session != id || !slices.Equal(got, want) ||
		d.CallerID != (routing.CallerID{Number: proxy, Name: proxy}) {
		t.Fatalf("%s calling %s: %s/%s %v caller ID %+v session %q (%s); want forward to %v as %s in %s",
			from, proxy, d.Action, d.Reason, got, d.CallerID, d.Session, d.Detail, want, proxy, id)
	}
	return d
}

func refused(t *testing.T, s *redisstore.Store, proxy, from string, at time.Time) {
	t.Helper()
	d := decideAt(t, s, proxy, from, at)
	if d.Action == routing.ActionForward || d.Reject != routing.RejectNotInService || len(d.Targets) != 0 {
		t.Fatalf("%s calling %s: %+v; want not-in-service", from, proxy, d)
	}
}

func poolState(t *testing.T, s *redisstore.Store, did string) string {
	t.Helper()
	p, err := s.GetPool(context.Background(), "px")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range p.Members {
		if m.DID == did {
			return m.State
		}
	}
	return "absent"
}

func TestSessionTwoAndThreeParties(t *testing.T) {
	ctx := context.Background()
	s, _, clk := sessionStore(t, "+33187650101")
	two := create(t, s, routing.SessionSpec{Participants: []string{sessA, sessB}, TTL: time.Hour})
	if two.Proxy != "+33187650101" || len(two.ID) != 12 || !two.ExpiresAt.Equal(two.Created.Add(time.Hour)) {
		t.Fatalf("session %+v", two)
	}
	n, err := s.GetNumber(ctx, two.Proxy)
	if err != nil || n.Labels[routing.LabelProxy] != "1" || n.Labels[routing.LabelPool] != "px" || len(n.Route.Targets) != 0 {
		t.Fatalf("proxy number %+v, %v", n, err)
	}
	if poolState(t, s, two.Proxy) != "allocated" {
		t.Fatalf("proxy number is %s in its pool", poolState(t, s, two.Proxy))
	}
	d := reaches(t, s, clk, two.Proxy, sessA, two.ID, sessB)
	if d.Conference || d.Confirm || d.Reason != routing.ReasonSession {
		t.Fatalf("two parties: %+v", d)
	}
	reaches(t, s, clk, two.Proxy, sessB, two.ID, sessA)
	refused(t, s, two.Proxy, sessC, clk.now())
	refused(t, s, two.Proxy, routing.Anonymous, clk.now())
	if d := decideAt(t, s, two.Proxy, sessC, clk.now()); d.Reason != routing.ReasonNotParticipant ||
		!strings.Contains(d.Detail, "not a participant of any open session") {
		t.Fatalf("non-participant: %+v", d)
	}

	// Three parties (disjoint from the first pair): the same proxy number,
	// a conference room, confirm carried.
	three := create(t, s, routing.SessionSpec{Participants: []string{sessC, sessD, sessE}, TTL: time.Hour, Confirm: true})
	if three.Proxy != two.Proxy {
		t.Fatalf("three-party session on %s, want the proxy number in use %s", three.Proxy, two.Proxy)
	}
	for _, c := range []struct {
		from string
		want []string
	}{{sessC, []string{sessD, sessE}}, {sessD, []string{sessC, sessE}}, {sessE, []string{sessC, sessD}}} {
		d := reaches(t, s, clk, three.Proxy, c.from, three.ID, c.want...)
		if !d.Conference || !d.Confirm || d.Strategy != routing.Simultaneous {
			t.Fatalf("three parties from %s: %+v", c.from, d)
		}
	}
	// The pair's calls are unchanged.
	reaches(t, s, clk, two.Proxy, sessA, two.ID, sessB)

	got, err := s.GetSession(ctx, three.ID)
	if err != nil || got.Proxy != three.Proxy || !slices.Equal(got.Participants, three.Participants) || !got.Confirm ||
		!got.ExpiresAt.Equal(three.ExpiresAt) || got.Pool != "px" {
		t.Fatalf("get: %+v, %v; want %+v", got, err, three)
	}
	list, err := s.ListSessions(ctx, "")
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if list, err = s.ListSessions(ctx, "px"); err != nil || len(list) != 2 {
		t.Fatalf("list px: %+v, %v", list, err)
	}
	if _, err := s.ListSessions(ctx, "nope"); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("list of no pool: %v", err)
	}
	if _, err := s.GetSession(ctx, "abcdefgh2345"); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("get of no session: %v", err)
	}
}

// A proxy number serves a disjoint pair, never an overlapping one.
func TestSessionProxyReuse(t *testing.T) {
	ctx := context.Background()
	s, _, clk := sessionStore(t, "+33187650201", "+33187650202")
	s1 := create(t, s, routing.SessionSpec{Participants: []string{sessA, sessB}})
	s2 := create(t, s, routing.SessionSpec{Participants: []string{sessC, sessD}})
	if s2.Proxy != s1.Proxy {
		t.Fatalf("disjoint pair on %s, want the proxy number in use %s", s2.Proxy, s1.Proxy)
	}
	s3 := create(t, s, routing.SessionSpec{Participants: []string{sessE, sessA}})
	if s3.Proxy == s1.Proxy {
		t.Fatalf("%s is in two sessions on %s", sessA, s1.Proxy)
	}
	// sessA calls each proxy number and reaches the right partner.
	reaches(t, s, clk, s1.Proxy, sessA, s1.ID, sessB)
	reaches(t, s, clk, s3.Proxy, sessA, s3.ID, sessE)
	// No number left for a pair overlapping both: one clear error.
	before := dump(t, s.Client())
	_, err := s.CreateSession(ctx, routing.SessionSpec{Pool: "px", Participants: []string{sessA, sessC}})
	if !errors.Is(err, redisstore.ErrPoolEmpty) || !strings.Contains(err.Error(), "px") || !strings.Contains(err.Error(), sessA) {
		t.Fatalf("overlapping everywhere: %v", err)
	}
	if after := dump(t, s.Client()); !maps2Equal(before, after) {
		t.Fatalf("a refused session wrote to the store")
	}
}

// Matching the first participant's country or area code.
func TestSessionMatch(t *testing.T) {
	s, _, _ := sessionStore(t, "+14155550301", "+33478650301", "+33187650301")
	ctx := context.Background()
	paris := create(t, s, routing.SessionSpec{Participants: []string{"+33187654399", sessB}, Match: routing.MatchArea})
	if paris.Proxy != "+33187650301" {
		t.Fatalf("area match: %s", paris.Proxy)
	}
	us := create(t, s, routing.SessionSpec{Participants: []string{sessC, sessA}, Match: routing.MatchCountry})
	if us.Proxy != "+14155550301" {
		t.Fatalf("country match: %s", us.Proxy)
	}
	// No other free US number and sessC is busy on the US one.
	_, err := s.CreateSession(ctx, routing.SessionSpec{Pool: "px", Participants: []string{sessC, sessD}, Match: routing.MatchCountry})
	if !errors.Is(err, redisstore.ErrPoolEmpty) || !strings.Contains(err.Error(), "in US") {
		t.Fatalf("no US number: %v", err)
	}
}

// A session past its end routes no call even before Sweep; Sweep closes
// it and hands the proxy number back to the pool.
func TestSessionExpiry(t *testing.T) {
	ctx := context.Background()
	s, srv, clk := sessionStore(t, "+33187650401")
	sess := create(t, s, routing.SessionSpec{Participants: []string{sessA, sessB}, TTL: time.Minute})
	for _, k := range []string{"vnum:{" + sess.Proxy + "}:sess", "vnum:session:{" + sess.ID + "}"} {
		if ttl := srv.Client().PTTL(ctx, k).Val(); ttl <= time.Minute || ttl > time.Minute+2*time.Hour {
			t.Fatalf("key %s TTL %s, want the session's TTL plus a margin", k, ttl)
		}
	}
	reaches(t, s, clk, sess.Proxy, sessA, sess.ID, sessB)
	refused(t, s, sess.Proxy, sessA, sess.ExpiresAt)
	// Not due yet: nothing to sweep.
	if sw, err := s.Sweep(ctx, clk.now()); err != nil || len(sw.Sessions.Closed) != 0 {
		t.Fatalf("early sweep: %+v, %v", sw, err)
	}
	clk.add(2 * time.Minute)
	refused(t, s, sess.Proxy, sessB, clk.now())
	sw, err := s.Sweep(ctx, clk.now())
	if err != nil || !slices.Equal(sw.Sessions.Closed, []string{sess.ID}) || !slices.Equal(sw.Sessions.Returned, []string{sess.Proxy}) {
		t.Fatalf("sweep: %+v, %v", sw, err)
	}
	if _, err := s.GetSession(ctx, sess.ID); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("swept session still readable: %v", err)
	}
	if st := poolState(t, s, sess.Proxy); st != "free" {
		t.Fatalf("proxy number %s after its last session ended, want free", st)
	}
	if d := decideAt(t, s, sess.Proxy, sessA, clk.now()); d.Action != routing.ActionUnknown {
		t.Fatalf("returned proxy number still routes: %+v", d)
	}
	// Nothing is left of the session but the pool's own keys.
	for _, k := range srv.Client().Keys(ctx, "*").Val() {
		if !strings.HasPrefix(k, "vnum:pool:{px}:") || strings.HasSuffix(k, ":sessions") || strings.HasSuffix(k, ":proxies") {
			t.Errorf("left behind: %s", k)
		}
	}
	// The pool hands it out again.
	if got, err := s.Allocate(ctx, "px", "", ""); err != nil || got != sess.Proxy {
		t.Fatalf("allocate after the hand-back: %s, %v", got, err)
	}
}

func TestCloseSession(t *testing.T) {
	ctx := context.Background()
	s, _, clk := sessionStore(t, "+33187650501")
	s1 := create(t, s, routing.SessionSpec{Participants: []string{sessA, sessB}})
	s2 := create(t, s, routing.SessionSpec{Participants: []string{sessC, sessD}})
	if err := s.CloseSession(ctx, s1.ID); err != nil {
		t.Fatal(err)
	}
	refused(t, s, s1.Proxy, sessA, clk.now())
	refused(t, s, s1.Proxy, sessB, clk.now())
	// The other session on the same number goes on; the number stays.
	reaches(t, s, clk, s2.Proxy, sessC, s2.ID, sessD)
	if st := poolState(t, s, s1.Proxy); st != "allocated" {
		t.Fatalf("proxy number %s while a session still uses it", st)
	}
	// Closed participants may open a new session on it again.
	s3 := create(t, s, routing.SessionSpec{Participants: []string{sessA, sessB}})
	if s3.Proxy != s1.Proxy {
		t.Fatalf("re-opened on %s", s3.Proxy)
	}
	reaches(t, s, clk, s3.Proxy, sessB, s3.ID, sessA)
	for _, id := range []string{s2.ID, s3.ID} {
		if err := s.CloseSession(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if st := poolState(t, s, s1.Proxy); st != "free" {
		t.Fatalf("proxy number %s after its last session closed", st)
	}
	if err := s.CloseSession(ctx, s1.ID); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("close twice: %v", err)
	}
	if list, err := s.ListSessions(ctx, "px"); err != nil || len(list) != 0 {
		t.Fatalf("after close: %+v, %v", list, err)
	}
}

// Bad specs and impossible requests are one error naming the value, and
// nothing is written.
func TestCreateSessionBadInputWritesNothing(t *testing.T) {
	ctx := context.Background()
	s, _, _ := sessionStore(t, "+33187650601")
	create(t, s, routing.SessionSpec{Participants: []string{sessA, sessB}})
	before := dump(t, s.Client())
	for _, c := range []struct {
		spec routing.SessionSpec
		want error
		name string
	}{
		{routing.SessionSpec{Pool: "nope", Participants: []string{sessC, sessD}}, redisstore.ErrNotFound, "nope"},
		{routing.SessionSpec{Pool: "bad pool", Participants: []string{sessC, sessD}}, routing.ErrBadPoolName, "bad pool"},
		{routing.SessionSpec{Pool: "px", Participants: []string{sessC, "12ab"}}, routing.ErrBadSession, "12ab"},
		{routing.SessionSpec{Pool: "px", Participants: []string{sessC}}, routing.ErrBadSession, "1 participant"},
		{routing.SessionSpec{Pool: "px", Participants: []string{sessC, sessC}}, routing.ErrBadSession, sessC},
		{routing.SessionSpec{Pool: "px", Participants: []string{sessC, sessD}, TTL: -time.Hour}, routing.ErrBadSession, "-1h"},
		{routing.SessionSpec{Pool: "px", Participants: []string{sessA, sessC}}, redisstore.ErrPoolEmpty, sessA},
	} {
		_, err := s.CreateSession(ctx, c.spec)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%+v: %v; want %v naming %q", c.spec, err, c.want, c.name)
		}
	}
	if after := dump(t, s.Client()); !maps2Equal(before, after) {
		t.Fatalf("bad input wrote to the store:\nbefore %v\nafter  %v", keysOf(before), keysOf(after))
	}
}

// Concurrent creators (two clients, as two vnumctl or vnumd processes)
// asking for the same participants never put one participant twice on
// one proxy number: each success has its own number, the rest find the
// pool empty.
func TestSessionConcurrentCreate(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	pool := []string{"+33187650701", "+33187650702", "+33187650703", "+33187650704"}
	stores := []*redisstore.Store{redisstore.New(srv.Client(), redisstore.Options{}), redisstore.New(srv.Client(), redisstore.Options{})}
	if _, _, err := stores[0].AddToPool(ctx, "px", pool, time.Hour); err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		proxies []string
		empty   int
		wg      sync.WaitGroup
	)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sess, err := stores[i%2].CreateSession(ctx, routing.SessionSpec{Pool: "px", Participants: []string{sessA, sessB}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				proxies = append(proxies, sess.Proxy)
			case errors.Is(err, redisstore.ErrPoolEmpty):
				empty++
			default:
				t.Errorf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	slices.Sort(proxies)
	if !slices.Equal(proxies, pool) || empty != 4 {
		t.Fatalf("sessions on %v, %d refused; want one on each of %v and 4 refused", proxies, empty, pool)
	}
	for _, p := range pool {
		m := srv.Client().HGetAll(ctx, "vnum:{"+p+"}:sess").Val()
		if len(m) != 2 {
			t.Fatalf("%s maps %v", p, m)
		}
	}
}

// The race the hand-back must win: the last session on a proxy number
// closes while a new session (other participants) is being created. The
// new session never lands on a number that was just given back: wherever
// it is, its participants reach each other, and a free number has no
// session on it.
func TestSessionCloseRacesCreate(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	pool := []string{"+33187650801", "+33187650802"}
	a := redisstore.New(srv.Client(), redisstore.Options{})
	b := redisstore.New(srv.Client(), redisstore.Options{})
	if _, _, err := a.AddToPool(ctx, "px", pool, time.Hour); err != nil {
		t.Fatal(err)
	}
	clk := &sessClock{}
	clk.ns.Store(time.Now().UnixNano())
	for i := range 40 {
		old, err := a.CreateSession(ctx, routing.SessionSpec{Pool: "px", Participants: []string{sessA, sessB}})
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg    sync.WaitGroup
			fresh routing.Session
			cerr  error
		)
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			// Vary which side goes first from round to round.
			time.Sleep(time.Duration(i%4) * 50 * time.Microsecond)
			if err := a.CloseSession(ctx, old.ID); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			fresh, cerr = b.CreateSession(ctx, routing.SessionSpec{Pool: "px", Participants: []string{sessC, sessD}})
		}()
		close(start)
		wg.Wait()
		if cerr != nil {
			t.Fatalf("round %d: create: %v", i, cerr)
		}
		clk.ns.Store(time.Now().UnixNano())
		reaches(t, a, clk, fresh.Proxy, sessC, fresh.ID, sessD)
		p, err := a.GetPool(ctx, "px")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range p.Members {
			sess := srv.Client().HLen(ctx, "vnum:{"+m.DID+"}:sess").Val()
			_, numErr := a.GetNumber(ctx, m.DID)
			switch {
			case m.DID == fresh.Proxy && (m.State != "allocated" || numErr != nil):
				t.Fatalf("round %d: the new session's number %s is %s (number: %v)", i, m.DID, m.State, numErr)
			case m.DID != fresh.Proxy && (m.State != "free" || sess != 0 || numErr == nil):
				t.Fatalf("round %d: idle number %s is %s with %d session entries (number: %v)", i, m.DID, m.State, sess, numErr)
			}
		}
		if err := a.CloseSession(ctx, fresh.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// A closer that died after marking the number closing leaves it to Sweep,
// which finishes the hand-back.
func TestSweepFinishesAnInterruptedHandBack(t *testing.T) {
	ctx := context.Background()
	s, srv, clk := sessionStore(t, "+33187650901")
	sess := create(t, s, routing.SessionSpec{Participants: []string{sessA, sessB}})
	// What detach does when the last session leaves, without the rest.
	rdb := srv.Client()
	rdb.HDel(ctx, "vnum:{"+sess.Proxy+"}:sess", sessA, sessB)
	rdb.HSet(ctx, "vnum:{"+sess.Proxy+"}:sess", "!closing", "deadbeef")
	rdb.Del(ctx, "vnum:session:{"+sess.ID+"}")
	// Meanwhile no new session may land on it.
	if _, _, err := s.AddToPool(ctx, "px", []string{"+33187650902"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if s2 := create(t, s, routing.SessionSpec{Participants: []string{sessC, sessD}}); s2.Proxy == sess.Proxy {
		t.Fatalf("a new session landed on %s while it was being handed back", s2.Proxy)
	}
	sw, err := s.Sweep(ctx, clk.now())
	if err != nil || !slices.Contains(sw.Sessions.Returned, sess.Proxy) {
		t.Fatalf("sweep: %+v, %v", sw, err)
	}
	if st := poolState(t, s, sess.Proxy); st != "free" {
		t.Fatalf("after the sweep the number is %s", st)
	}
}

// On a real 3-master Redis Cluster: the decision reads the caller's
// session in its one script (the proxy number's slot); creation, close
// and sweep cross slots correctly.
func TestSessionsOnRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	s := redisstore.New(rdb, redisstore.Options{})
	ctx := context.Background()
	var dids []string
	for i := range 6 {
		dids = append(dids, fmt.Sprintf("+3318765100%d", i))
	}
	if _, _, err := s.AddToPool(ctx, "px", dids, time.Hour); err != nil {
		t.Fatal(err)
	}
	clk := newSessClock()
	var sessions []routing.Session
	for _, pair := range [][]string{{sessA, sessB}, {sessA, sessC}, {sessA, sessD}, {sessB, sessC, sessD}} {
		sessions = append(sessions, create(t, s, routing.SessionSpec{Participants: pair}))
	}
	reaches(t, s, clk, sessions[0].Proxy, sessA, sessions[0].ID, sessB)
	reaches(t, s, clk, sessions[1].Proxy, sessC, sessions[1].ID, sessA)
	reaches(t, s, clk, sessions[3].Proxy, sessD, sessions[3].ID, sessB, sessC)
	refused(t, s, sessions[2].Proxy, sessE, clk.now())
	if list, err := s.ListSessions(ctx, ""); err != nil || len(list) != 4 {
		t.Fatalf("list: %d, %v", len(list), err)
	}
	if err := s.CloseSession(ctx, sessions[0].ID); err != nil {
		t.Fatal(err)
	}
	refused(t, s, sessions[0].Proxy, sessA, clk.now())
	sw, err := s.Sweep(ctx, clk.now().Add(48*time.Hour))
	if err != nil || len(sw.Sessions.Closed) != 3 {
		t.Fatalf("sweep: %+v, %v", sw, err)
	}
	p, err := s.GetPool(ctx, "px")
	if err != nil || p.Free != 6 || p.Allocated != 0 {
		t.Fatalf("after the sweep: %+v, %v", p.Pool, err)
	}
}

func maps2Equal(a, b map[string]string) bool {
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

func keysOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// A session whose record vanished (its TTL ran out while no sweep ran)
// still leaves nothing behind: the sweep drops its index entry and hands
// its proxy number back once its entries have ended.
func TestSweepAfterLostRecord(t *testing.T) {
	ctx := context.Background()
	s, srv, clk := sessionStore(t, "+33187651101")
	sess := create(t, s, routing.SessionSpec{Participants: []string{sessA, sessB}, TTL: time.Minute})
	srv.Client().Del(ctx, "vnum:session:{"+sess.ID+"}")
	clk.add(2 * time.Minute)
	sw, err := s.SweepSessions(ctx, clk.now())
	if err != nil || len(sw.Closed) != 0 || !slices.Equal(sw.Returned, []string{sess.Proxy}) {
		t.Fatalf("sweep: %+v, %v", sw, err)
	}
	if st := poolState(t, s, sess.Proxy); st != "free" {
		t.Fatalf("proxy number %s", st)
	}
	if n := srv.Client().Exists(ctx, "vnum:pool:{px}:sessions", "vnum:pool:{px}:proxies", "vnum:{"+sess.Proxy+"}:sess").Val(); n != 0 {
		t.Fatalf("%d session keys left", n)
	}
}

// A proxy number whose number record is gone (removed by hand, or a
// hand-back half done) is never given a session: a new one goes to
// another number.
func TestSessionSkipsUnprovisionedProxy(t *testing.T) {
	ctx := context.Background()
	s, srv, clk := sessionStore(t, "+33187651201", "+33187651202")
	first := create(t, s, routing.SessionSpec{Participants: []string{sessA, sessB}})
	srv.Client().Del(ctx, "vnum:{"+first.Proxy+"}:num")
	next := create(t, s, routing.SessionSpec{Participants: []string{sessC, sessD}})
	if next.Proxy == first.Proxy {
		t.Fatalf("a session landed on %s, which is no longer provisioned", first.Proxy)
	}
	reaches(t, s, clk, next.Proxy, sessD, next.ID, sessC)
}

// BenchmarkDecideSession is one decision for a participant calling a
// proxy number that serves 1,000 sessions.
func BenchmarkDecideSession(b *testing.B) {
	ctx := context.Background()
	s, _ := newStore(b, redisstore.Options{})
	if _, _, err := s.AddToPool(ctx, "px", []string{"+33187651301"}, time.Hour); err != nil {
		b.Fatal(err)
	}
	var last routing.Session
	for i := range 1000 {
		var err error
		last, err = s.CreateSession(ctx, routing.SessionSpec{Pool: "px", Participants: []string{fmt.Sprintf("+336123%05d", 2*i), fmt.Sprintf("+336123%05d", 2*i+1)}})
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := s.Preload(ctx); err != nil {
		b.Fatal(err)
	}
	from := last.Participants[0]
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		d, err := s.Decide(ctx, routing.Call{ID: fmt.Sprint("b", i), DID: last.Proxy, Caller: from, At: time.Now()})
		if err != nil || d.Action != routing.ActionForward || d.Session != last.ID {
			b.Fatalf("decision %+v, %v", d, err)
		}
	}
}
