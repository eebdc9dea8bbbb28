package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// keysAndValues reads every key with its serialised content.
func keysAndValues(t *testing.T, rdb *redis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, k := range keys {
		out[k] = rdb.Dump(ctx, k).Val()
	}
	return out
}

func sameKeys(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// noLeaks checks, after the test's redis-server and clients are gone, that
// no goroutine the test started is left.
func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func oneLine(r result) bool { return len(strings.Split(strings.TrimSpace(r.stderr), "\n")) == 1 }

func TestPoolCommands(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	r := vnumctl(t, url, "pool", "add", "eu", "+33187650001", "+33187650002", "+33478650001", "+33612340001", "--cool-off", "7d")
	if r.code != 0 || !strings.Contains(r.stdout, "pool eu: 4 added, 0 already there") || !strings.Contains(r.stdout, "cool-off 7d") {
		t.Fatalf("pool add: %+v", r)
	}
	// National format with --default-region; one already there.
	r = vnumctl(t, url, "--default-region", "US", "pool", "add", "us", "(415) 555-0101", "+14155550102")
	if r.code != 0 || !strings.Contains(r.stdout, "2 added") || !strings.Contains(r.stdout, "cool-off 30d") {
		t.Fatalf("pool add us: %+v", r)
	}
	if r = vnumctl(t, url, "pool", "add", "us", "+14155550102"); r.code != 0 || !strings.Contains(r.stdout, "0 added, 1 already there") {
		t.Fatalf("pool add again: %+v", r)
	}
	r = vnumctl(t, url, "pool", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "POOL") {
		t.Fatalf("pool list: %+v", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 3 || strings.Join(strings.Fields(lines[1]), " ") != "eu 4 0 0 7d" || strings.Join(strings.Fields(lines[2]), " ") != "us 2 0 0 30d" {
		t.Fatalf("pool list:\n%s", r.stdout)
	}
	r = vnumctl(t, url, "pool", "show", "eu")
	if r.code != 0 {
		t.Fatalf("pool show: %+v", r)
	}
	for _, want := range []string{"free         4", "+33187650001  FR       1     free", "+33478650001  FR       4     free", "+33612340001  FR       -     free"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("pool show lacks %q:\n%s", want, r.stdout)
		}
	}
	var p redisstore.PoolDetail
	r = vnumctl(t, url, "--json", "pool", "show", "us")
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || p.Free != 2 || len(p.Members) != 2 || p.Members[0].Area != "415" {
		t.Fatalf("pool show --json: %+v %v", r, err)
	}
}

// Bad pool input: one line on stderr naming the bad value, exit status 1,
// nothing written.
func TestPoolBadInputWritesNothing(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	if r := vnumctl(t, url, "pool", "add", "eu", "+33187650001"); r.code != 0 {
		t.Fatal(r)
	}
	if r := vnumctl(t, url, "number", "add", "+33187654321", "--forward", "+33612345678"); r.code != 0 {
		t.Fatal(r)
	}
	before := keysAndValues(t, srv.Client())
	for _, c := range []struct {
		args []string
		name string
	}{
		{[]string{"pool", "add", "us", "+14155550101", "12ab"}, "12ab"},
		{[]string{"pool", "add", "us", "0187650001"}, "0187650001"}, // national, no --default-region
		{[]string{"pool", "add", "e u", "+14155550101"}, "e u"},
		{[]string{"pool", "add", "us", "+14155550101", "+33187650001"}, "+33187650001"}, // in pool eu
		{[]string{"pool", "add", "us", "+14155550101", "+33187654321"}, "+33187654321"}, // provisioned
		{[]string{"pool", "add", "us", "+14155550101", "--cool-off", "soon"}, "soon"},
		{[]string{"pool", "show", "nope"}, "nope"},
		{[]string{"number", "release", "+33187659999"}, "+33187659999"},
		{[]string{"number", "release", "+33187654321"}, "+33187654321"}, // in no pool
		{[]string{"number", "release", "12ab"}, "12ab"},
		{[]string{"number", "rotate", "+33187654321"}, "+33187654321"},
		{[]string{"why", "--to", "+33187654321", "--from", "mallory"}, "mallory"},
	} {
		r := vnumctl(t, url, c.args...)
		if r.code != 1 || !oneLine(r) || !strings.Contains(r.stderr, c.name) {
			t.Errorf("%v: exit %d, stderr %q (want 1, one line naming %q)", c.args, r.code, r.stderr, c.name)
		}
	}
	if r := vnumctl(t, url, "pool", "add", "eu"); r.code != 2 || !oneLine(r) {
		t.Errorf("pool add without DID: %+v", r)
	}
	if after := keysAndValues(t, srv.Client()); !sameKeys(before, after) {
		t.Fatalf("bad input wrote: %d keys before, %d after", len(before), len(after))
	}
}

// A number handed out from a pool (as vnumd or a provisioning system does
// through the store), released and rotated with vnumctl.
func TestReleaseAndRotate(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	ctx := context.Background()
	if r := vnumctl(t, url, "pool", "add", "eu", "+33187650001", "+33187650002", "+33187650003", "--cool-off", "10d"); r.code != 0 {
		t.Fatal(r)
	}
	s := redisstore.New(srv.Client(), redisstore.Options{})
	take := func() string {
		t.Helper()
		d, err := s.Allocate(ctx, "eu", "FR", "1")
		if err != nil {
			t.Fatal(err)
		}
		n := routing.Number{DID: d, Owner: "carol", Labels: map[string]string{routing.LabelPool: "eu"},
			Route: routing.Route{Targets: []routing.Target{{E164: "+33612345678"}}}, Limits: routing.Limits{MaxConcurrent: 2}}
		if err := s.AddNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		return d
	}
	a := take()
	if r := vnumctl(t, url, "block", "add", "+447700900123", "--number", a, "--reason", "spam"); r.code != 0 {
		t.Fatal(r)
	}
	now := time.Now().UTC()
	if err := s.WriteCDR(ctx, routing.CDR{CallID: "k1", DID: a, Caller: "+447700900123", Started: now, Ended: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecording(ctx, routing.Recording{Name: "vm-1", CallID: "k1", DID: a, Kind: "voicemail", Started: now}); err != nil {
		t.Fatal(err)
	}
	r := vnumctl(t, url, "number", "release", a)
	if r.code != 0 {
		t.Fatal(r)
	}
	for _, want := range []string{"released " + a + ": in quarantine in pool eu until", "1 blocklist entry", "1 CDR,", "1 recording/voicemail metadata record", "1 recording file queued for deletion from the PBX"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("release output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = vnumctl(t, url, "why", "--to", a, "--from", "+447700900123")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "NOT IN SERVICE: "+a+" was released and is in quarantine in pool eu until ") {
		t.Fatalf("why after release: %+v", r)
	}
	r = vnumctl(t, url, "cdr", "list", "--number", a)
	if r.code != 0 || strings.Contains(r.stdout, "k1") {
		t.Fatalf("CDR left after release: %+v", r)
	}

	b := take()
	r = vnumctl(t, url, "number", "rotate", b)
	if r.code != 0 {
		t.Fatal(r)
	}
	fresh := strings.SplitN(r.stdout, "\n", 2)[0]
	if fresh == b || fresh == a || routing.AreaCode(fresh) != "1" || !strings.Contains(r.stdout, b+" is in quarantine in pool eu") {
		t.Fatalf("rotate: %+v", r)
	}
	r = vnumctl(t, url, "--json", "number", "show", fresh)
	var n routing.Number
	if err := json.Unmarshal([]byte(r.stdout), &n); err != nil || n.Owner != "carol" || n.Limits.MaxConcurrent != 2 || n.Route.Targets[0].E164 != "+33612345678" {
		t.Fatalf("rotated number: %+v %v", r, err)
	}
	r = vnumctl(t, url, "pool", "show", "eu")
	if !strings.Contains(r.stdout, "allocated    1") || !strings.Contains(r.stdout, "quarantined  2") {
		t.Fatalf("pool after release and rotation:\n%s", r.stdout)
	}
	// The pool is empty now: rotation says so and changes nothing.
	r = vnumctl(t, url, "number", "rotate", fresh)
	if r.code != 1 || !oneLine(r) || !strings.Contains(r.stderr, "pool eu") || !strings.Contains(r.stderr, "pool empty") {
		t.Fatalf("rotate from an empty pool: %+v", r)
	}
}

func TestWhy(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	const did = "+33187654321"
	if r := vnumctl(t, url, "number", "add", did, "--forward", "+33612345678", "--expires", "2030-01-01T00:00:00Z"); r.code != 0 {
		t.Fatal(r)
	}
	if r := vnumctl(t, url, "block", "add", "+447700900123", "--number", did, "--reason", "spam"); r.code != 0 {
		t.Fatal(r)
	}
	at := "2029-06-01T10:00:00Z"
	for _, c := range []struct {
		from, at string
		verdict  string
		trace    string
	}{
		{"+447700900123", at, "REJECTED: the caller is on the number's blocklist (spam), they hear busy", "matches number blocklist entry +447700900123"},
		{"+14155550100", at, "FORWARDED to +33612345678, showing the DID " + did, "caller ID: the DID " + did},
		{"+14155550100", "2030-01-02T00:00:00Z", "NOT IN SERVICE: the number expired at 2030-01-01T00:00:00Z, the caller hears that the number is not in service", "number expired at"},
	} {
		r := vnumctl(t, url, "why", "--to", did, "--from", c.from, "--at", c.at)
		if r.code != 0 {
			t.Fatalf("why %s at %s: %+v", c.from, c.at, r)
		}
		if first := strings.SplitN(r.stdout, "\n", 2)[0]; first != c.verdict {
			t.Errorf("why %s at %s: verdict %q, want %q", c.from, c.at, first, c.verdict)
		}
		if !strings.Contains(r.stdout, c.trace) || !strings.Contains(r.stdout, "how the decision was reached:\n  1. number "+did+": found") {
			t.Errorf("why %s at %s: trace lacks %q:\n%s", c.from, c.at, c.trace, r.stdout)
		}
	}
	var ex explanation
	r := vnumctl(t, url, "--json", "why", "--to", "+33187650000", "--from", "anonymous")
	if err := json.Unmarshal([]byte(r.stdout), &ex); err != nil || ex.Action != routing.ActionUnknown ||
		ex.Verdict != "NOT IN SERVICE: +33187650000 is not a provisioned number, the caller hears that the number is not in service" {
		t.Fatalf("why unknown number: %+v %v", r, err)
	}
}

// The verdict line for every kind of decision reads as a sentence.
func TestVerdicts(t *testing.T) {
	const did = "+33187654321"
	until := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		d    routing.Decision
		want string
	}{
		{routing.Decision{Action: routing.ActionReject, Reason: routing.ReasonBlockedGlobal, Reject: routing.RejectCongestion,
			Detail: "global blocklist entry +44* (fraud (wangiri)) until " + until.Format(time.RFC3339)},
			"REJECTED: the caller is on the global blocklist (fraud (wangiri), until 2026-12-01T00:00:00Z), they hear congestion"},
		{routing.Decision{Action: routing.ActionReject, Reason: routing.ReasonBlockedNumber, Reject: routing.RejectBusy, Detail: "number blocklist entry anonymous"},
			"REJECTED: the caller is on the number's blocklist, they hear busy"},
		{routing.Decision{Action: routing.ActionVoicemail, Reason: routing.ReasonNotAllowlisted},
			"VOICEMAIL: the number takes calls only from its allowlist and the caller is not on it, the caller may leave a message"},
		{routing.Decision{Action: routing.ActionVoicemail, Reason: routing.ReasonScheduleVM, Detail: `schedule "sat,sun voicemail"`},
			`VOICEMAIL: the schedule rule "sat,sun voicemail" applies at this time, the caller may leave a message`},
		{routing.Decision{Action: routing.ActionReject, Reason: routing.ReasonConcurrency, Reject: routing.RejectBusy, Detail: "cap of 2 concurrent calls reached"},
			"REJECTED: the number's cap of 2 concurrent calls reached, they hear busy"},
		{routing.Decision{Action: routing.ActionVoicemail, Reason: routing.ReasonDailyMinutes, Detail: "daily cap of 60 forwarded minutes reached; voicemail instead"},
			"VOICEMAIL: the number's daily cap of 60 forwarded minutes reached, the caller may leave a message"},
		{routing.Decision{Action: routing.ActionReject, Reason: routing.ReasonNotActive, Reject: routing.RejectNotInService, Detail: "number is suspended"},
			"NOT IN SERVICE: the number is suspended, the caller hears that the number is not in service"},
		{routing.Decision{Action: routing.ActionForward, Reason: routing.ReasonForwardScheduled, Strategy: routing.Simultaneous,
			Targets: []routing.Target{{E164: "+33612345678"}, {SIPURI: "sip:bob@example.com"}}, CallerID: routing.CallerID{Number: "+14155550100"}, Record: true},
			"FORWARDED to +33612345678, sip:bob@example.com (all at once), showing the caller's own number +14155550100, by a schedule rule, recorded"},
		{routing.Decision{Action: routing.ActionForward, Reason: routing.ReasonForward, Targets: []routing.Target{{E164: "+33612345678"}},
			CallerID: routing.CallerID{Anonymous: true}, Voicemail: true},
			"FORWARDED to +33612345678, showing no number (anonymous), voicemail if nobody answers"},
	} {
		if got := verdict(c.d, did); got != c.want {
			t.Errorf("verdict(%s/%s):\n got %s\nwant %s", c.d.Action, c.d.Reason, got, c.want)
		}
	}
}
