package esl_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vnum/vnum/esl"
	"github.com/vnum/vnum/esl/esltest"
	"github.com/vnum/vnum/routing/callflow"
)

// TestRoomMuteMOHAndTones: mute by the member id mod_conference gave the
// leg (the command of fixture e_conference), music on hold outside the
// room and stopped with uuid_break, a tone every member hears; unsafe
// room names never reach FreeSWITCH.
func TestRoomMuteMOHAndTones(t *testing.T) {
	const room = "vnum-conf-standup"
	l := newLab(t, nil)
	ctx := ctx5(t)
	c1, _ := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123", CallerName: "A"})
	c2, _ := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900124", CallerName: "B"})
	c3, _ := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900125", CallerName: "C"})
	a, b, w := callflow.LegID(c1.UUID()), callflow.LegID(c2.UUID()), callflow.LegID(c3.UUID())
	for _, leg := range []callflow.LegID{a, b} {
		if err := l.drv.Join(ctx, room, leg); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "two members", func() bool { return len(l.srv.Conferences()[room]) == 2 })
	if err := l.drv.Mute(ctx, room, b, true); err != nil {
		t.Fatal(err)
	}
	if !l.srv.Muted(c2.UUID()) || l.srv.Muted(c1.UUID()) {
		t.Fatal("the wrong member is muted")
	}
	if !slices.ContainsFunc(l.srv.Commands(), func(c string) bool { return strings.HasPrefix(c, "api conference "+room+" mute 2") }) {
		t.Fatalf("no `conference %s mute 2`: %q", room, l.srv.Commands())
	}
	if err := l.drv.Mute(ctx, room, b, false); err != nil || l.srv.Muted(c2.UUID()) {
		t.Fatalf("unmute: %v", err)
	}
	if err := l.drv.Mute(ctx, room, w, true); err == nil {
		t.Fatal("muting a leg in no room succeeded")
	}
	if err := l.drv.PlayRoom(ctx, room, callflow.PromptJoinTone); err != nil {
		t.Fatal(err)
	}
	tone := esl.DefaultSounds[callflow.PromptJoinTone]
	for _, c := range []*esltest.Call{c1, c2} {
		if !slices.Contains(c.State().Played, tone) {
			t.Fatalf("a member did not hear the tone: %v", c.State().Played)
		}
	}
	if err := l.drv.MusicOnHold(ctx, w, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "music on hold", func() bool { return slices.Contains(c3.State().Played, esl.MOHStream) })
	if err := l.drv.MusicOnHold(ctx, w, false); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(l.srv.Commands(), func(c string) bool { return strings.HasPrefix(c, "api uuid_break "+c3.UUID()) }) {
		t.Fatal("music on hold not stopped with uuid_break")
	}
	before := len(l.srv.Commands())
	for _, bad := range []string{"", "a b", "a;b", "x\nhupall", strings.Repeat("r", 200)} {
		if err := l.drv.Mute(ctx, bad, a, true); !errors.Is(err, esl.ErrBadName) {
			t.Fatalf("mute in %q: %v", bad, err)
		}
		if err := l.drv.PlayRoom(ctx, bad, callflow.PromptJoinTone); !errors.Is(err, esl.ErrBadName) {
			t.Fatalf("play to %q: %v", bad, err)
		}
		if _, err := l.drv.RecordCall(ctx, "c1", bad, ""); !errors.Is(err, esl.ErrBadName) {
			t.Fatalf("record room %q: %v", bad, err)
		}
	}
	if after := len(l.srv.Commands()); after != before {
		t.Fatalf("unsafe room names reached FreeSWITCH: %q", l.srv.Commands()[before:])
	}
}
