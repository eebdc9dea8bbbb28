package ari_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vnum/vnum/ari"
	"github.com/vnum/vnum/routing/callflow"
)

// TestRoomMuteMOHAndTones: mute is the channel's, direction in (the member
// still hears the room); music on hold starts and stops on a channel
// outside the room; a tone is a bridge playback every member hears;
// unsafe room names never reach Asterisk.
func TestRoomMuteMOHAndTones(t *testing.T) {
	const room = "vnum-conf-standup"
	w := newWorld(t, ari.Options{})
	a, aLeg := w.caller("+33187654321")
	b, bLeg := w.caller("+33187654321")
	c, cLeg := w.caller("+33187654321")
	for _, leg := range []callflow.LegID{aLeg, bLeg} {
		if err := w.drv.Join(w.ctx, room, leg); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.drv.Mute(w.ctx, room, bLeg, true); err != nil {
		t.Fatal(err)
	}
	if !b.Muted() || a.Muted() {
		t.Fatal("the wrong member is muted")
	}
	found := false
	for _, r := range w.srv.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/channels/"+string(bLeg)+"/mute") &&
			(strings.Contains(r.Query, "direction=in") || strings.Contains(string(r.Body), `"direction":"in"`)) {
			found = true
		}
	}
	if !found {
		t.Fatal("no POST /channels/{id}/mute with direction=in")
	}
	if err := w.drv.Mute(w.ctx, room, bLeg, false); err != nil || b.Muted() {
		t.Fatalf("unmute: %v", err)
	}
	if err := w.drv.PlayRoom(w.ctx, room, callflow.PromptJoinTone); err != nil {
		t.Fatal(err)
	}
	tone := ari.DefaultSounds()[callflow.PromptJoinTone]
	w.eventually("both members hear the tone", func() bool {
		return slices.Contains(a.Played(), tone) && slices.Contains(b.Played(), tone)
	})
	if slices.Contains(c.Played(), tone) {
		t.Fatal("a caller outside the room heard its tone")
	}
	if err := w.drv.MusicOnHold(w.ctx, cLeg, true); err != nil || !c.OnHold() {
		t.Fatalf("music on hold: %v", err)
	}
	if err := w.drv.MusicOnHold(w.ctx, cLeg, false); err != nil || c.OnHold() {
		t.Fatalf("stop music on hold: %v", err)
	}
	before := len(w.srv.Requests())
	for _, bad := range []string{"", "a b", "a/b", "x?y=1", "../x"} {
		if err := w.drv.Mute(w.ctx, bad, aLeg, true); !errors.Is(err, ari.ErrBadName) {
			t.Fatalf("mute in %q: %v", bad, err)
		}
		if err := w.drv.PlayRoom(w.ctx, bad, callflow.PromptJoinTone); !errors.Is(err, ari.ErrBadName) {
			t.Fatalf("play to %q: %v", bad, err)
		}
	}
	if after := len(w.srv.Requests()); after != before {
		t.Fatalf("unsafe room names reached Asterisk: %d requests", after-before)
	}
}
