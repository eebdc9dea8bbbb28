package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

const vmDID = "+33187654321"

// voicemailFixture: a number with two voicemail messages (vm-old, then
// vm-new a minute later) and a recorded call, as vnumd writes them.
func voicemailFixture(t *testing.T) (*redistest.Server, *redisstore.Store, time.Time) {
	t.Helper()
	srv := redistest.Start(t)
	if r := vnumctl(t, srv.URL(), "number", "add", vmDID, "--forward", "+33612345678", "--voicemail"); r.code != 0 {
		t.Fatal(r)
	}
	store := redisstore.New(srv.Client(), redisstore.Options{})
	at := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	for _, r := range []routing.Recording{
		{Name: "vm-old", CallID: "call-1", DID: vmDID, Kind: "voicemail", Caller: "…0123", Started: at, Duration: 12 * time.Second, Node: "n1", PBX: "asterisk"},
		{Name: "rec-call", CallID: "call-2", DID: vmDID, Kind: "call", Caller: "…0456", Started: at.Add(30 * time.Second), Duration: time.Minute},
		{Name: "vm-new", CallID: "call-3", DID: vmDID, Kind: "voicemail", Caller: "anonymous", Started: at.Add(time.Minute), Duration: 40 * time.Second, Node: "n2", PBX: "freeswitch"},
	} {
		if err := store.PutRecording(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return srv, store, at
}

func TestVoicemailCommands(t *testing.T) {
	noLeaks(t)
	srv, store, at := voicemailFixture(t)
	url := srv.URL()
	ctx := context.Background()

	// list: newest first, voicemail only.
	r := vnumctl(t, url, "voicemail", "list", vmDID)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "RECEIVED") {
		t.Fatalf("voicemail list: %+v", r)
	}
	if f := strings.Fields(lines[1]); len(f) != 4 || f[0] != at.Add(time.Minute).Format(time.RFC3339) || f[1] != "vm-new" || f[2] != "40s" || f[3] != "anonymous" {
		t.Fatalf("newest line: %q", lines[1])
	}
	if f := strings.Fields(lines[2]); len(f) != 4 || f[1] != "vm-old" || f[2] != "12s" || f[3] != "…0123" {
		t.Fatalf("oldest line: %q", lines[2])
	}
	// --json after the command or before it; the DID in national format.
	for _, args := range [][]string{
		{"voicemail", "list", vmDID, "--json"},
		{"--json", "--default-region", "FR", "voicemail", "list", "01 87 65 43 21"},
	} {
		r = vnumctl(t, url, args...)
		var msgs []routing.Recording
		if err := json.Unmarshal([]byte(r.stdout), &msgs); err != nil || r.code != 0 {
			t.Fatalf("%v: %+v (%v)", args, r, err)
		}
		if len(msgs) != 2 || msgs[0].Name != "vm-new" || msgs[1].Name != "vm-old" || msgs[1].Duration != 12*time.Second || !msgs[1].Started.Equal(at) {
			t.Fatalf("%v: %+v", args, msgs)
		}
	}

	// show.
	r = vnumctl(t, url, "voicemail", "show", vmDID, "vm-old")
	for _, w := range []string{"message   vm-old", "number    " + vmDID, "received  " + at.Format(time.RFC3339), "duration  12s", "caller    …0123", "call      call-1", "node n1 on asterisk"} {
		if r.code != 0 || !strings.Contains(r.stdout, w) {
			t.Fatalf("voicemail show lacks %q: %+v", w, r)
		}
	}

	// delete: gone from the list, its file queued for vnumd to delete.
	r = vnumctl(t, url, "voicemail", "delete", vmDID, "vm-old")
	if r.code != 0 || !strings.Contains(r.stdout, "deleted voicemail vm-old") || !strings.Contains(r.stdout, "queued") {
		t.Fatalf("voicemail delete: %+v", r)
	}
	if r = vnumctl(t, url, "voicemail", "list", vmDID); r.code != 0 || strings.Contains(r.stdout, "vm-old") || !strings.Contains(r.stdout, "vm-new") {
		t.Fatalf("list after delete: %+v", r)
	}
	if q, err := store.QueuedDeletions(ctx); err != nil || len(q) != 1 || q[0] != "vm-old" {
		t.Fatalf("deletion queue: %v (%v)", q, err)
	}
	// The recorded call is not a voicemail: neither shown nor deleted here.
	for _, args := range [][]string{{"voicemail", "show", vmDID, "rec-call"}, {"voicemail", "delete", vmDID, "rec-call"}, {"voicemail", "delete", vmDID, "vm-old"}} {
		r = vnumctl(t, url, args...)
		if r.code != 1 || !oneLine(r) || !strings.Contains(r.stderr, args[3]) || !strings.Contains(r.stderr, "not found") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	if recs, _ := store.ListRecordings(ctx, vmDID); len(recs) != 2 {
		t.Fatalf("recordings left: %+v", recs)
	}

	// Mailbox: defaults, then each setting alone.
	r = vnumctl(t, url, "voicemail", "settings", vmDID)
	if r.code != 0 || !strings.Contains(r.stdout, "greeting     default prompt") || !strings.Contains(r.stdout, "max message  2m0s") {
		t.Fatalf("default settings: %+v", r)
	}
	if r = vnumctl(t, url, "voicemail", "greeting", vmDID, "--file", "alice/greeting"); r.code != 0 || !strings.Contains(r.stdout, "greeting     file alice/greeting") {
		t.Fatalf("greeting --file: %+v", r)
	}
	if r = vnumctl(t, url, "voicemail", "settings", vmDID, "--max", "90s"); r.code != 0 || !strings.Contains(r.stdout, "max message  1m30s") || !strings.Contains(r.stdout, "file alice/greeting") {
		t.Fatalf("settings --max: %+v", r)
	}
	if r = vnumctl(t, url, "voicemail", "greeting", vmDID, "--sound", "vm-intro"); r.code != 0 || !strings.Contains(r.stdout, "greeting     sound vm-intro") || !strings.Contains(r.stdout, "1m30s") {
		t.Fatalf("greeting --sound: %+v", r)
	}
	// What the call flow will read.
	if m, err := store.GetMailbox(ctx, vmDID); err != nil || m != (routing.Mailbox{Greeting: "sound:vm-intro", MaxMessage: 90 * time.Second}) {
		t.Fatalf("stored mailbox: %+v, %v", m, err)
	}
	r = vnumctl(t, url, "voicemail", "settings", vmDID, "--json")
	var mb struct {
		DID        string        `json:"did"`
		Greeting   string        `json:"greeting"`
		MaxMessage time.Duration `json:"max_message"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &mb); err != nil || mb.DID != vmDID || mb.Greeting != "sound:vm-intro" || mb.MaxMessage != 90*time.Second {
		t.Fatalf("settings --json: %+v (%v)", r, err)
	}
	if r = vnumctl(t, url, "voicemail", "greeting", vmDID, "--default"); r.code != 0 || !strings.Contains(r.stdout, "default prompt") || !strings.Contains(r.stdout, "1m30s") {
		t.Fatalf("greeting --default: %+v", r)
	}
	if r = vnumctl(t, url, "voicemail", "settings", vmDID, "--max", "default"); r.code != 0 || !strings.Contains(r.stdout, "2m0s") {
		t.Fatalf("settings --max default: %+v", r)
	}
	if n := srv.Client().Exists(ctx, "vnum:{"+vmDID+"}:mailbox").Val(); n != 0 {
		t.Fatal("a mailbox back to its defaults is still stored")
	}
}

// Bad input: one line on stderr naming the bad value, exit status 1 (2 for
// a misused command), and nothing written.
func TestVoicemailBadInputWritesNothing(t *testing.T) {
	noLeaks(t)
	srv, _, _ := voicemailFixture(t)
	url := srv.URL()
	if r := vnumctl(t, url, "voicemail", "greeting", vmDID, "--sound", "vm-intro"); r.code != 0 {
		t.Fatal(r)
	}
	before := keysAndValues(t, srv.Client())
	cases := []struct {
		args []string
		code int
		name string
	}{
		{[]string{"voicemail", "greeting", vmDID, "--file", "../../etc/passwd"}, 1, "../../etc/passwd"},
		{[]string{"voicemail", "greeting", vmDID, "--file", "/var/spool/x"}, 1, "/var/spool/x"},
		{[]string{"voicemail", "greeting", vmDID, "--sound", "hello world"}, 1, "hello world"},
		{[]string{"voicemail", "greeting", vmDID, "--sound", "a\n\nb"}, 1, `a\n\nb`},
		{[]string{"voicemail", "greeting", vmDID, "--sound", ""}, 1, `sound:`},
		{[]string{"voicemail", "greeting", vmDID, "--file", strings.Repeat("g", 129)}, 1, "gggg"},
		{[]string{"voicemail", "greeting", vmDID, "--sound", "a", "--file", "b"}, 2, "exactly one"},
		{[]string{"voicemail", "greeting", vmDID, "--sound", "a", "--default"}, 2, "exactly one"},
		{[]string{"voicemail", "greeting", vmDID}, 2, "exactly one"},
		{[]string{"voicemail", "greeting", "+33187659999", "--sound", "vm-intro"}, 1, "+33187659999"},
		{[]string{"voicemail", "greeting", "12ab", "--sound", "vm-intro"}, 1, "12ab"},
		{[]string{"voicemail", "settings", vmDID, "--max", "11m"}, 1, "11m"},
		{[]string{"voicemail", "settings", vmDID, "--max", "1.5s"}, 1, "1.5s"},
		{[]string{"voicemail", "settings", vmDID, "--max", "0s"}, 1, "0s"},
		{[]string{"voicemail", "settings", vmDID, "--max", "-30s"}, 1, "-30s"},
		{[]string{"voicemail", "settings", vmDID, "--max", "forever"}, 1, "forever"},
		{[]string{"voicemail", "settings", "+33187659999", "--max", "1m"}, 1, "+33187659999"},
		{[]string{"voicemail", "settings", "+33187659999"}, 1, "+33187659999"},
		{[]string{"voicemail", "list", "+33187659999"}, 1, "+33187659999"},
		{[]string{"voicemail", "list", "mallory"}, 1, "mallory"},
		{[]string{"voicemail", "show", vmDID, "nope"}, 1, "nope"},
		{[]string{"voicemail", "show", vmDID}, 2, "NAME"},
		{[]string{"voicemail", "delete", vmDID, "nope"}, 1, "nope"},
		{[]string{"voicemail", "delete", "+33187659999", "vm-old"}, 1, "vm-old"},
		{[]string{"voicemail", "delete", "12ab", "vm-old"}, 1, "12ab"},
		{[]string{"voicemail", "delete", vmDID, "vm-old", "vm-new"}, 2, "NAME"},
		{[]string{"voicemail", "list", vmDID, "--wat"}, 2, "wat"},
	}
	for _, c := range cases {
		r := vnumctl(t, url, c.args...)
		if r.code != c.code || !oneLine(r) || !strings.Contains(r.stderr, c.name) {
			t.Errorf("%q: exit %d (want %d), stderr %q (want one line naming %q)", c.args, r.code, c.code, r.stderr, c.name)
		}
	}
	if after := keysAndValues(t, srv.Client()); !sameKeys(before, after) {
		t.Fatalf("bad input changed Redis: %d keys before, %d after", len(before), len(after))
	}
}
