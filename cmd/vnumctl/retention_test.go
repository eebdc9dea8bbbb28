package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// A number's retention periods and consent mode are set by add and
// changed by update (0 unsets a period; other flags stay).
func TestNumberRetentionAndConsentFlags(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	ctx := context.Background()
	s := redisstore.New(srv.Client(), redisstore.Options{})
	const did = "+33187654321"
	r := vnumctl(t, url, "number", "add", did, "--forward", "+33612345678", "--record",
		"--retention-cdr", "720h", "--retention-recordings", "30d", "--retention-sms", "7d", "--consent", "by-country")
	if r.code != 0 {
		t.Fatalf("number add: %+v", r)
	}
	n, err := s.GetNumber(ctx, did)
	want := routing.Retention{CDR: 720 * time.Hour, Recordings: 30 * 24 * time.Hour, SMS: 7 * 24 * time.Hour}
	if err != nil || n.Retention != want || n.Consent != routing.ConsentByCountry {
		t.Fatalf("stored %+v %q, %v", n.Retention, n.Consent, err)
	}
	// A call from a UK caller to this French number is recorded with the
	// announcement (the simulator runs the real decision).
	var sim struct {
		Record  bool `json:"record"`
		Consent bool `json:"consent"`
	}
	r = vnumctl(t, url, "--json", "simulate", "--to", did, "--from", "+447700900123")
	if err := json.Unmarshal([]byte(r.stdout), &sim); err != nil || !sim.Record || !sim.Consent {
		t.Fatalf("simulate: %+v %v", r, err)
	}
	if r = vnumctl(t, url, "why", "--to", did, "--from", "+447700900123"); !strings.Contains(r.stdout, "recorded (announced to both parties first)") {
		t.Fatalf("why: %+v", r)
	}
	// A US caller to a US target needs no announcement by country.
	if r = vnumctl(t, url, "number", "update", did, "--forward", "+14155550199"); r.code != 0 {
		t.Fatal(r)
	}
	r = vnumctl(t, url, "--json", "simulate", "--to", did, "--from", "+14155550100")
	sim.Record, sim.Consent = false, false
	if err := json.Unmarshal([]byte(r.stdout), &sim); err != nil || !sim.Record || sim.Consent {
		t.Fatalf("simulate US to US: %+v %v", r, err)
	}
	r = vnumctl(t, url, "number", "update", did, "--retention-voicemail", "1d", "--retention-cdr", "0", "--consent", "never")
	if r.code != 0 {
		t.Fatalf("number update: %+v", r)
	}
	n, _ = s.GetNumber(ctx, did)
	want = routing.Retention{Recordings: 30 * 24 * time.Hour, Voicemail: 24 * time.Hour, SMS: 7 * 24 * time.Hour}
	if n.Retention != want || n.Consent != routing.ConsentNever || !n.Route.Record {
		t.Fatalf("after update %+v %q record=%v", n.Retention, n.Consent, n.Route.Record)
	}
}

// Bad retention, consent, date or DID: one line naming the value, exit 1,
// nothing written.
func TestRetentionBadInputWritesNothing(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	rdb := srv.Client()
	const did = "+33187654321"
	if r := vnumctl(t, url, "number", "add", did, "--forward", "+33612345678"); r.code != 0 {
		t.Fatal(r)
	}
	s := redisstore.New(rdb, redisstore.Options{})
	now := time.Now()
	if err := s.WriteCDR(context.Background(), routing.CDR{CallID: "k1", DID: did, Started: now, Ended: now}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRecording(context.Background(), routing.Recording{Name: "r1", DID: did, Kind: "call", Started: now}); err != nil {
		t.Fatal(err)
	}
	before := keysAndValues(t, rdb)
	for _, c := range []struct {
		args []string
		name string
	}{
		{[]string{"number", "add", "+33187654322", "--forward", "+33612345678", "--retention-cdr", "5x"}, "5x"},
		{[]string{"number", "add", "+33187654322", "--forward", "+33612345678", "--retention-sms", "-1h"}, "-1h"},
		{[]string{"number", "add", "+33187654322", "--forward", "+33612345678", "--retention-recordings", "d"}, `"d"`},
		{[]string{"number", "add", "+33187654322", "--forward", "+33612345678", "--consent", "maybe"}, "maybe"},
		{[]string{"number", "update", did, "--retention-voicemail", "forever"}, "forever"},
		{[]string{"number", "update", did, "--consent", "by-state"}, "by-state"},
		{[]string{"purge", "--before", "2026-13-01"}, "2026-13-01"},
		{[]string{"purge", "--before", "yesterday", "--did", did}, "yesterday"},
		{[]string{"purge", "--before", "2030-01-01", "--did", "12ab"}, "12ab"},
		{[]string{"purge"}, "--before"},
	} {
		r := vnumctl(t, url, c.args...)
		if r.code != 1 || !oneLine(r) || !strings.Contains(r.stderr, c.name) {
			t.Errorf("%v: exit %d, stderr %q (want exit 1 and one line naming %s)", c.args, r.code, r.stderr, c.name)
		}
	}
	if after := keysAndValues(t, rdb); !sameKeys(before, after) {
		t.Fatalf("bad input changed Redis:\nbefore %v\nafter  %v", before, after)
	}
}

// purge --before deletes older records (one number's or all) and queues
// their files; the counts are printed.
func TestPurgeCommand(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	ctx := context.Background()
	s := redisstore.New(srv.Client(), redisstore.Options{})
	old := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	for i, d := range []string{"+33187654321", "+33187654321", "+33187654322"} {
		now := time.Now()
		if err := s.WriteCDR(ctx, routing.CDR{CallID: "k" + string(rune('0'+i)), DID: d, Started: now, Ended: now}); err != nil {
			t.Fatal(err)
		}
	}
	for _, rc := range []routing.Recording{
		{Name: "r-old", DID: "+33187654321", Kind: "call", Started: old},
		{Name: "vm-old", DID: "+33187654321", Kind: "voicemail", Started: old},
		{Name: "r-new", DID: "+33187654321", Kind: "call", Started: time.Now()},
		{Name: "other-old", DID: "+33187654322", Kind: "call", Started: old},
	} {
		if err := s.PutRecording(ctx, rc); err != nil {
			t.Fatal(err)
		}
	}
	// Recordings before 2026-02-01 of one number; its CDRs were written now.
	r := vnumctl(t, url, "purge", "--before", "2026-02-01", "--did", "+33187654321")
	if r.code != 0 || !strings.Contains(r.stdout, "0 CDRs, 1 recording, 1 voicemail message; 2 files queued") {
		t.Fatalf("purge one number: %+v", r)
	}
	// Everything before a minute from now, every number.
	soon := time.Now().Add(time.Minute).UTC().Format(time.RFC3339)
	r = vnumctl(t, url, "--json", "purge", "--before", soon)
	var out struct {
		Purged redisstore.Expired `json:"purged"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 0 {
		t.Fatalf("purge all: %+v, %v", r, err)
	}
	if want := (redisstore.Expired{CDRs: 3, Recordings: 2, FilesQueued: 2}); out.Purged != want {
		t.Fatalf("purge all: %+v, want %+v", out.Purged, want)
	}
	q, _ := s.QueuedDeletions(ctx)
	if len(q) != 4 {
		t.Fatalf("queued files: %v", q)
	}
}

// audit ttl: clean after activity (exit 0), a live key without a TTL is
// listed with its family (exit 1).
func TestAuditTTLCommand(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	ctx := context.Background()
	rdb := srv.Client()
	if r := vnumctl(t, url, "number", "add", "+33187654321", "--forward", "+33612345678", "--max-concurrent", "2"); r.code != 0 {
		t.Fatal(r)
	}
	if r := vnumctl(t, url, "block", "add", "+447700900123", "--ttl", "1h"); r.code != 0 {
		t.Fatal(r)
	}
	s := redisstore.New(rdb, redisstore.Options{})
	if _, err := s.Decide(ctx, routing.Call{ID: "c1", DID: "+33187654321", Caller: "+14155550100"}); err != nil {
		t.Fatal(err)
	}
	r := vnumctl(t, url, "audit", "ttl", "--families")
	if r.code != 0 || !strings.Contains(r.stdout, "0 live-state keys without a TTL") || !strings.Contains(r.stdout, "vnum:{DID}:slots") {
		t.Fatalf("clean audit: %+v", r)
	}
	rdb.ZAdd(ctx, "vnum:{+33187654321}:slots", redisZ("c2"))
	rdb.Persist(ctx, "vnum:{+33187654321}:slots")
	r = vnumctl(t, url, "audit", "ttl")
	if r.code != 1 || !strings.Contains(r.stdout, "no TTL: vnum:{+33187654321}:slots\tconcurrency slots") || !oneLine(r) {
		t.Fatalf("audit with a slot key without TTL: %+v", r)
	}
	r = vnumctl(t, url, "--json", "audit", "ttl")
	var out struct {
		Scanned    int                     `json:"scanned"`
		WithoutTTL []redisstore.TTLFinding `json:"without_ttl"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || r.code != 1 || len(out.WithoutTTL) != 1 || out.Scanned < 3 {
		t.Fatalf("--json audit: %+v, %v", r, err)
	}
}

func redisZ(member string) redis.Z { return redis.Z{Score: 1, Member: member} }

// parseRetention and parseBefore read flag values: never a panic, and
// what they accept is sane.
func FuzzParseRetention(f *testing.F) {
	for _, s := range []string{"720h", "30d", "0", "-1h", "d", "1.5d", "9999999999d", "1h30m", "", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseRetention(s)
		if err == nil && (d < 0 || d == 0 && s != "0") {
			t.Fatalf("%q: %s", s, d)
		}
	})
}

func FuzzParseBefore(f *testing.F) {
	for _, s := range []string{"2026-01-31", "2026-01-31T10:00:00+01:00", "2026-13-01", "yesterday", "", "2026-02-30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := parseBefore(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--before") {
				t.Fatalf("%q: error %q does not name the flag", s, err)
			}
			return
		}
		if tm.Location() != time.UTC {
			t.Fatalf("%q: not UTC: %v", s, tm)
		}
	})
}
