package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

type result struct {
	code           int
	stdout, stderr string
}

func vnumctl(t *testing.T, url string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"vnumctl", "--redis", url}, args...), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// The README's walk-through: a number forwarding to a French mobile, one
// blocked caller, and the simulator's verdicts.
func TestReadmeWalkthrough(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	if r := vnumctl(t, url, "number", "add", "+33187654321", "--owner", "alice", "--forward", "+33612345678"); r.code != 0 {
		t.Fatalf("number add: %+v", r)
	}
	if r := vnumctl(t, url, "block", "add", "+447700900123", "--number", "+33187654321", "--reason", "spam"); r.code != 0 {
		t.Fatalf("block add: %+v", r)
	}
	var sim struct {
		Action   string   `json:"action"`
		Reason   string   `json:"reason"`
		CallerID string   `json:"caller_id"`
		Targets  []string `json:"targets"`
	}
	r := vnumctl(t, url, "--json", "simulate", "--to", "+33187654321", "--from", "+447700900123")
	if err := json.Unmarshal([]byte(r.stdout), &sim); err != nil || r.code != 0 {
		t.Fatalf("simulate blocked: %+v %v", r, err)
	}
	if sim.Action != "reject" || sim.Reason != "blocked-by-number-list" || len(sim.Targets) != 0 {
		t.Fatalf("blocked caller: %+v", sim)
	}
	r = vnumctl(t, url, "--json", "simulate", "--to", "+33187654321", "--from", "+14155550100")
	if err := json.Unmarshal([]byte(r.stdout), &sim); err != nil || r.code != 0 {
		t.Fatalf("simulate other: %+v %v", r, err)
	}
	if sim.Action != "forward" || sim.CallerID != "+33187654321" || len(sim.Targets) != 1 || sim.Targets[0] != "+33612345678" {
		t.Fatalf("other caller: %+v", sim)
	}
	if strings.Contains(r.stdout, "14155550100\"") && strings.Contains(r.stdout, `"caller_id": "+1415`) {
		t.Fatalf("caller number presented: %s", r.stdout)
	}
	// Withheld caller, national format with --default-region.
	r = vnumctl(t, url, "--json", "--default-region", "FR", "simulate", "--to", "01 87 65 43 21", "--from", "anonymous")
	if r.code != 0 || !strings.Contains(r.stdout, `"action": "forward"`) {
		t.Fatalf("anonymous caller, national DID: %+v", r)
	}
	r = vnumctl(t, url, "number", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "+33187654321") || !strings.Contains(r.stdout, "alice") {
		t.Fatalf("number list: %+v", r)
	}
}

// Bad input: one line on stderr naming the bad value, a non-zero status,
// nothing written to Redis.
func TestBadInputWritesNothing(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	cases := []struct {
		args []string
		code int
		name string // the bad value the message must name
	}{
		{[]string{"number", "add", "12ab"}, 1, "12ab"},
		{[]string{"number", "add", "+33187654321", "--forward", "+99999"}, 1, "+99999"},
		{[]string{"number", "add", "+33187654321", "--forward", "sip:a@b.c,PJSIP/x"}, 1, "sip:a@b.c,PJSIP/x"},
		{[]string{"number", "add", "+33187654321", "--forward", "+33612345678", "--strategy", "random"}, 1, "random"},
		{[]string{"number", "add", "+33187654321", "--forward", "+33612345678", "--caller-id", "real"}, 1, "real"},
		{[]string{"number", "add", "+33187654321", "--forward", "+33612345678", "--schedule", "mon-fri 25:00-18:00 voicemail"}, 1, "25:00"},
		{[]string{"number", "add", "+33187654321", "--forward", "+33612345678", "--tz", "Mars/Olympus"}, 1, "Mars/Olympus"},
		{[]string{"number", "add", "+33187654321", "--forward", "+33612345678", "--allow-country", "France"}, 1, "FRANCE"},
		{[]string{"number", "add", "+33187654321", "--forward", "+33612345678", "--expires", "soon"}, 1, "soon"},
		{[]string{"number", "add", "+33187654321", "--forward", "+33612345678", "--max-concurrent", "-1"}, 1, "-1"},
		{[]string{"number", "add", "+33187654321", "--forward", "+33612345678", "--wat"}, 2, "wat"},
		{[]string{"block", "add", "+44*9"}, 1, "+44*9"},
		{[]string{"block", "add", "+447700900123", "--ttl", "-1h"}, 1, "-1h"},
		{[]string{"block", "add", "+447700900123", "--number", "+33187654399"}, 1, "+33187654399"},
		{[]string{"simulate", "--to", "+33187654321", "--from", "mallory"}, 1, "mallory"},
		{[]string{"simulate", "--to", "+33187654321", "--from", "+447700900123", "--at", "tomorrow"}, 1, "tomorrow"},
	}
	for _, c := range cases {
		r := vnumctl(t, url, c.args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != c.code || len(lines) != 1 || !strings.Contains(r.stderr, c.name) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want one line naming %q)", c.args, r.code, c.code, r.stderr, c.name)
		}
	}
	keys, err := srv.Client().Keys(context.Background(), "*").Result()
	if err != nil || len(keys) != 0 {
		t.Fatalf("bad input wrote %v (%v)", keys, err)
	}
}

func TestUpdateChangesOnlyGivenFlags(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	if r := vnumctl(t, url, "number", "add", "+33187654321", "--forward", "+33612345678", "--record", "--max-concurrent", "3"); r.code != 0 {
		t.Fatal(r)
	}
	if r := vnumctl(t, url, "number", "update", "+33187654321", "--caller-id", "anonymous"); r.code != 0 {
		t.Fatal(r)
	}
	r := vnumctl(t, url, "--json", "number", "show", "+33187654321")
	var n struct {
		Route struct {
			CallerID string `json:"caller_id"`
			Record   bool   `json:"record"`
			Targets  []struct {
				E164 string `json:"e164"`
			} `json:"targets"`
		} `json:"route"`
		Limits struct {
			MaxConcurrent int `json:"max_concurrent"`
		} `json:"limits"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &n); err != nil {
		t.Fatal(err, r)
	}
	if n.Route.CallerID != "anonymous" || !n.Route.Record || n.Limits.MaxConcurrent != 3 || n.Route.Targets[0].E164 != "+33612345678" {
		t.Fatalf("after update: %+v", n)
	}
	if r := vnumctl(t, url, "number", "update", "+33100000000", "--record"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("update of a missing number: %+v", r)
	}
}

func TestStoreDownIsOneClearError(t *testing.T) {
	r := vnumctl(t, "redis://127.0.0.1:1/0", "number", "list")
	if r.code != 1 || !strings.Contains(r.stderr, "unavailable") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("store down: %+v", r)
	}
	r = vnumctl(t, "redis://:s3cret@127.0.0.1:1/0", "number", "list")
	if strings.Contains(r.stderr, "s3cret") {
		t.Fatalf("password in error: %q", r.stderr)
	}
}

// Live calls, CDRs and recordings written by vnumd are what the operator
// lists.
func TestListsWhatVnumdWrote(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	ctx := context.Background()
	store := redisstore.New(srv.Client(), redisstore.Options{})
	now := time.Now().UTC()
	if err := store.PutCall(ctx, routing.LiveCall{ID: "call-7", DID: "+33187654321", Node: "n1", PBX: "asterisk", Caller: "…0123", State: "bridged", Started: now}); err != nil {
		t.Fatal(err)
	}
	if err := store.WriteCDR(ctx, routing.CDR{CallID: "call-6", DID: "+33187654321", Caller: "…0123", Action: "forward", Outcome: "answered", Started: now, Ended: now}); err != nil {
		t.Fatal(err)
	}
	if err := store.PutRecording(ctx, routing.Recording{Name: "vnum-call-6", CallID: "call-6", DID: "+33187654321", Kind: "call", Started: now, Duration: 42 * time.Second}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"calls", "list"}, []string{"call-7", "bridged", "n1"}},
		{[]string{"cdr", "list", "--number", "+33187654321"}, []string{"call-6", "answered"}},
		{[]string{"recordings", "list", "--number", "+33187654321"}, []string{"vnum-call-6", "42s", "call"}},
	} {
		r := vnumctl(t, url, c.args...)
		for _, w := range c.want {
			if r.code != 0 || !strings.Contains(r.stdout, w) {
				t.Errorf("%v: %+v lacks %q", c.args, r, w)
			}
		}
	}
	if r := vnumctl(t, url, "calls", "hangup", "call-7"); r.code != 1 || !strings.Contains(r.stderr, "n1") {
		t.Errorf("hangup with no node listening: %+v", r)
	}
}

// number add --pool hands out a free number of the pool with the route
// asked for; an empty pool is one clear error and writes nothing.
func TestNumberAddFromPool(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	if r := vnumctl(t, url, "pool", "add", "paris", "+33187654301", "+33187654302"); r.code != 0 {
		t.Fatal(r)
	}
	var got []string
	for range 2 {
		r := vnumctl(t, url, "--json", "number", "add", "--pool", "paris", "--country", "FR", "--forward", "+33612345678")
		var n struct {
			DID    string            `json:"did"`
			Labels map[string]string `json:"labels"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &n); err != nil || r.code != 0 || n.Labels["pool"] != "paris" {
			t.Fatalf("number add --pool: %+v (%v)", r, err)
		}
		got = append(got, n.DID)
	}
	if got[0] == got[1] || !strings.HasPrefix(got[0], "+3318765430") {
		t.Fatalf("allocated %v", got)
	}
	before, _ := srv.Client().Keys(context.Background(), "*").Result()
	r := vnumctl(t, url, "number", "add", "--pool", "paris", "--forward", "+33612345678")
	after, _ := srv.Client().Keys(context.Background(), "*").Result()
	if r.code != 1 || !strings.Contains(r.stderr, "paris") || len(before) != len(after) {
		t.Fatalf("empty pool: %+v, keys %d -> %d", r, len(before), len(after))
	}
}
