package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/vnum/vnum/internal/redistest"
)

// The operator's walk through a masked session: create, list, show, the
// decision for participants and strangers (why, simulate), close, and
// the proxy number back in its pool.
func TestSessionCommands(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	const proxy, alice, bob, carol, stranger = "+33187650001", "+33612345678", "+447700900123", "+14155550100", "+33699999999"
	if r := vnumctl(t, url, "pool", "add", "px", proxy); r.code != 0 {
		t.Fatal(r)
	}
	r := vnumctl(t, url, "session", "create", "--pool", "px", "--participant", alice, "--participant", bob, "--ttl", "2h")
	m := regexp.MustCompile(`^session ([a-z2-7]{12}) open on proxy number (\+\d+) until \S+\nparticipants (.*)\n$`).FindStringSubmatch(r.stdout)
	if r.code != 0 || m == nil || m[2] != proxy || m[3] != alice+", "+bob {
		t.Fatalf("session create: %+v", r)
	}
	pair := m[1]
	// Three parties, JSON, national format with --default-region, confirm.
	r = vnumctl(t, url, "--json", "--default-region", "FR", "session", "create", "--pool", "px",
		"--participant", "06 12 34 56 79", "--participant", "+33612345680", "--participant", carol, "--confirm", "--ttl", "7d")
	var room struct {
		ID           string   `json:"id"`
		Proxy        string   `json:"proxy"`
		Participants []string `json:"participants"`
		Confirm      bool     `json:"confirm"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &room); err != nil || r.code != 0 || room.Proxy != proxy || !room.Confirm ||
		strings.Join(room.Participants, " ") != "+33612345679 +33612345680 "+carol {
		t.Fatalf("session create --json: %+v (%v)", r, err)
	}

	r = vnumctl(t, url, "session", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "SESSION") || !strings.Contains(r.stdout, pair) || !strings.Contains(r.stdout, room.ID) ||
		strings.Count(r.stdout, "open") != 2 {
		t.Fatalf("session list: %+v", r)
	}
	if r = vnumctl(t, url, "session", "list", "--pool", "px"); r.code != 0 || strings.Count(r.stdout, proxy) != 2 {
		t.Fatalf("session list --pool: %+v", r)
	}
	r = vnumctl(t, url, "session", "show", strings.ToUpper(room.ID))
	for _, w := range []string{room.ID, "conference room", "presses a key first: yes", proxy, carol, "state         open"} {
		if r.code != 0 || !strings.Contains(r.stdout, w) {
			t.Fatalf("session show lacks %q: %+v", w, r)
		}
	}

	// The decision, as the operator asks about it.
	r = vnumctl(t, url, "--json", "simulate", "--to", proxy, "--from", bob)
	var sim struct {
		Action   string   `json:"action"`
		Reason   string   `json:"reason"`
		CallerID string   `json:"caller_id"`
		Targets  []string `json:"targets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &sim); err != nil || sim.Action != "forward" || sim.Reason != "session" ||
		sim.CallerID != proxy || strings.Join(sim.Targets, ",") != alice {
		t.Fatalf("simulate for a participant: %+v (%v)", r, err)
	}
	r = vnumctl(t, url, "why", "--to", proxy, "--from", stranger)
	verdict, _, _ := strings.Cut(r.stdout, "\n")
	if r.code != 0 || verdict != "REJECTED: the caller is not a participant of any open session on proxy number "+proxy+
		", they hear that the number is not in service" {
		t.Fatalf("why for a stranger:\n%s", r.stdout)
	}
	if !strings.Contains(r.stdout, "proxy number of pool px") || !strings.Contains(r.stdout, "participant of no open session") {
		t.Fatalf("why's trace for a stranger:\n%s", r.stdout)
	}
	r = vnumctl(t, url, "why", "--to", proxy, "--from", carol)
	if r.code != 0 || !strings.Contains(r.stdout, "session "+room.ID+": conference room with +33612345679, +33612345680, showing the proxy number "+proxy) {
		t.Fatalf("why for a participant:\n%s", r.stdout)
	}

	// Close both: the proxy number is free again.
	if r = vnumctl(t, url, "session", "close", pair); r.code != 0 || !strings.Contains(r.stdout, "session "+pair+" closed") {
		t.Fatalf("session close: %+v", r)
	}
	if r = vnumctl(t, url, "session", "show", pair); r.code != 1 || !strings.Contains(r.stderr, "not found") || !oneLine(r) {
		t.Fatalf("show of a closed session: %+v", r)
	}
	if r = vnumctl(t, url, "--json", "simulate", "--to", proxy, "--from", alice); !strings.Contains(r.stdout, `"reason": "not-a-session-participant"`) {
		t.Fatalf("a closed session's participant: %+v", r)
	}
	if r = vnumctl(t, url, "session", "close", room.ID); r.code != 0 {
		t.Fatalf("session close: %+v", r)
	}
	if r = vnumctl(t, url, "pool", "show", "px"); r.code != 0 || !regexp.MustCompile(`\+33187650001\s+FR\s+1\s+free`).MatchString(r.stdout) {
		t.Fatalf("the proxy number is not free after its last session closed: %+v", r)
	}
	if r = vnumctl(t, url, "--json", "session", "list"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("list after close: %+v", r)
	}
}

// Bad input: one line naming the bad value, exit 1, nothing written.
func TestSessionBadInputWritesNothing(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	const a, b = "+33612345678", "+447700900123"
	if r := vnumctl(t, url, "pool", "add", "px", "+33187650001"); r.code != 0 {
		t.Fatal(r)
	}
	// The only number already carries a session of a and b.
	if r := vnumctl(t, url, "session", "create", "--pool", "px", "--participant", a, "--participant", b); r.code != 0 {
		t.Fatal(r)
	}
	rdb := srv.Client()
	before := keysAndValues(t, rdb)
	for _, c := range []struct {
		args []string
		name string
	}{
		{[]string{"session", "create", "--pool", "nope", "--participant", a, "--participant", "+33612345670"}, "nope"},
		{[]string{"session", "create", "--pool", "p q", "--participant", a, "--participant", b}, "p q"},
		{[]string{"session", "create", "--pool", "px", "--participant", a, "--participant", "12ab"}, "12ab"},
		{[]string{"session", "create", "--pool", "px", "--participant", a}, "1 given"},
		{[]string{"session", "create", "--pool", "px"}, "0 given"},
		{[]string{"session", "create", "--pool", "px", "--participant", a, "--participant", "+33 6 12 34 56 78"}, "+33612345678"},
		{[]string{"session", "create", "--pool", "px", "--participant", a, "--participant", "+33612345670", "--ttl", "0s"}, "0s"},
		{[]string{"session", "create", "--pool", "px", "--participant", a, "--participant", "+33612345670", "--ttl", "-1h"}, "-1h"},
		{[]string{"session", "create", "--pool", "px", "--participant", a, "--participant", "+33612345670", "--ttl", "soon"}, "soon"},
		{[]string{"session", "create", "--pool", "px", "--participant", a, "--participant", "+33612345670", "--match", "city"}, "city"},
		{[]string{"session", "create", "--pool", "px", "--participant", a, "--participant", "+33612345670", "--match", "area"}, a},
		// The pool has no number a is not already on.
		{[]string{"session", "create", "--pool", "px", "--participant", "+33612345670", "--participant", a}, "px"},
		{[]string{"session", "close", "nope"}, "nope"},
		{[]string{"session", "close", "abcdefgh2345"}, "abcdefgh2345"},
		{[]string{"session", "show", "abc/../x"}, "abc/../x"},
		{[]string{"session", "list", "--pool", "nope"}, "nope"},
	} {
		r := vnumctl(t, url, c.args...)
		if r.code != 1 || !oneLine(r) || !strings.Contains(r.stderr, c.name) {
			t.Errorf("%v: exit %d, stderr %q; want 1 and one line naming %q", c.args, r.code, r.stderr, c.name)
		}
	}
	if after := keysAndValues(t, rdb); !sameKeys(before, after) {
		t.Fatalf("bad input wrote to Redis: %d keys before, %d after", len(before), len(after))
	}
}
