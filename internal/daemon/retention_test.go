package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/ari"
	"github.com/vnum/vnum/ari/aritest"
	"github.com/vnum/vnum/internal/daemon"
	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
	"github.com/vnum/vnum/routing/redisstore"
)

// deletingDriver is a PBX driver that only deletes recordings (the sweep
// needs nothing else); refuse makes a name fail. Any other PBX method
// panics: the test places no call.
type deletingDriver struct {
	callflow.PBX
	mu      sync.Mutex
	deleted []string
	refuse  map[string]bool
}

func (d *deletingDriver) Name() string                                   { return "fake" }
func (d *deletingDriver) Connected() bool                                { return true }
func (d *deletingDriver) Run(ctx context.Context, _ callflow.Sink) error { <-ctx.Done(); return nil }
func (d *deletingDriver) DeleteRecording(_ context.Context, name string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.refuse[name] {
		return fmt.Errorf("fake: delete %s: %w", name, errors.ErrUnsupported)
	}
	d.deleted = append(d.deleted, name)
	return nil
}

func (d *deletingDriver) gone() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Sorted(slices.Values(d.deleted))
}

// vnumd's sweep deletes recordings past retention (a number's shorter one
// included) through the PBX driver, then their metadata; it drains what
// vnumctl queued; a file the PBX refuses stays queued and is counted.
func TestSweepDeletesRecordingsPastRetention(t *testing.T) {
	r := redistest.Start(t)
	ctx := context.Background()
	store := redisstore.New(r.Client(), redisstore.Options{})
	if err := store.AddNumber(ctx, routing.Number{DID: "+33187654321", Route: routing.Route{Targets: []routing.Target{{E164: "+33612345678"}}}}); err != nil {
		t.Fatal(err)
	}
	if err := store.AddNumber(ctx, routing.Number{DID: "+33187654322", Retention: routing.Retention{Voicemail: time.Hour},
		Route: routing.Route{Targets: []routing.Target{{E164: "+33612345678"}}}}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, rec := range []routing.Recording{
		{Name: "old-call", DID: "+33187654321", Kind: "call", Started: now.Add(-3 * time.Hour)},
		{Name: "new-call", DID: "+33187654321", Kind: "call", Started: now.Add(-time.Hour)},
		{Name: "vm-2h", DID: "+33187654322", Kind: "voicemail", Started: now.Add(-2 * time.Hour)},
		{Name: "vm-2h-kept", DID: "+33187654321", Kind: "voicemail", Started: now.Add(-2 * time.Hour)},
	} {
		if err := store.PutRecording(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.QueueDeletions(ctx, "queued-by-vnumctl", "refused"); err != nil {
		t.Fatal(err)
	}
	drv := &deletingDriver{refuse: map[string]bool{"refused": true}}
	d, err := daemon.New(daemon.Config{Node: "n1", Listen: "127.0.0.1:0", Redis: r.Client(), Driver: drv, SweepEvery: 100 * time.Millisecond,
		RecordingRetention: 2 * time.Hour, VoicemailRetention: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(rctx) }()
	defer func() { cancel(); <-done }()
	<-d.Ready()
	want := []string{"old-call", "queued-by-vnumctl", "vm-2h"}
	var metrics string
	deadline := time.Now().Add(5 * time.Second)
	for {
		metrics = get(t, "http://"+d.Addr()+"/metrics")
		if slices.Equal(drv.gone(), want) && strings.Contains(metrics, `vnum_recording_deletions_total{result="failed"}`) &&
			!strings.Contains(metrics, `vnum_recording_deletions_total{result="failed"} 0`) && strings.Contains(metrics, "vnum_recording_deletion_queue 1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deleted %v, want %v; metrics:\n%s", drv.gone(), want, grep(metrics, "vnum_re"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, line := range []string{`vnum_recording_deletions_total{result="deleted"} 3`, `vnum_retention_expired_total{kind="recording"} 1`,
		`vnum_retention_expired_total{kind="voicemail"} 1`} {
		if !strings.Contains(metrics, line) {
			t.Errorf("metrics lack %s:\n%s", line, grep(metrics, "vnum_re"))
		}
	}
	for did, names := range map[string][]string{"+33187654321": {"new-call", "vm-2h-kept"}, "+33187654322": nil} {
		recs, err := store.ListRecordings(ctx, did)
		var got []string
		for _, r := range recs {
			got = append(got, r.Name)
		}
		slices.Sort(got)
		if err != nil || !slices.Equal(got, names) {
			t.Errorf("%s keeps %v (%v), want %v", did, got, err, names)
		}
	}
	if q, _ := store.QueuedDeletions(ctx); !slices.Equal(q, []string{"refused"}) {
		t.Errorf("still queued: %v", q)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// rawCaller scans every key name and value for the caller's number in
// any form (E.164 with and without '+', national significant number).
func rawCaller(t *testing.T, rdb *redis.Client, forms ...string) []string {
	t.Helper()
	ctx := context.Background()
	var hits []string
	check := func(where, s string) {
		for _, f := range forms {
			if strings.Contains(s, f) {
				hits = append(hits, fmt.Sprintf("%s: %q", where, s))
				return
			}
		}
	}
	for _, k := range rdb.Keys(ctx, "*").Val() {
		check("key name", k)
		var vals []string
		switch rdb.Type(ctx, k).Val() {
		case "string":
			vals = []string{rdb.Get(ctx, k).Val()}
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "set":
			vals = rdb.SMembers(ctx, k).Val()
		case "zset":
			for _, z := range rdb.ZRangeWithScores(ctx, k, 0, -1).Val() {
				vals = append(vals, fmt.Sprint(z.Member))
			}
		case "list":
			vals = rdb.LRange(ctx, k, 0, -1).Val()
		case "stream":
			for _, m := range rdb.XRange(ctx, k, "-", "+").Val() {
				for f, v := range m.Values {
					vals = append(vals, f, fmt.Sprint(v))
				}
			}
		}
		for _, v := range vals {
			check(k, v)
		}
	}
	return hits
}

// End to end on the emulated Asterisk, with caller storage hmac and the
// velocity limits on: a recorded answered call, a voicemail, then calls
// over the limit (blocked globally, and the next one rejected by the
// block). At no point does Redis hold the caller's number in any form;
// afterwards every live-state key has a TTL.
func TestHMACCallsStoreNoRawCaller(t *testing.T) {
	t.Parallel()
	const (
		did    = "+33187654321"
		mobile = "+33612345678"
		caller = "+447700900123"
	)
	forms := []string{"+447700900123", "447700900123", "7700900123"}
	r := redistest.Start(t)
	rdb := r.Client()
	srv, err := aritest.New(aritest.Options{User: "vnum", Password: "pw-for-tests", App: "vnum"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	store := redisstore.New(rdb, redisstore.Options{})
	if err := store.AddNumber(ctx, routing.Number{DID: did, Limits: routing.Limits{MaxConcurrent: 2, DailyMinutes: 60},
		Route: routing.Route{Targets: []routing.Target{{E164: mobile}}, Record: true, Voicemail: true, RingTimeout: time.Second}}); err != nil {
		t.Fatal(err)
	}
	drv, err := ari.New(ari.Options{URL: srv.URL(), User: "vnum", Password: "pw-for-tests", Trunk: "PJSIP/{e164}@carrier"})
	if err != nil {
		t.Fatal(err)
	}
	priv := routing.Privacy{Caller: routing.StoreHMAC, Key: []byte("a-deployment-key-of-32-bytes-xyz")}
	d, err := daemon.New(daemon.Config{Node: "n1", Redis: rdb, Driver: drv, Privacy: priv,
		Velocity: redisstore.Velocity{PerDID: 2, Window: time.Minute, Block: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(rctx) }()
	defer func() { cancel(); <-done }()
	<-d.Ready()
	for !drv.Connected() {
		time.Sleep(10 * time.Millisecond)
	}
	eventually := func(what string, f func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	noRaw := func(when string) {
		t.Helper()
		if hits := rawCaller(t, rdb, forms...); len(hits) > 0 {
			t.Fatalf("%s, the caller's number is stored:\n%s", when, strings.Join(hits, "\n"))
		}
	}
	ended := func(n int) func() bool {
		return func() bool { cs, _ := store.ListCDRs(ctx, did, 10); return len(cs) == n }
	}

	// 1: answered and recorded; scanned while it is live.
	endpoint := "PJSIP/" + mobile + "@carrier"
	srv.SetDestination(endpoint, aritest.Behavior{HangupAfter: 1500 * time.Millisecond})
	c1, err := srv.Inbound(aritest.InboundCall{DID: did, CallerNumber: caller, CallerName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	eventually("the live call registered", func() bool {
		calls, _ := store.ListCalls(ctx)
		return len(calls) == 1 && calls[0].State == "bridged"
	})
	noRaw("during a bridged call")
	<-c1.Done()
	eventually("the first CDR", ended(1))

	// 2: nobody answers: voicemail.
	srv.SetDestination(endpoint, aritest.Behavior{NoAnswer: true})
	c2, err := srv.Inbound(aritest.InboundCall{DID: did, CallerNumber: caller})
	if err != nil {
		t.Fatal(err)
	}
	eventually("the voicemail beep", func() bool { return slices.Contains(c2.Played(), "sound:beep") })
	time.Sleep(300 * time.Millisecond) // a short message
	c2.Hangup()
	<-c2.Done()
	eventually("the voicemail's CDR", ended(2))
	eventually("the recording and the voicemail stored", func() bool {
		recs, _ := store.ListRecordings(ctx, did)
		return len(recs) == 2
	})

	// 3: over the velocity limit (blocked); 4: rejected by the block.
	for i := range 2 {
		c, err := srv.Inbound(aritest.InboundCall{DID: did, CallerNumber: caller})
		if err != nil {
			t.Fatal(err)
		}
		<-c.Done()
		eventually(fmt.Sprint("rejected call ", i+1), ended(3+i))
	}
	cdrs, _ := store.ListCDRs(ctx, did, 10)
	if cdrs[0].Reason != string(routing.ReasonBlockedGlobal) || cdrs[1].Reason != string(routing.ReasonVelocity) {
		t.Fatalf("the last two calls: %+v / %+v", cdrs[1], cdrs[0])
	}
	for _, c := range cdrs {
		if c.Caller != priv.Record(caller) {
			t.Fatalf("CDR caller %q, want the HMAC form", c.Caller)
		}
	}
	noRaw("after the calls")
	found, _, err := store.AuditTTL(ctx)
	if err != nil || len(found) != 0 {
		t.Fatalf("live-state keys without a TTL after real calls: %+v, %v", found, err)
	}
}

// A number with --consent by-country records a call between a British
// caller and a French target only after both heard the announcement; a
// call between two US numbers on the same number is recorded without it.
func TestConsentByCountryEndToEnd(t *testing.T) {
	t.Parallel()
	const did = "+33187654321"
	r := redistest.Start(t)
	srv, err := aritest.New(aritest.Options{User: "vnum", Password: "pw-for-tests", App: "vnum"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	store := redisstore.New(r.Client(), redisstore.Options{})
	drv, err := ari.New(ari.Options{URL: srv.URL(), User: "vnum", Password: "pw-for-tests", Trunk: "PJSIP/{e164}@carrier"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(daemon.Config{Node: "n1", Redis: r.Client(), Driver: drv, ConsentCountries: []string{"FR", "GB"}})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(rctx) }()
	defer func() { cancel(); <-done }()
	<-d.Ready()
	for !drv.Connected() {
		time.Sleep(10 * time.Millisecond)
	}
	const consent = "sound:conf-now-recording"
	for _, c := range []struct {
		caller, target string
		want           bool
	}{
		{"+447700900123", "+33612345678", true},
		{"+14155550100", "+14155550199", false},
	} {
		n := routing.Number{DID: did, Consent: routing.ConsentByCountry,
			Route: routing.Route{Targets: []routing.Target{{E164: c.target}}, Record: true}}
		_ = store.RemoveNumber(ctx, did)
		if err := store.AddNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		srv.SetDestination("PJSIP/"+c.target+"@carrier", aritest.Behavior{HangupAfter: 1500 * time.Millisecond})
		in, err := srv.Inbound(aritest.InboundCall{DID: did, CallerNumber: c.caller})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-in.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s → %s: the call did not end", c.caller, c.target)
		}
		callees := srv.CallsTo("PJSIP/" + c.target + "@carrier")
		if len(callees) != 1 {
			t.Fatalf("%s → %s: %d calls to the target", c.caller, c.target, len(callees))
		}
		heard := slices.Contains(in.Played(), consent) && slices.Contains(callees[0].Played(), consent)
		heardAny := slices.Contains(in.Played(), consent) || slices.Contains(callees[0].Played(), consent)
		if c.want && !heard || !c.want && heardAny {
			t.Fatalf("%s → %s: caller heard %v, target heard %v; want the announcement to both: %v",
				c.caller, c.target, in.Played(), callees[0].Played(), c.want)
		}
	}
	// Both calls were recorded.
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs, _ := store.ListRecordings(ctx, did)
		if len(recs) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recordings: %+v", recs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
