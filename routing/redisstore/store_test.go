package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	did    = "+33187654321"
	mobile = "+33612345678"
	caller = "+447700900123"
)

func newStore(t testing.TB, opts redisstore.Options) (*redisstore.Store, *redistest.Server) {
	srv := redistest.Start(t)
	return redisstore.New(srv.Client(), opts), srv
}

func number(mods ...func(*routing.Number)) routing.Number {
	n := routing.Number{DID: did, Owner: "alice", Route: routing.Route{Targets: []routing.Target{{E164: mobile}}}}
	for _, m := range mods {
		m(&n)
	}
	return n
}

func call(id, from string) routing.Call {
	return routing.Call{ID: id, DID: did, Caller: from, At: time.Now()}
}

func TestDecideAgainstRedis(t *testing.T) {
	ctx := context.Background()
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			s, _ := newStore(t, redisstore.Options{SplitGlobal: split})
			if err := s.AddNumber(ctx, number()); err != nil {
				t.Fatal(err)
			}
			block := func(scope, p string, ttl time.Duration) {
				t.Helper()
				e := routing.Entry{Pattern: routing.Pattern(p), Reason: "test"}
				if ttl > 0 {
					x := time.Now().Add(ttl)
					e.ExpiresAt = &x
				}
				if err := s.AddEntry(ctx, redisstore.Blocklist, scope, e); err != nil {
					t.Fatal(err)
				}
			}
			expect := func(from string, action routing.Action, reason routing.Reason) routing.Decision {
				t.Helper()
				d, err := s.Decide(ctx, call("c-"+from, from))
				if err != nil {
					t.Fatal(err)
				}
				if d.Action != action || d.Reason != reason {
					t.Fatalf("caller %s: %s/%s (%s), want %s/%s", from, d.Action, d.Reason, d.Detail, action, reason)
				}
				return d
			}
			d := expect(caller, routing.ActionForward, routing.ReasonForward)
			if d.CallerID.Number != did || d.Targets[0].E164 != mobile {
				t.Fatalf("forward %+v", d)
			}
			block(did, "+447700*", 0)
			expect(caller, routing.ActionReject, routing.ReasonBlockedNumber)
			expect("+447800000000", routing.ActionForward, routing.ReasonForward)
			block("", "+4478*", 0)
			expect("+447800000000", routing.ActionReject, routing.ReasonBlockedGlobal)
			block("", routing.Anonymous, 0)
			expect(routing.Anonymous, routing.ActionReject, routing.ReasonBlockedGlobal)
			// An entry whose TTL has passed no longer blocks.
			block(did, "+1*", 50*time.Millisecond)
			expect("+14155550100", routing.ActionReject, routing.ReasonBlockedNumber)
			time.Sleep(80 * time.Millisecond)
			expect("+14155550100", routing.ActionForward, routing.ReasonForward)
			entries, err := s.ListEntries(ctx, redisstore.Blocklist, did)
			if err != nil || len(entries) != 1 || entries[0].Pattern != "+447700*" {
				t.Fatalf("number blocklist after expiry: %+v, %v", entries, err)
			}
			d, err = s.Decide(ctx, routing.Call{ID: "x", DID: "+33100000000", Caller: caller, At: time.Now()})
			if err != nil || d.Action != routing.ActionUnknown {
				t.Fatalf("unknown number: %+v, %v", d, err)
			}
		})
	}
}

func TestConcurrencySlots(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{Lease: 300 * time.Millisecond})
	if err := s.AddNumber(ctx, number(func(n *routing.Number) { n.Limits.MaxConcurrent = 2 })); err != nil {
		t.Fatal(err)
	}
	// 10 simultaneous calls: exactly 2 win a slot.
	var wg sync.WaitGroup
	res := make([]routing.Decision, 10)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], _ = s.Decide(ctx, call(fmt.Sprint("c", i), caller))
		}()
	}
	wg.Wait()
	var fwd, capped int
	for _, d := range res {
		switch {
		case d.Action == routing.ActionForward && d.SlotHeld:
			fwd++
		case d.Reason == routing.ReasonConcurrency:
			capped++
		}
	}
	if fwd != 2 || capped != 8 {
		t.Fatalf("forwarded %d, capped %d; want 2 and 8", fwd, capped)
	}
	// Simulate takes no slot and sees the cap.
	d, _ := s.Simulate(ctx, call("sim", caller))
	if d.Reason != routing.ReasonConcurrency {
		t.Fatalf("simulate at cap: %+v", d)
	}
	// Releasing one frees one.
	for i, d := range res {
		if d.SlotHeld {
			if err := s.Release(ctx, did, fmt.Sprint("c", i)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	if d, _ := s.Decide(ctx, call("next", caller)); !d.SlotHeld {
		t.Fatalf("after release: %+v", d)
	}
	// A crashed node never releases: its slots expire with the lease.
	time.Sleep(350 * time.Millisecond)
	if d, _ := s.Decide(ctx, call("after-crash", caller)); !d.SlotHeld {
		t.Fatalf("after lease: %+v", d)
	}
}

func TestLimitsAndScheduleThroughRedis(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{Lease: time.Minute})
	sched, err := routing.ParseSchedule("daily voicemail", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddNumber(ctx, number(func(n *routing.Number) {
		n.Limits.MaxConcurrent = 1
		n.Schedules = []routing.ScheduleRule{sched}
	})); err != nil {
		t.Fatal(err)
	}
	// A schedule that sends to voicemail must not keep the slot.
	for i := range 3 {
		d, err := s.Decide(ctx, call(fmt.Sprint("v", i), caller))
		if err != nil || d.Action != routing.ActionVoicemail || d.SlotHeld {
			t.Fatalf("call %d: %+v, %v", i, d, err)
		}
	}
	n, _ := s.GetNumber(ctx, did)
	n.Schedules = nil
	n.Limits.DailyMinutes = 1
	if err := s.UpdateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Decide(ctx, call("f1", caller)); d.Action != routing.ActionForward {
		t.Fatalf("slot was kept by voicemail calls: %+v", d)
	}
	_ = s.Release(ctx, did, "f1")
	if err := s.AddMinutes(ctx, did, 61*time.Second, time.Now()); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Decide(ctx, call("f2", caller)); d.Reason != routing.ReasonDailyMinutes || d.SlotHeld {
		t.Fatalf("after the daily cap: %+v", d)
	}
	// Expired number.
	past := time.Now().Add(-time.Minute)
	n.ExpiresAt = &past
	n.Limits.DailyMinutes = 0
	if err := s.UpdateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Decide(ctx, call("f3", caller)); d.Reason != routing.ReasonExpired || d.Reject != routing.RejectNotInService {
		t.Fatalf("expired: %+v", d)
	}
}

func TestAllowlistOnly(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{})
	if err := s.AddNumber(ctx, number(func(n *routing.Number) { n.AllowlistOnly = true })); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEntry(ctx, redisstore.Allowlist, did, routing.Entry{Pattern: "+4477*"}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Decide(ctx, call("a", caller)); d.Action != routing.ActionForward {
		t.Fatalf("allowlisted caller: %+v", d)
	}
	if d, _ := s.Decide(ctx, call("b", "+33699999999")); d.Action != routing.ActionVoicemail || d.Reason != routing.ReasonNotAllowlisted {
		t.Fatalf("other caller: %+v", d)
	}
}

func TestStoreDownIsUnavailable(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{})
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	d, err := s.Decide(ctx, call("x", caller))
	if !errors.Is(err, redisstore.ErrUnavailable) || d.Action != routing.ActionUnavailable {
		t.Fatalf("store down: %+v, %v", d, err)
	}
	srv.Start()
	// The server restarted empty; the script is loaded again on demand.
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Decide(ctx, call("y", caller)); err != nil || d.Action != routing.ActionForward {
		t.Fatalf("after restart: %+v, %v", d, err)
	}
}

func TestNumberCRUD(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{})
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	if err := s.AddNumber(ctx, number()); !errors.Is(err, redisstore.ErrExists) {
		t.Fatalf("second add: %v", err)
	}
	if err := s.UpdateNumber(ctx, number(func(n *routing.Number) { n.DID = "+33100000001" })); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("update of a missing number: %v", err)
	}
	bad := number(func(n *routing.Number) { n.Route.Strategy = "random" })
	if err := s.AddNumber(ctx, bad); err == nil || !strings.Contains(err.Error(), "random") {
		t.Fatalf("bad strategy: %v", err)
	}
	if err := s.AddEntry(ctx, redisstore.Blocklist, "+33100000001", routing.Entry{Pattern: "+44*"}); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("block on a missing number: %v", err)
	}
	list, err := s.ListNumbers(ctx)
	if err != nil || len(list) != 1 || list[0].DID != did || list[0].Route.RingTimeout != routing.DefaultRingTimeout {
		t.Fatalf("list: %+v, %v", list, err)
	}
	if err := s.RemoveNumber(ctx, did); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetNumber(ctx, did); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("get after remove: %v", err)
	}
}

func TestLiveCallsAndCDR(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{Lease: 200 * time.Millisecond})
	c := routing.LiveCall{ID: "call-1", DID: did, Node: "n1", PBX: "asterisk", Caller: "…0123", State: "bridged",
		Started: time.Now().UTC(), Legs: []string{"in-1", "out-1"}, Bridge: "br-1"}
	if err := s.PutCall(ctx, c); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListCalls(ctx)
	if err != nil || len(got) != 1 || got[0].Bridge != "br-1" || len(got[0].Legs) != 2 {
		t.Fatalf("calls: %+v, %v", got, err)
	}
	if _, err := s.RequestHangup(ctx, "call-1"); err == nil || !strings.Contains(err.Error(), "n1") {
		t.Fatalf("hangup with no listening node: %v", err)
	}
	// Without a refresh the registry entry expires.
	time.Sleep(300 * time.Millisecond)
	if got, _ := s.ListCalls(ctx); len(got) != 0 {
		t.Fatalf("stale call kept: %+v", got)
	}
	rec := routing.CDR{CallID: "call-1", DID: did, Caller: "…0123", Action: "forward", Outcome: "answered",
		Started: time.Now(), Ended: time.Now(), Billsec: 42 * time.Second}
	for range 2 {
		if err := s.WriteCDR(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	cdrs, err := s.ListCDRs(ctx, did, 10)
	if err != nil || len(cdrs) != 1 || cdrs[0].Billsec != 42*time.Second {
		t.Fatalf("exactly one CDR: %+v, %v", cdrs, err)
	}
}

// A carrier that sends an international caller without its '+' must not
// slip past a block on the E.164 number or its prefix.
func TestBlockMatchesCallerWithoutPlus(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{})
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	if err := s.AddEntry(ctx, redisstore.Blocklist, did, routing.Entry{Pattern: "+4477*"}); err != nil {
		t.Fatal(err)
	}
	from := routing.NormalizeCaller("447700900123", "FR")
	d, err := s.Decide(ctx, call("x", from))
	if err != nil || d.Reason != routing.ReasonBlockedNumber {
		t.Fatalf("caller 447700900123 (normalised %q): %+v, %v", from, d, err)
	}
}

// With a CDR retention, records older than it disappear as new ones come.
func TestCDRRetention(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{CDRRetention: 150 * time.Millisecond})
	rec := func(id string) routing.CDR {
		return routing.CDR{CallID: id, DID: did, Outcome: "answered", Started: time.Now(), Ended: time.Now()}
	}
	if err := s.WriteCDR(ctx, rec("old")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	if err := s.WriteCDR(ctx, rec("new")); err != nil {
		t.Fatal(err)
	}
	cdrs, err := s.ListCDRs(ctx, did, 10)
	if err != nil || len(cdrs) != 1 || cdrs[0].CallID != "new" {
		t.Fatalf("after the retention: %+v, %v", cdrs, err)
	}
}

// A caller who calls one number more than the limit within the window is
// blocked (temporarily, globally, with the reason kept); others are not;
// the block expires.
func TestVelocityBlock(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{Velocity: redisstore.Velocity{PerDID: 2, DIDs: 3, Window: 400 * time.Millisecond, Block: 300 * time.Millisecond}})
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if d, _ := s.Decide(ctx, call(fmt.Sprint("v", i), caller)); d.Action != routing.ActionForward {
			t.Fatalf("call %d: %+v", i, d)
		}
	}
	d, _ := s.Decide(ctx, call("v3", caller))
	if d.Action != routing.ActionReject || d.Reason != routing.ReasonVelocity || d.Reject != routing.RejectBusy {
		t.Fatalf("third call within the window: %+v", d)
	}
	entries, _ := s.ListEntries(ctx, redisstore.Blocklist, "")
	if len(entries) != 1 || entries[0].Pattern != routing.Pattern(caller) || entries[0].ExpiresAt == nil {
		t.Fatalf("global blocklist: %+v", entries)
	}
	if d, _ := s.Decide(ctx, call("o1", "+14155550100")); d.Action != routing.ActionForward {
		t.Fatalf("another caller: %+v", d)
	}
	time.Sleep(500 * time.Millisecond)
	if d, _ := s.Decide(ctx, call("v4", caller)); d.Action != routing.ActionForward {
		t.Fatalf("after the block expired: %+v", d)
	}
	// Simulate never counts as a call.
	for range 5 {
		_, _ = s.Simulate(ctx, call("sim", "+14155550199"))
	}
	if d, _ := s.Decide(ctx, call("s1", "+14155550199")); d.Action != routing.ActionForward {
		t.Fatalf("simulations counted as calls: %+v", d)
	}
}

// Calling many different numbers in a short time (a robocaller sweeping a
// range) trips the distinct-numbers limit.
func TestVelocityManyNumbers(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{Velocity: redisstore.Velocity{DIDs: 3, Window: time.Minute, Block: time.Minute}})
	for i := range 4 {
		n := number(func(n *routing.Number) { n.DID = fmt.Sprintf("+3318765432%d", i) })
		if err := s.AddNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		d, _ := s.Decide(ctx, routing.Call{ID: fmt.Sprint("m", i), DID: n.DID, Caller: caller, At: time.Now()})
		want := routing.ActionForward
		if i == 3 {
			want = routing.ActionReject
		}
		if d.Action != want {
			t.Fatalf("number %d: %+v", i, d)
		}
	}
}
