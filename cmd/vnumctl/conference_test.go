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

// Bad room settings: one line naming the field, status 1, nothing written.
func TestConferenceBadSettingsWriteNothing(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	for _, tc := range []struct {
		args  []string
		field string
	}{
		{[]string{"conference", "create", "bad room"}, "name"},
		{[]string{"conference", "create", "r", "--pin", "12"}, "pin"},
		{[]string{"conference", "create", "r", "--pin", "12ab"}, "pin"},
		{[]string{"conference", "create", "r", "--pin", "1234", "--moderator-pin", "1234"}, "moderator-pin"},
		{[]string{"conference", "create", "r", "--max-participants", "101"}, "max-participants"},
		{[]string{"conference", "create", "r", "--max-participants", "1"}, "max-participants"},
		{[]string{"conference", "create", "r", "--wait-for-moderator"}, "wait-for-moderator"},
		{[]string{"conference", "create", "r", "--end-with-moderator", "--pin", "1234"}, "end-with-moderator"},
		{[]string{"conference", "create", "r", "--did", "not-a-number"}, "--did"},
		{[]string{"conference", "mute", "r;x", "1"}, "name"},
	} {
		r := vnumctl(t, url, tc.args...)
		lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
		if r.code != 1 || len(lines) != 1 || !strings.Contains(r.stderr, tc.field) {
			t.Errorf("%v: status %d, stderr %q: want 1 and one line naming %s", tc.args, r.code, r.stderr, tc.field)
		}
	}
	if n := srv.Client().DBSize(context.Background()).Val(); n != 0 {
		t.Fatalf("refused settings wrote %d keys", n)
	}
	// An update refused: the room is as it was.
	if r := vnumctl(t, url, "conference", "create", "r", "--pin", "1234"); r.code != 0 {
		t.Fatalf("%+v", r)
	}
	if r := vnumctl(t, url, "conference", "update", "r", "--max-participants", "500"); r.code != 1 || !strings.Contains(r.stderr, "max-participants") {
		t.Fatalf("%+v", r)
	}
	got, err := redisstore.New(srv.Client(), redisstore.Options{}).GetRoom(context.Background(), "r")
	if err != nil || got.MaxParticipants != routing.DefaultMaxParticipants || got.PIN != "1234" {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestConferenceLifecycle(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	ctx := context.Background()
	s := redisstore.New(srv.Client(), redisstore.Options{})
	must := func(args ...string) result {
		t.Helper()
		r := vnumctl(t, url, args...)
		if r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
		return r
	}
	must("number", "add", "+33187654321", "--forward", "+33612345678")
	must("conference", "create", "standup", "--pin", "1234", "--moderator-pin", "987654", "--max-participants", "5",
		"--announce", "--did", "+33187654321")
	n, err := s.GetNumber(ctx, "+33187654321")
	if err != nil || n.Route.Conference != "standup" {
		t.Fatalf("the number does not lead to the room: %+v %v", n.Route, err)
	}
	d, err := s.Simulate(ctx, routing.Call{DID: "+33187654321", Caller: "+14155550100", At: time.Now()})
	if err != nil || d.Action != routing.ActionConference || d.Room != "standup" {
		t.Fatalf("decision %+v %v", d, err)
	}
	if r := vnumctl(t, url, "conference", "create", "standup"); r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("second create: %+v", r)
	}
	must("conference", "update", "standup", "--record")
	// Two callers in the room (as their calls put them there).
	a, _ := s.JoinRoom(ctx, "standup", routing.RoomMember{CallID: "call-a", Node: "n1", Leg: "leg-a"}, time.Minute)
	b, _ := s.JoinRoom(ctx, "standup", routing.RoomMember{CallID: "call-b", Node: "n1", Leg: "leg-b", Moderator: true}, time.Minute)
	_, _ = s.TouchMember(ctx, "standup", b.ID, time.Now(), time.Minute)
	_, _ = s.ClaimRoom(ctx, "standup", "n1", time.Minute)
	out := must("conference", "show", "standup").stdout
	for _, want := range []string{"record              true", "announce            true", "max participants    5", "host node           n1",
		"call-a", "waiting", "moderator", "in room"} {
		if !strings.Contains(out, want) {
			t.Fatalf("show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1234") || strings.Contains(out, "987654") {
		t.Fatalf("show printed a PIN:\n%s", out)
	}
	if js := must("--json", "conference", "show", "standup").stdout; strings.Contains(js, "1234") || strings.Contains(js, "987654") {
		t.Fatalf("show --json printed a PIN:\n%s", js)
	}
	must("conference", "mute", "standup", a.ID)
	must("conference", "kick", "standup", b.ID)
	ms, _ := s.Roster(ctx, "standup")
	if !ms[0].Muted || !ms[1].Kicked {
		t.Fatalf("roster after mute and kick: %+v", ms)
	}
	must("conference", "unmute", "standup", a.ID)
	if ms, _ = s.Roster(ctx, "standup"); ms[0].Muted {
		t.Fatal("unmute did not reach the roster")
	}
	if r := vnumctl(t, url, "conference", "mute", "standup", "42"); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("mute of no member: %+v", r)
	}
	must("conference", "lock", "standup")
	if _, err := s.JoinRoom(ctx, "standup", routing.RoomMember{CallID: "c"}, time.Minute); err == nil {
		t.Fatal("a locked room let a participant in")
	}
	must("conference", "unlock", "standup")
	var list []struct {
		Room    routing.Room `json:"room"`
		Host    string       `json:"host"`
		Members int          `json:"members"`
	}
	if err := json.Unmarshal([]byte(must("--json", "conference", "list").stdout), &list); err != nil ||
		len(list) != 1 || list[0].Members != 2 || list[0].Host != "n1" || list[0].Room.PIN != "****" {
		t.Fatalf("list %+v %v", list, err)
	}
	must("conference", "remove", "standup")
	if r := vnumctl(t, url, "conference", "show", "standup"); r.code != 1 {
		t.Fatalf("show of a removed room: %+v", r)
	}
}
