package esl_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/esl"
	"github.com/vnum/vnum/esl/esltest"
	"github.com/vnum/vnum/routing/callflow"
)

// TestMenuPromptsAndBargeIn: a menu's sound:NAME plays FreeSWITCH's sound
// NAME.wav, file:NAME the uploaded RecordDir/NAME.wav; bad names never
// reach FreeSWITCH; a key stops a menu or confirm prompt at once
// (uuid_break), never the consent announcement.
func TestMenuPromptsAndBargeIn(t *testing.T) {
	l := newLab(t, nil, func(o *esl.Options, eo *esltest.Options) {
		o.RecordDir = "/srv/vnum"
		eo.PlaybackDuration = 3 * time.Second
	})
	ctx := ctx5(t)
	c, _ := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123"})
	a := callflow.LegID(c.UUID())
	if err := l.drv.Answer(ctx, a); err != nil {
		t.Fatal(err)
	}
	done := func() int {
		return l.snk.count(func(ev callflow.Event) bool { return ev.Kind == callflow.EvPlaybackDone && ev.Leg == a })
	}
	for i, p := range []callflow.Prompt{"sound:ivr/ivr-welcome", "file:menus/acme-main.mp3", callflow.PromptConfirm} {
		start := time.Now()
		if err := l.drv.Play(ctx, a, p); err != nil {
			t.Fatal(err)
		}
		c.SendDTMF("1")
		eventually(t, "the prompt stopped by the key", func() bool { return done() == i+1 })
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%s: a key stopped it after %s", p, d)
		}
	}
	want := []string{"ivr/ivr-welcome.wav", "/srv/vnum/menus/acme-main.mp3", "ivr/ivr-accept_reject_voicemail.wav"}
	if got := c.State().Played; !slices.Equal(got, want) {
		t.Fatalf("played %q, want %q", got, want)
	}
	breaks := 0
	for _, cmd := range l.srv.Commands() {
		if strings.HasPrefix(cmd, "api uuid_break "+c.UUID()) {
			breaks++
		}
	}
	if breaks != 3 {
		t.Fatalf("%d uuid_break commands, want 3", breaks)
	}

	// The consent announcement plays to the end whatever is pressed.
	start := time.Now()
	if err := l.drv.Play(ctx, a, callflow.PromptConsent); err != nil {
		t.Fatal(err)
	}
	c.SendDTMF("1")
	eventually(t, "the consent announcement finished", func() bool { return done() == 4 })
	if d := time.Since(start); d < 2*time.Second {
		t.Fatalf("a key cut the consent announcement after %s", d)
	}

	before := len(l.srv.Commands())
	for _, p := range []callflow.Prompt{"sound:", "sound:../etc/passwd", "file:/etc/passwd", "sound:a//b", "sound:a b",
		"sound:x\n\napi hupall", callflow.Prompt("file:" + strings.Repeat("a", 129)), "sound:a/./b", "unknown-prompt", "tone:x"} {
		err := l.drv.Play(ctx, a, p)
		if err == nil {
			t.Fatalf("Play(%q) accepted", p)
		}
		if strings.HasPrefix(string(p), "sound:") || strings.HasPrefix(string(p), "file:") {
			if !errors.Is(err, esl.ErrBadName) {
				t.Fatalf("Play(%q): %v, want ErrBadName", p, err)
			}
		}
	}
	if n := len(l.srv.Commands()); n != before {
		t.Fatalf("refused prompts sent %d commands", n-before)
	}
}
