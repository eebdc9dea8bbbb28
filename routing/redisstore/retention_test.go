package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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

const (
	day   = 24 * time.Hour
	other = "+33187654399"
)

// fakeDeleter is the PBX as the deletion queue sees it: fail makes one
// name fail, gone answers "already gone" the way a driver may wrap it.
type fakeDeleter struct {
	mu      sync.Mutex
	deleted []string
	fail    map[string]error
}

func (f *fakeDeleter) DeleteRecording(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail[name]; err != nil {
		return err
	}
	f.deleted = append(f.deleted, name)
	return nil
}

func rec(name, d, kind string, started time.Time) routing.Recording {
	return routing.Recording{Name: name, CallID: "call-" + name, DID: d, Kind: kind, Caller: "…0123", Started: started,
		Duration: time.Minute, Node: "n1", PBX: "asterisk"}
}

func recNames(t *testing.T, s *redisstore.Store, d string) []string {
	t.Helper()
	rs, err := s.ListRecordings(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return out
}

func cdrCalls(t *testing.T, s *redisstore.Store, d string) []string {
	t.Helper()
	cs, err := s.ListCDRs(context.Background(), d, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.CallID)
	}
	slices.Sort(out)
	return out
}

func writeCDR(t *testing.T, s *redisstore.Store, id, d string) {
	t.Helper()
	now := time.Now()
	if err := s.WriteCDR(context.Background(), routing.CDR{CallID: id, DID: d, Caller: "…0123", Action: "forward", Outcome: "answered",
		Started: now, Ended: now}); err != nil {
		t.Fatal(err)
	}
}

// The sweep's retention pass: CDRs, recordings and voicemail messages past
// the deployment's retention, or a number's shorter one, go; their files
// are queued; what is younger stays.
func TestEnforceRetention(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{CDRRetention: 30 * day, Retention: 10 * day, VoicemailRetention: 20 * day})
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	// other keeps CDRs 1 day and recordings 2 days; a longer voicemail
	// retention than the deployment's is ignored.
	if err := s.AddNumber(ctx, number(func(n *routing.Number) {
		n.DID = other
		n.Retention = routing.Retention{CDR: day, Recordings: 2 * day, Voicemail: 365 * day}
	})); err != nil {
		t.Fatal(err)
	}
	writeCDR(t, s, "a1", did)
	writeCDR(t, s, "b1", other)
	now := time.Now()
	for _, r := range []routing.Recording{
		rec("a-rec-old", did, "call", now.Add(-11*day)),
		rec("a-rec-new", did, "call", now.Add(-9*day)),
		rec("a-vm-11d", did, "voicemail", now.Add(-11*day)),
		rec("a-vm-old", did, "voicemail", now.Add(-21*day)),
		rec("b-rec-3d", other, "call", now.Add(-3*day)),
		rec("b-rec-1d", other, "call", now.Add(-day)),
		rec("b-vm-3d", other, "voicemail", now.Add(-3*day)),
		rec("b-vm-21d", other, "voicemail", now.Add(-21*day)),
	} {
		if err := s.PutRecording(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := s.EnforceRetention(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := (redisstore.Expired{Recordings: 2, Voicemails: 2, FilesQueued: 4}); ex != want {
		t.Fatalf("first pass: %+v, want %+v", ex, want)
	}
	if got := recNames(t, s, did); !slices.Equal(got, []string{"a-rec-new", "a-vm-11d"}) {
		t.Fatalf("%s keeps %v", did, got)
	}
	if got := recNames(t, s, other); !slices.Equal(got, []string{"b-rec-1d", "b-vm-3d"}) {
		t.Fatalf("%s keeps %v", other, got)
	}
	q, err := s.QueuedDeletions(ctx)
	slices.Sort(q)
	if err != nil || !slices.Equal(q, []string{"a-rec-old", "a-vm-old", "b-rec-3d", "b-vm-21d"}) {
		t.Fatalf("queued files: %v, %v", q, err)
	}

	// Two days on: other's CDR (1 day) is gone, the deployment's 30 days
	// keep the first number's.
	// Meanwhile the first number's 9-day recording passed 10 days, the
	// other's 1-day one its 2 days.
	ex, err = s.EnforceRetention(ctx, now.Add(2*day))
	if want := (redisstore.Expired{CDRs: 1, Recordings: 2, FilesQueued: 2}); err != nil || ex != want {
		t.Fatalf("two days on: %+v, %v", ex, err)
	}
	if got := cdrCalls(t, s, ""); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("CDRs after two days: %v", got)
	}
	// 31 days on, nothing is left.
	ex, err = s.EnforceRetention(ctx, now.Add(31*day))
	if want := (redisstore.Expired{CDRs: 1, Voicemails: 2, FilesQueued: 2}); err != nil || ex != want {
		t.Fatalf("31 days on: %+v, %v", ex, err)
	}
	if got := cdrCalls(t, s, ""); len(got) != 0 {
		t.Fatalf("CDRs after 31 days: %v", got)
	}
	if got := append(recNames(t, s, did), recNames(t, s, other)...); len(got) != 0 {
		t.Fatalf("recordings after 31 days: %v", got)
	}
	if q, _ := s.QueuedDeletions(ctx); len(q) != 8 {
		t.Fatalf("every file queued once: %v", q)
	}
}

// Recording metadata outlives its retention by its TTL only as a backstop:
// the TTL is the longer retention plus the grace.
func TestRecordingMetadataTTLIsBackstop(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{Retention: 10 * day, VoicemailRetention: 20 * day})
	if err := s.PutRecording(ctx, rec("r1", did, "call", time.Now())); err != nil {
		t.Fatal(err)
	}
	ttl := srv.Client().PTTL(ctx, "vnum:rec:{r1}").Val()
	if want := 20*day + redisstore.RetentionGrace; ttl < want-time.Minute || ttl > want {
		t.Fatalf("metadata TTL %s, want about %s", ttl, want)
	}
}

// The deletion queue leaves a file only when the PBX deleted it or it was
// already gone; failures stay queued and are counted.
func TestDrainDeletions(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{})
	if err := s.QueueDeletions(ctx, "ok1", "gone", "refused", "ok2"); err != nil {
		t.Fatal(err)
	}
	del := &fakeDeleter{fail: map[string]error{
		"gone":    fmt.Errorf("ari: delete recording gone: %w", fs.ErrNotExist),
		"refused": errors.New("ari: delete recording refused: 500"),
	}}
	dr, err := s.DrainDeletions(ctx, del, 0)
	if err != nil {
		t.Fatal(err)
	}
	if dr.Deleted != 3 || dr.Failed != 1 || dr.Left != 1 || dr.Err == nil {
		t.Fatalf("drain: %+v", dr)
	}
	if q, _ := s.QueuedDeletions(ctx); !slices.Equal(q, []string{"refused"}) {
		t.Fatalf("still queued: %v", q)
	}
	// The PBX accepts it next time.
	delete(del.fail, "refused")
	if dr, err = s.DrainDeletions(ctx, del, 0); err != nil || dr.Deleted != 1 || dr.Left != 0 {
		t.Fatalf("second drain: %+v, %v", dr, err)
	}
	slices.Sort(del.deleted)
	if !slices.Equal(del.deleted, []string{"ok1", "ok2", "refused"}) {
		t.Fatalf("deleted on the PBX: %v", del.deleted)
	}
	// errors.ErrUnsupported (a driver that cannot delete yet) keeps it.
	_ = s.QueueDeletions(ctx, "x")
	del.fail["x"] = fmt.Errorf("esl: %w", errors.ErrUnsupported)
	if dr, _ = s.DrainDeletions(ctx, del, 0); dr.Failed != 1 || dr.Left != 1 || !errors.Is(dr.Err, errors.ErrUnsupported) {
		t.Fatalf("unsupported: %+v", dr)
	}
}

// PurgeBefore deletes the records of calls before a time, for one number
// or all, and queues the files.
func TestPurgeBefore(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{})
	writeCDR(t, s, "a1", did)
	writeCDR(t, s, "b1", other)
	time.Sleep(5 * time.Millisecond)
	cut := time.Now()
	time.Sleep(5 * time.Millisecond)
	writeCDR(t, s, "a2", did)
	for _, r := range []routing.Recording{
		rec("a-old", did, "call", cut.Add(-time.Hour)), rec("a-vm-old", did, "voicemail", cut.Add(-time.Hour)),
		rec("a-new", did, "call", cut.Add(time.Second)), rec("b-old", other, "call", cut.Add(-time.Hour)),
	} {
		if err := s.PutRecording(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := s.PurgeBefore(ctx, cut, did)
	if want := (redisstore.Expired{CDRs: 1, Recordings: 1, Voicemails: 1, FilesQueued: 2}); err != nil || ex != want {
		t.Fatalf("one number: %+v, %v", ex, err)
	}
	if got := cdrCalls(t, s, ""); !slices.Equal(got, []string{"a2", "b1"}) {
		t.Fatalf("CDRs left: %v", got)
	}
	ex, err = s.PurgeBefore(ctx, cut, "")
	if want := (redisstore.Expired{CDRs: 1, Recordings: 1, FilesQueued: 1}); err != nil || ex != want {
		t.Fatalf("all numbers: %+v, %v", ex, err)
	}
	if got := recNames(t, s, did); !slices.Equal(got, []string{"a-new"}) {
		t.Fatalf("recordings left: %v", got)
	}
	q, _ := s.QueuedDeletions(ctx)
	slices.Sort(q)
	if !slices.Equal(q, []string{"a-old", "a-vm-old", "b-old"}) {
		t.Fatalf("queued: %v", q)
	}
}

// Releasing a number queues its recording files before their metadata goes.
func TestReleaseQueuesRecordingFiles(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{})
	if _, _, err := s.AddToPool(ctx, "eu", []string{did}, time.Hour); err != nil {
		t.Fatal(err)
	}
	d, err := s.Allocate(ctx, "eu", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddNumber(ctx, number(func(n *routing.Number) { n.DID = d; n.Labels = map[string]string{routing.LabelPool: "eu"} })); err != nil {
		t.Fatal(err)
	}
	_ = s.PutRecording(ctx, rec("r1", d, "call", time.Now()))
	_ = s.PutRecording(ctx, rec("v1", d, "voicemail", time.Now()))
	r, err := s.ReleaseNumber(ctx, d)
	if err != nil || r.Purged.FilesQueued != 2 || r.Purged.Recordings != 2 {
		t.Fatalf("release: %+v, %v", r, err)
	}
	q, _ := s.QueuedDeletions(ctx)
	slices.Sort(q)
	if !slices.Equal(q, []string{"r1", "v1"}) {
		t.Fatalf("queued: %v", q)
	}
}

func TestSMSRetention(t *testing.T) {
	s, _ := newStore(t, redisstore.Options{SMSRetention: 30 * day})
	if got := s.SMSRetention(number()); got != 30*day {
		t.Fatalf("deployment's: %s", got)
	}
	if got := s.SMSRetention(number(func(n *routing.Number) { n.Retention.SMS = day })); got != day {
		t.Fatalf("the number's shorter: %s", got)
	}
	if f, ok := redisstore.ClassifyKey(redisstore.SMSThreadKey(did, "t1")); !ok || f.Class != redisstore.KeyLive {
		t.Fatalf("SMS thread key %s: %+v", redisstore.SMSThreadKey(did, "t1"), f)
	}
}

// A velocity block of a caller stored by its HMAC still blocks that caller.
func TestHMACVelocityBlockStillBlocks(t *testing.T) {
	ctx := context.Background()
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprint("split=", split), func(t *testing.T) {
			priv := routing.Privacy{Caller: routing.StoreHMAC, Key: []byte("0123456789abcdef-test")}
			s, _ := newStore(t, redisstore.Options{Privacy: priv, SplitGlobal: split,
				Velocity: redisstore.Velocity{PerDID: 2, Window: time.Minute, Block: time.Hour}})
			if err := s.AddNumber(ctx, number()); err != nil {
				t.Fatal(err)
			}
			var reasons []routing.Reason
			for i := range 4 {
				d, err := s.Decide(ctx, call(fmt.Sprint("c", i), caller))
				if err != nil {
					t.Fatal(err)
				}
				reasons = append(reasons, d.Reason)
			}
			want := []routing.Reason{routing.ReasonForward, routing.ReasonForward, routing.ReasonVelocity, routing.ReasonBlockedGlobal}
			if split && reasons[2] == routing.ReasonBlockedGlobal {
				// The global list, read in parallel, may already hold the
				// block the limit just added.
				want[2] = routing.ReasonBlockedGlobal
			}
			if !slices.Equal(reasons, want) {
				t.Fatalf("reasons %v, want %v", reasons, want)
			}
			es, err := s.ListEntries(ctx, redisstore.Blocklist, "")
			if err != nil || len(es) != 1 || string(es[0].Pattern) != priv.Record(caller) {
				t.Fatalf("global blocklist: %+v, %v", es, err)
			}
			// Another caller is not blocked.
			if d, _ := s.Decide(ctx, call("c9", "+447700900124")); d.Action != routing.ActionForward {
				t.Fatalf("another caller: %+v", d)
			}
		})
	}
}

// After real call activity every key vnum wrote is in a known family and
// every live-state key has a TTL; a live key planted without one is found,
// and so is a key of no known family. Configuration is not reported.
func TestAuditTTL(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{Velocity: redisstore.Velocity{PerDID: 1, Window: time.Minute, Block: time.Hour}})
	rdb := srv.Client()
	if _, _, err := s.AddToPool(ctx, "eu", []string{did, "+33187650002"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Allocate(ctx, "eu", "", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNumber(ctx, number(func(n *routing.Number) {
		n.Limits = routing.Limits{MaxConcurrent: 2, DailyMinutes: 10}
		n.AllowlistOnly = false
		n.Labels = map[string]string{routing.LabelPool: "eu"}
	})); err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(time.Hour)
	for _, l := range []struct {
		list  redisstore.List
		scope string
	}{{redisstore.Blocklist, did}, {redisstore.Blocklist, ""}, {redisstore.Allowlist, did}} {
		if err := s.AddEntry(ctx, l.list, l.scope, routing.Entry{Pattern: "+1415*", ExpiresAt: &soon}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.Decide(ctx, call("c1", caller))
	if err != nil || !d.SlotHeld {
		t.Fatalf("decide: %+v, %v", d, err)
	}
	if err := s.PutCall(ctx, routing.LiveCall{ID: "c1", DID: did, Node: "n1", Caller: caller, Started: time.Now(), Slot: true}); err != nil {
		t.Fatal(err)
	}
	_, _ = s.Decide(ctx, call("c2", caller)) // over the velocity limit: blocked
	if err := s.AddMinutes(ctx, did, time.Minute, time.Now()); err != nil {
		t.Fatal(err)
	}
	writeCDR(t, s, "c1", did)
	if err := s.PutRecording(ctx, rec("r1", did, "call", time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := s.QueueDeletions(ctx, "old-file"); err != nil {
		t.Fatal(err)
	}
	// What vnumd's sweep holds while it runs.
	rdb.Set(ctx, "vnum:sweep:lock", "n1", time.Minute)
	rdb.Set(ctx, redisstore.SMSThreadKey(did, "t1"), "x", s.SMSRetention(number()))

	keys := rdb.Keys(ctx, "*").Val()
	families := map[string]bool{}
	for _, k := range keys {
		f, ok := redisstore.ClassifyKey(k)
		if !ok {
			t.Errorf("key %s is in no family of redisstore.KeyFamilies", k)
		}
		families[f.Name] = true
	}
	for _, want := range []string{"number", "blocklist", "allowlist", "pool", "cdr stream", "recording deletion queue",
		"concurrency slots", "daily minutes", "live call", "cdr written marker", "recording metadata", "recording index",
		"velocity", "sms thread", "sweep lock"} {
		if !families[want] {
			t.Errorf("the activity wrote no %s key (keys: %v)", want, keys)
		}
	}
	found, scanned, err := s.AuditTTL(ctx)
	if err != nil || len(found) != 0 || scanned != len(keys) {
		t.Fatalf("audit after real activity: %+v (%d of %d keys scanned), %v", found, scanned, len(keys), err)
	}

	// A live call whose TTL was lost, and a key nobody classified.
	rdb.HSet(ctx, "vnum:call:{lost}", "did", did)
	rdb.Set(ctx, "vnum:mystery", "1", 0)
	rdb.Set(ctx, "not-vnum", "1", 0) // another application's key: not vnum's business
	found, _, err = s.AuditTTL(ctx)
	want := []redisstore.TTLFinding{{Key: "vnum:call:{lost}", Family: "live call"}, {Key: "vnum:mystery"}}
	if err != nil || !slices.Equal(found, want) {
		t.Fatalf("audit found %+v, %v; want %+v", found, err, want)
	}
}

func TestKeyFamiliesAreDistinct(t *testing.T) {
	for _, f := range redisstore.KeyFamilies {
		if f.Class != redisstore.KeyConfig && f.Class != redisstore.KeyRecord && f.Class != redisstore.KeyLive {
			t.Errorf("%s: class %q", f.Name, f.Class)
		}
	}
	for _, c := range []struct {
		key, family string
	}{
		{"vnum:{+33187654321}:num", "number"}, {"vnum:{global}:block", "blocklist"}, {"vnum:rec:{x}", "recording metadata"},
		{"vnum:{+33187654321}:recs", "recording index"}, {"vnum:recs:delete", "recording deletion queue"},
		{"vnum:{+33187654321}:min:20261124", "daily minutes"}, {"vnum:{+33187654321}:min:2026", ""},
		{"vnum:cdr", "cdr stream"}, {"vnum:cdrx", ""}, {"vnum:pool:{eu}:free", "pool"}, {"vnum:pool:{eu}:other", ""},
	} {
		f, ok := redisstore.ClassifyKey(c.key)
		if f.Name != c.family || ok != (c.family != "") {
			t.Errorf("%s: family %q (%v), want %q", c.key, f.Name, ok, c.family)
		}
	}
}

// On a real 3-master Cluster: the retention pass finds every number's
// recordings (index keys on every master), the audit scans every master,
// and an HMAC'd caller's velocity block (global list, its own slot) blocks.
func TestRetentionOnRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	priv := routing.Privacy{Caller: routing.StoreHMAC, Key: []byte("0123456789abcdef-test")}
	s := redisstore.New(rdb, redisstore.Options{Retention: day, Privacy: priv,
		Velocity: redisstore.Velocity{PerDID: 1, Window: time.Minute, Block: time.Hour}})
	ctx := context.Background()
	now := time.Now()
	for i := range 12 {
		d := fmt.Sprintf("+331876543%02d", i)
		if err := s.AddNumber(ctx, routing.Number{DID: d, Route: routing.Route{Targets: []routing.Target{{E164: mobile}}}}); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRecording(ctx, rec(fmt.Sprint("old-", i), d, "call", now.Add(-2*day))); err != nil {
			t.Fatal(err)
		}
		if err := s.PutRecording(ctx, rec(fmt.Sprint("new-", i), d, "call", now)); err != nil {
			t.Fatal(err)
		}
	}
	ex, err := s.EnforceRetention(ctx, now)
	if err != nil || ex.Recordings != 12 || ex.FilesQueued != 12 {
		t.Fatalf("retention over the cluster: %+v, %v", ex, err)
	}
	del := &fakeDeleter{}
	if dr, err := s.DrainDeletions(ctx, del, 0); err != nil || dr.Deleted != 12 || dr.Left != 0 {
		t.Fatalf("drain: %+v, %v", dr, err)
	}
	d := "+33187654307"
	var reasons []routing.Reason
	for i := range 3 {
		dec, err := s.Decide(ctx, routing.Call{ID: fmt.Sprint("v", i), DID: d, Caller: caller, At: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		reasons = append(reasons, dec.Reason)
	}
	if reasons[0] != routing.ReasonForward || reasons[2] != routing.ReasonBlockedGlobal {
		t.Fatalf("hmac velocity on the cluster: %v", reasons)
	}
	if found, scanned, err := s.AuditTTL(ctx); err != nil || len(found) != 0 || scanned < 12*3 {
		t.Fatalf("audit over the cluster: %+v (%d scanned), %v", found, scanned, err)
	}
	// A live key without a TTL on whichever master holds it is found.
	rdb.Set(ctx, "vnum:cdrdone:{lost}", "1", 0)
	if found, _, err := s.AuditTTL(ctx); err != nil || len(found) != 1 || found[0].Key != "vnum:cdrdone:{lost}" {
		t.Fatalf("planted key over the cluster: %+v, %v", found, err)
	}
}

// A number's shorter CDR retention in real time, pass after pass: each
// pass reads only what aged since the previous one, and a period changed
// in between is applied to the older records too.
func TestShortCDRRetentionPassAfterPass(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{CDRRetention: time.Hour})
	const r = 300 * time.Millisecond
	for _, n := range []routing.Number{number(), number(func(n *routing.Number) { n.DID = other; n.Retention.CDR = r })} {
		if err := s.AddNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	pass := func(want int) {
		t.Helper()
		ex, err := s.EnforceRetention(ctx, time.Now())
		if err != nil || ex.CDRs != want {
			t.Fatalf("pass: %+v, %v; want %d CDRs deleted", ex, err, want)
		}
	}
	writeCDR(t, s, "a1", did)
	writeCDR(t, s, "b1", other)
	pass(0)
	if m := srv.Client().HGet(ctx, "vnum:retention:cdr", other).Val(); !strings.HasPrefix(m, "300|") {
		t.Fatalf("mark %q", m)
	}
	time.Sleep(r + 50*time.Millisecond)
	writeCDR(t, s, "b2", other)
	pass(1) // b1, read from the previous pass's cutoff
	if got := cdrCalls(t, s, ""); !slices.Equal(got, []string{"a1", "b2"}) {
		t.Fatalf("after the second pass: %v", got)
	}
	time.Sleep(r + 50*time.Millisecond)
	pass(1) // b2
	// The number keeps CDRs longer now (still shorter than the deployment's)
	// and then shorter again: the change is read from the start.
	n, _ := s.GetNumber(ctx, other)
	n.Retention.CDR = 10 * time.Minute
	if err := s.UpdateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	writeCDR(t, s, "b3", other)
	pass(0)
	time.Sleep(r + 50*time.Millisecond)
	pass(0) // b3 is kept 10 minutes now
	n.Retention.CDR = r
	if err := s.UpdateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	pass(1) // b3, older than the new period, found by a walk from the start
	if got := cdrCalls(t, s, ""); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("at the end: %v", got)
	}
	// A number no longer short loses its mark.
	n.Retention.CDR = 0
	if err := s.UpdateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	pass(0)
	if srv.Client().Exists(ctx, "vnum:retention:cdr").Val() != 0 {
		t.Fatal("marks left with no short retention")
	}
}

// BenchmarkEnforceRetention: one sweep pass over a 100,000-entry CDR stream
// with 200 numbers, 20 of them keeping CDRs 1 hour (the deployment: 90
// days), in the steady state (marks from the previous pass) and cold (no
// marks: every short number's records read from the stream's start).
func BenchmarkEnforceRetention(b *testing.B) {
	ctx := context.Background()
	s, srv := newStore(b, redisstore.Options{CDRRetention: 90 * day})
	rdb := srv.Client()
	for i := range 200 {
		n := routing.Number{DID: fmt.Sprintf("+3318765%04d", i), Route: routing.Route{Targets: []routing.Target{{E164: mobile}}}}
		if i < 20 {
			n.Retention.CDR = time.Hour
		}
		if err := s.AddNumber(ctx, n); err != nil {
			b.Fatal(err)
		}
	}
	// A month of records, written a month ago.
	base := time.Now().Add(-30 * day).UnixMilli()
	for c := range 100 {
		_, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i := range 1000 {
				id := fmt.Sprintf("%d-0", base+int64(c*1000+i)*25_000)
				p.XAdd(ctx, &redis.XAddArgs{Stream: "vnum:cdr", ID: id, Values: map[string]any{
					"call_id": fmt.Sprint(c, "-", i), "did": fmt.Sprintf("+3318765%04d", i%200), "caller": "…0123"}})
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for _, cold := range []bool{false, true} {
		b.Run(fmt.Sprint("cold=", cold), func(b *testing.B) {
			if _, err := s.EnforceRetention(ctx, time.Now()); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				if cold {
					b.StopTimer()
					rdb.Del(ctx, "vnum:retention:cdr")
					b.StartTimer()
				}
				if _, err := s.EnforceRetention(ctx, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
