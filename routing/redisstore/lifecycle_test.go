package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/internal/webhook"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// clock is a settable fake clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// provision allocates a number from pool and provisions it like an
// operator would, with a route and a pool label.
func provision(t *testing.T, s *redisstore.Store, pool, country, area string, mods ...func(*routing.Number)) routing.Number {
	t.Helper()
	ctx := context.Background()
	d, err := s.Allocate(ctx, pool, country, area)
	if err != nil {
		t.Fatal(err)
	}
	n := number(append([]func(*routing.Number){func(n *routing.Number) {
		n.DID = d
		n.Labels = map[string]string{routing.LabelPool: pool, "plan": "gold"}
	}}, mods...)...)
	if err := s.AddNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	n, err = s.GetNumber(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// active → expired → quarantined (cool-off) → free → allocated again.
func TestLifecycleExpireQuarantineFree(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	s, _ := newStore(t, redisstore.Options{Now: clk.Now})
	coolOff := 72 * time.Hour
	if _, _, err := s.AddToPool(ctx, "eu", paris[:1], coolOff); err != nil {
		t.Fatal(err)
	}
	exp := t0.Add(24 * time.Hour)
	n := provision(t, s, "eu", "FR", "", func(n *routing.Number) { n.ExpiresAt = &exp })
	callAt := func(at time.Time) routing.Decision {
		t.Helper()
		d, err := s.Simulate(ctx, routing.Call{ID: "c", DID: n.DID, Caller: caller, At: at})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := callAt(exp.Add(-time.Minute)); d.Action != routing.ActionForward {
		t.Fatalf("before expiry: %s (%s)", d.Action, d.Detail)
	}
	// A sweep before the expiry changes nothing.
	if sw, err := s.Sweep(ctx, exp.Add(-time.Millisecond)); err != nil || len(sw.Quarantined)+len(sw.Freed) != 0 {
		t.Fatalf("early sweep: %+v %v", sw, err)
	}
	if d := callAt(exp); d.Action != routing.ActionReject || d.Reject != routing.RejectNotInService {
		t.Fatalf("expired, not swept: %s %s (%s)", d.Action, d.Reject, d.Detail)
	}
	clk.Set(exp.Add(time.Minute))
	sw, err := s.Sweep(ctx, exp.Add(time.Minute))
	if err != nil || len(sw.Quarantined) != 1 || sw.Quarantined[0].DID != n.DID || !sw.Quarantined[0].FreeAt.Equal(exp.Add(time.Minute+coolOff)) {
		t.Fatalf("sweep at expiry: %+v %v", sw, err)
	}
	if _, err := s.GetNumber(ctx, n.DID); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("quarantined number still provisioned: %v", err)
	}
	if d := callAt(exp.Add(2 * time.Minute)); d.Reject != routing.RejectNotInService {
		t.Fatalf("quarantined: %s %s", d.Action, d.Reject)
	}
	p, err := s.GetPool(ctx, "eu")
	if err != nil || p.Quarantined != 1 || p.Free != 0 || p.Allocated != 0 || !p.Members[0].FreeAt.Equal(exp.Add(time.Minute+coolOff)) {
		t.Fatalf("pool during quarantine: %+v %v", p, err)
	}
	if pool, at, err := s.QuarantineOf(ctx, n.DID); err != nil || pool != "eu" || !at.Equal(p.Members[0].FreeAt) {
		t.Fatalf("QuarantineOf: %s %s %v", pool, at, err)
	}
	// Not handed out during the cool-off.
	if _, err := s.Allocate(ctx, "eu", "", ""); !errors.Is(err, redisstore.ErrPoolEmpty) {
		t.Fatalf("allocate during quarantine: %v", err)
	}
	freeAt := exp.Add(time.Minute + coolOff)
	if sw, err := s.Sweep(ctx, freeAt.Add(-time.Millisecond)); err != nil || len(sw.Freed) != 0 {
		t.Fatalf("sweep before the cool-off ends: %+v %v", sw, err)
	}
	if sw, err := s.Sweep(ctx, freeAt); err != nil || len(sw.Freed) != 1 || sw.Freed[0] != n.DID {
		t.Fatalf("sweep when the cool-off ends: %+v %v", sw, err)
	}
	if _, _, err := s.QuarantineOf(ctx, n.DID); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("QuarantineOf after: %v", err)
	}
	if d, err := s.Allocate(ctx, "eu", "FR", "1"); err != nil || d != n.DID {
		t.Fatalf("allocate after the cool-off: %q %v", d, err)
	}
}

// A release cut short after the number was marked quarantined is finished
// by the next sweep.
func TestSweepFinishesInterruptedRelease(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	s, _ := newStore(t, redisstore.Options{Now: clk.Now})
	if _, _, err := s.AddToPool(ctx, "eu", paris[:1], time.Hour); err != nil {
		t.Fatal(err)
	}
	n := provision(t, s, "eu", "", "")
	n.State = routing.StateQuarantined
	if err := s.UpdateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	sw, err := s.Sweep(ctx, t0)
	if err != nil || len(sw.Quarantined) != 1 || !sw.Quarantined[0].Purged.Number {
		t.Fatalf("sweep: %+v %v", sw, err)
	}
	if _, err := s.GetNumber(ctx, n.DID); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("number left: %v", err)
	}
	// Provisioned again by hand during its quarantine: the sweep leaves
	// the number alone and keeps the DID out of the free numbers.
	manual := number(func(m *routing.Number) { m.DID = n.DID })
	if err := s.AddNumber(ctx, manual); err != nil {
		t.Fatal(err)
	}
	sw, err = s.Sweep(ctx, t0.Add(2*time.Hour))
	if !errors.Is(err, redisstore.ErrExists) || !strings.Contains(err.Error(), n.DID) || len(sw.Freed) != 0 {
		t.Fatalf("sweep over a re-provisioned DID: %+v %v", sw, err)
	}
	if got, err := s.GetNumber(ctx, n.DID); err != nil || got.State != routing.StateActive {
		t.Fatalf("re-provisioned number: %+v %v", got, err)
	}
	if _, err := s.Allocate(ctx, "eu", "", ""); !errors.Is(err, redisstore.ErrPoolEmpty) {
		t.Fatalf("allocate: %v", err)
	}
}

// Release purges every record of the number: afterwards no key, value or
// stream entry mentions the DID except its quarantine entry.
func TestReleasePurgesEverything(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	s, srv := newStore(t, redisstore.Options{Now: clk.Now})
	if _, _, err := s.AddToPool(ctx, "eu", paris, 0); err != nil {
		t.Fatal(err)
	}
	n := provision(t, s, "eu", "", "", func(n *routing.Number) { n.Limits.MaxConcurrent = 2; n.Limits.DailyMinutes = 100 })
	other := provision(t, s, "eu", "", "")
	d := n.DID
	for _, e := range []struct {
		l redisstore.List
		p string
	}{{redisstore.Blocklist, caller}, {redisstore.Blocklist, "+4478*"}, {redisstore.Allowlist, "+14155550100"}} {
		if err := s.AddEntry(ctx, e.l, d, routing.Entry{Pattern: routing.Pattern(e.p), Reason: "spam"}); err != nil {
			t.Fatal(err)
		}
	}
	// Someone else blocks the released DID as a caller: that entry is the
	// other number's, and stays.
	if err := s.AddEntry(ctx, redisstore.Blocklist, other.DID, routing.Entry{Pattern: "+4420*"}); err != nil {
		t.Fatal(err)
	}
	if dec, err := s.Decide(ctx, routing.Call{ID: "live-1", DID: d, Caller: "+4915112345678", At: t0}); err != nil || !dec.SlotHeld {
		t.Fatalf("decide: %+v %v", dec, err)
	}
	for _, day := range []time.Time{t0.Add(-24 * time.Hour), t0} {
		if err := s.AddMinutes(ctx, d, 3*time.Minute, day); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddMinutes(ctx, other.DID, time.Minute, t0); err != nil {
		t.Fatal(err)
	}
	for i, c := range []routing.CDR{
		{CallID: "c1", DID: d, Caller: caller}, {CallID: "c2", DID: other.DID, Caller: caller},
		{CallID: "c3", DID: d, Caller: "anonymous", Recording: "rec-c3"}, {CallID: "c4", DID: other.DID, Recording: "rec-c4"},
	} {
		c.Started, c.Ended = t0.Add(time.Duration(i)*time.Minute), t0.Add(time.Duration(i)*time.Minute+time.Second)
		if err := s.WriteCDR(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []routing.Recording{
		{Name: "rec-c3", CallID: "c3", DID: d, Kind: "call", Started: t0},
		{Name: "vm-9", CallID: "c9", DID: d, Kind: "voicemail", Started: t0},
		{Name: "rec-c4", CallID: "c4", DID: other.DID, Kind: "call", Started: t0},
	} {
		if err := s.PutRecording(ctx, r); err != nil {
			t.Fatal(err)
		}
	}

	// The owner's SMS thread, webhook and mailbox settings go too.
	if err := srv.Client().Set(ctx, redisstore.SMSThreadKey(d, "t1"), "+4915112345678", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddWebhook(ctx, webhook.Endpoint{URL: "https://hooks.example.com/owner", DID: d, Secret: "0123456789abcdef-owner"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMailbox(ctx, d, routing.Mailbox{Greeting: "sound:owner-greeting", MaxMessage: time.Minute}); err != nil {
		t.Fatal(err)
	}

	r, err := s.ReleaseNumber(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	want := redisstore.Purged{Number: true, BlockEntries: 2, AllowEntries: 1, Slots: 1, MinuteCounters: 2, CDRs: 2, Recordings: 2, FilesQueued: 2,
		SMSThreads: 1, Webhooks: 1}
	if r.Purged != want || r.Pool != "eu" || !r.FreeAt.Equal(t0.Add(routing.DefaultCoolOff)) {
		t.Fatalf("released %+v, want purged %+v", r, want)
	}

	rdb := srv.Client()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	digits := strings.TrimPrefix(d, "+")
	quarantine := 0
	for _, k := range keys {
		if strings.Contains(k, digits) {
			t.Errorf("key %s left", k)
		}
		for _, v := range values(t, rdb, k) {
			if !strings.Contains(v, digits) {
				continue
			}
			if k == "vnum:pool:{eu}:quarantine" && v == d {
				quarantine++
				continue
			}
			t.Errorf("key %s still mentions %s: %q", k, d, v)
		}
	}
	if quarantine != 1 {
		t.Fatalf("quarantine entries for %s: %d", d, quarantine)
	}
	// The other number's records are intact.
	if cdrs, err := s.ListCDRs(ctx, "", 10); err != nil || len(cdrs) != 2 || cdrs[0].DID != other.DID || cdrs[1].DID != other.DID {
		t.Fatalf("cdrs left: %+v %v", cdrs, err)
	}
	if recs, err := s.ListRecordings(ctx, other.DID); err != nil || len(recs) != 1 {
		t.Fatalf("other's recordings: %+v %v", recs, err)
	}
	if es, err := s.ListEntries(ctx, redisstore.Blocklist, other.DID); err != nil || len(es) != 1 {
		t.Fatalf("other's blocklist: %+v %v", es, err)
	}
	// The released number is not in service.
	if dec, err := s.Simulate(ctx, routing.Call{ID: "c", DID: d, Caller: caller, At: t0}); err != nil || dec.Reject != routing.RejectNotInService {
		t.Fatalf("after release: %+v %v", dec, err)
	}
	// Releasing again: the number is gone.
	if _, err := s.ReleaseNumber(ctx, d); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("second release: %v", err)
	}
}

// values returns every string a key holds (members, fields, values,
// stream entry fields).
func values(t *testing.T, rdb *redis.Client, k string) []string {
	t.Helper()
	ctx := context.Background()
	typ, err := rdb.Type(ctx, k).Result()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	switch typ {
	case "string":
		out = append(out, rdb.Get(ctx, k).Val())
	case "hash":
		for f, v := range rdb.HGetAll(ctx, k).Val() {
			out = append(out, f, v)
		}
	case "set":
		out = rdb.SMembers(ctx, k).Val()
	case "zset":
		out = rdb.ZRange(ctx, k, 0, -1).Val()
	case "list":
		out = rdb.LRange(ctx, k, 0, -1).Val()
	case "stream":
		for _, m := range rdb.XRange(ctx, k, "-", "+").Val() {
			for f, v := range m.Values {
				out = append(out, f, v.(string))
			}
		}
	default:
		t.Fatalf("key %s: type %s", k, typ)
	}
	return out
}

func TestReleaseRefusals(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{})
	if _, _, err := s.AddToPool(ctx, "eu", paris, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNumber(ctx, number()); err != nil { // no pool label
		t.Fatal(err)
	}
	// Labelled with a pool it was never allocated from.
	stray := number(func(n *routing.Number) { n.DID = lyon[0]; n.Labels = map[string]string{routing.LabelPool: "eu"} })
	if err := s.AddNumber(ctx, stray); err != nil {
		t.Fatal(err)
	}
	ghost := number(func(n *routing.Number) { n.DID = sf[0]; n.Labels = map[string]string{routing.LabelPool: "ghost"} })
	if err := s.AddNumber(ctx, ghost); err != nil {
		t.Fatal(err)
	}
	before := dump(t, srv.Client())
	for _, c := range []struct {
		did  string
		is   error
		name string
	}{
		{did, redisstore.ErrNoPool, did},
		{lyon[0], redisstore.ErrNoPool, "eu"},
		{sf[0], redisstore.ErrNotFound, "ghost"},
		{"+33187659999", redisstore.ErrNotFound, "+33187659999"},
	} {
		if _, err := s.ReleaseNumber(ctx, c.did); !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("release %s: %v, want %v naming %s", c.did, err, c.is, c.name)
		}
		if _, err := s.Rotate(ctx, c.did); err == nil {
			t.Errorf("rotate %s: no error", c.did)
		}
	}
	if after := dump(t, srv.Client()); !mapsEqual(before, after) {
		t.Fatal("refused releases wrote")
	}
}

func TestRotate(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: t0}
	s, _ := newStore(t, redisstore.Options{Now: clk.Now})
	// Two Paris numbers, one Lyon number, one US number.
	if _, _, err := s.AddToPool(ctx, "eu", concat(paris[:2], lyon, sf[:1]), time.Hour); err != nil {
		t.Fatal(err)
	}
	old := provision(t, s, "eu", "FR", "1", func(n *routing.Number) {
		n.Owner = "bob"
		n.Limits = routing.Limits{MaxConcurrent: 3, DailyMinutes: 60, AllowCountries: []string{"FR"}}
		n.Route.Record = true
	})
	if err := s.AddEntry(ctx, redisstore.Blocklist, old.DID, routing.Entry{Pattern: caller, Reason: "spam"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddWebhook(ctx, webhook.Endpoint{URL: "https://hooks.example.com/bob", DID: old.DID, Secret: "0123456789abcdef-bob"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMailbox(ctx, old.DID, routing.Mailbox{Greeting: "file:bob/greeting", MaxMessage: time.Minute}); err != nil {
		t.Fatal(err)
	}
	rot, err := s.Rotate(ctx, old.DID)
	if err != nil {
		t.Fatal(err)
	}
	// The owner's webhook and mailbox follow to the new number.
	eps, err := s.Webhooks(ctx)
	if err != nil || len(eps) != 1 || eps[0].DID != rot.New || eps[0].Secret != "0123456789abcdef-bob" {
		t.Fatalf("webhooks after rotation: %+v %v", eps, err)
	}
	if mb, err := s.GetMailbox(ctx, rot.New); err != nil || mb.Greeting != "file:bob/greeting" {
		t.Fatalf("mailbox after rotation: %+v %v", mb, err)
	}
	if rot.Old != old.DID || rot.New == old.DID || routing.AreaCode(rot.New) != "1" || !rot.Released.Purged.Number {
		t.Fatalf("rotation: %+v", rot)
	}
	n, err := s.GetNumber(ctx, rot.New)
	if err != nil {
		t.Fatal(err)
	}
	if n.Owner != "bob" || n.Limits.MaxConcurrent != 3 || n.Limits.DailyMinutes != 60 || !n.Route.Record ||
		n.Route.Targets[0].E164 != mobile || n.Labels[routing.LabelPool] != "eu" || n.Labels["plan"] != "gold" || n.State != routing.StateActive {
		t.Fatalf("new number: %+v", n)
	}
	// The owner's blocked caller stays blocked on the new number.
	if d, err := s.Simulate(ctx, routing.Call{ID: "c", DID: rot.New, Caller: caller, At: t0}); err != nil || d.Reason != routing.ReasonBlockedNumber {
		t.Fatalf("blocked caller on the new number: %+v %v", d, err)
	}
	if _, err := s.GetNumber(ctx, old.DID); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("old number: %v", err)
	}
	// No Paris number left: the next rotation stays in France (Lyon).
	rot2, err := s.Rotate(ctx, rot.New)
	if err != nil || rot2.New != lyon[0] {
		t.Fatalf("second rotation: %+v %v", rot2, err)
	}
	// Nothing left in France: a clear error, and the number keeps working.
	if _, err := s.Rotate(ctx, rot2.New); !errors.Is(err, redisstore.ErrPoolEmpty) || !strings.Contains(err.Error(), "FR") {
		t.Fatalf("rotation with no French number: %v", err)
	}
	if n, err := s.GetNumber(ctx, rot2.New); err != nil || n.State != routing.StateActive {
		t.Fatalf("number after a failed rotation: %+v %v", n, err)
	}
	p, err := s.GetPool(ctx, "eu")
	if err != nil || p.Allocated != 1 || p.Quarantined != 2 || p.Free != 1 {
		t.Fatalf("pool after rotations: %+v %v", p.Pool, err)
	}
}
