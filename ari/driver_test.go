package ari_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnum/vnum/ari"
	"github.com/vnum/vnum/ari/aritest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

// sink records what the driver hands the engine.
type sink struct {
	mu  sync.Mutex
	evs []callflow.Event
}

func (s *sink) Dispatch(e callflow.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evs = append(s.evs, e)
}

func (s *sink) Reconcile(context.Context) error { return nil }

func (s *sink) has(kind callflow.EventKind, leg callflow.LegID, digit string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.ContainsFunc(s.evs, func(e callflow.Event) bool {
		return e.Kind == kind && e.Leg == leg && e.Digit == digit
	})
}

// world is the driver, running against the emulator, with a recording sink.
type world struct {
	t   *testing.T
	srv *aritest.Server
	drv *ari.Driver
	ev  *sink
	ctx context.Context
}

func newWorld(t *testing.T, o ari.Options) *world {
	t.Helper()
	srv, err := aritest.New(aritest.Options{User: "vnum", Password: "s3cret-ari", App: "vnum",
		PlaybackDuration: func(string) time.Duration { return 50 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	return newWorldOn(t, srv, o)
}

func newWorldOn(t *testing.T, srv *aritest.Server, o ari.Options) *world {
	t.Helper()
	t.Cleanup(func() { srv.Close() })
	o.URL, o.User, o.Password, o.App, o.Trunk = srv.URL(), "vnum", "s3cret-ari", "vnum", trunk
	drv, err := ari.New(o)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, srv: srv, drv: drv, ev: &sink{}}
	ctx, cancel := context.WithCancel(context.Background())
	w.ctx = ctx
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = drv.Run(ctx, w.ev)
	}()
	t.Cleanup(func() { cancel(); <-done })
	w.eventually("the event stream connected", func() bool { return srv.Connected("vnum") && drv.Connected() })
	return w
}

func (w *world) eventually(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// caller places an answered inbound call.
func (w *world) caller(did string) (*aritest.Call, callflow.LegID) {
	w.t.Helper()
	c, err := w.srv.Inbound(aritest.InboundCall{DID: did, CallerNumber: "+447700900123", CallerName: "Alice"})
	if err != nil {
		w.t.Fatal(err)
	}
	leg := callflow.LegID(c.ID())
	w.eventually("the inbound call reached the driver", func() bool { return w.ev.has(callflow.EvInbound, leg, "") })
	if err := w.drv.Answer(w.ctx, leg); err != nil {
		w.t.Fatal(err)
	}
	return c, leg
}

// callee originates a leg to an E.164 target that answers at once.
func (w *world) callee(inbound callflow.LegID, e164 string, id string) (*aritest.Call, callflow.LegID) {
	w.t.Helper()
	target := routing.Target{E164: e164}
	ep := endpoint(target)
	w.srv.SetDestination(ep, aritest.Behavior{RingEvent: true})
	leg := callflow.LegID(id)
	if err := w.drv.Originate(w.ctx, callflow.Originate{Leg: leg, CallID: string(inbound), Inbound: inbound,
		Target: target, CallerID: routing.CallerID{Number: "+33187654321"}, Timeout: 5 * time.Second}); err != nil {
		w.t.Fatal(err)
	}
	w.eventually(e164+" answered", func() bool { return w.ev.has(callflow.EvAnswered, leg, "") })
	return w.srv.Call(id), leg
}

func (w *world) live() callflow.Live {
	w.t.Helper()
	l, err := w.drv.Live(w.ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	return l
}

func sortedLegs(l []callflow.LegID) []callflow.LegID {
	out := slices.Clone(l)
	slices.Sort(out)
	return out
}

// Three parties joined into one room talk together; one leaving leaves
// the other two in it; destroying the room takes it away.
func TestJoinThreePartiesInOneRoom(t *testing.T) {
	w := newWorld(t, ari.Options{})
	a, aLeg := w.caller("+33187654321")
	b, bLeg := w.callee(aLeg, "+33612345678", "leg-b")
	c, cLeg := w.callee(aLeg, "+33140000000", "leg-c")
	room := "vnum-room-" + string(aLeg)
	for _, leg := range []callflow.LegID{aLeg, bLeg, cLeg} {
		if err := w.drv.Join(w.ctx, room, leg); err != nil {
			t.Fatalf("join %s: %v", leg, err)
		}
	}
	for _, p := range []*aritest.Call{a, b, c} {
		if got := p.Bridge(); got != room {
			t.Errorf("party %s is in bridge %q, want the room %q", p.ID(), got, room)
		}
	}
	br := w.srv.Bridges()
	if len(br) != 1 || br[0].ID != room || br[0].Type != "mixing" || br[0].Technology != "softmix" {
		t.Fatalf("Asterisk holds bridges %+v, want one mixing (softmix) bridge %q", br, room)
	}
	l := w.live()
	all := sortedLegs([]callflow.LegID{aLeg, bLeg, cLeg})
	if got := sortedLegs(l.Bridges[room]); !slices.Equal(got, all) {
		t.Fatalf("Live: room %q has members %v, want %v (bridges %v)", room, got, all, l.Bridges)
	}
	for _, leg := range all {
		if st, ok := l.Legs[leg]; !ok || st.Bridge != room {
			t.Errorf("Live: leg %s is %+v (listed %v), want Bridge=%q", leg, st, ok, room)
		}
	}

	// B hangs up: A and C stay together in the room.
	b.Hangup()
	w.eventually("B's hang-up reached the driver", func() bool { return w.ev.has(callflow.EvHangup, bLeg, "") })
	select {
	case <-a.Done():
		t.Fatal("A's call ended when B left the room")
	case <-c.Done():
		t.Fatal("C's call ended when B left the room")
	default:
	}
	if a.Bridge() != room || c.Bridge() != room {
		t.Fatalf("after B left, A is in %q and C in %q, want both in %q", a.Bridge(), c.Bridge(), room)
	}
	l = w.live()
	if got, want := sortedLegs(l.Bridges[room]), sortedLegs([]callflow.LegID{aLeg, cLeg}); !slices.Equal(got, want) {
		t.Fatalf("Live after B left: room members %v, want %v", got, want)
	}
	if _, listed := l.Legs[bLeg]; listed {
		t.Errorf("Live still lists B's leg after it hung up")
	}

	// The room goes away when destroyed (and only then), twice is fine.
	if err := w.drv.DestroyBridge(w.ctx, room); err != nil {
		t.Fatal(err)
	}
	if err := w.drv.DestroyBridge(w.ctx, room); err != nil {
		t.Fatalf("destroying a room already gone: %v", err)
	}
	if br := w.srv.Bridges(); len(br) != 0 {
		t.Fatalf("bridges left after DestroyBridge: %+v", br)
	}
	if _, ok := w.live().Bridges[room]; ok {
		t.Fatal("Live still reports the destroyed room")
	}
	if a.Bridge() != "" || c.Bridge() != "" {
		t.Fatalf("after the room was destroyed A is in %q and C in %q", a.Bridge(), c.Bridge())
	}
	for _, leg := range []callflow.LegID{aLeg, cLeg} {
		if err := w.drv.Hangup(w.ctx, leg, callflow.CauseNormal); err != nil {
			t.Fatal(err)
		}
	}
}

// Two first joins at the same moment both create the room: one of them
// gets 409 from Asterisk, and both legs still end up in the one room.
func TestJoinConcurrentFirstJoins(t *testing.T) {
	w := newWorld(t, ari.Options{})
	a, aLeg := w.caller("+33187654321")
	b, bLeg := w.callee(aLeg, "+33612345678", "leg-b")
	room := "vnum-room-" + string(aLeg)
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, leg := range []callflow.LegID{aLeg, bLeg} {
		wg.Go(func() { errs[i] = w.drv.Join(w.ctx, room, leg) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if a.Bridge() != room || b.Bridge() != room {
		t.Fatalf("A is in %q and B in %q, want both in %q", a.Bridge(), b.Bridge(), room)
	}
	if n := len(w.srv.Bridges()); n != 1 {
		t.Fatalf("%d bridges, want one room", n)
	}
}

// A room name that cannot go into a URL path as it is never reaches
// Asterisk, and the error names it.
func TestJoinRefusesUnsafeRoomNames(t *testing.T) {
	w := newWorld(t, ari.Options{})
	_, aLeg := w.caller("+33187654321")
	before := len(w.srv.Requests())
	for _, room := range []string{"", "room/../x", "a b", "x?y=1", "vnum-room-1#2", "rööm", "..", "r%2Fx", "a\nb",
		strings.Repeat("r", 201)} {
		err := w.drv.Join(w.ctx, room, aLeg)
		if !errors.Is(err, ari.ErrBadName) {
			t.Errorf("Join(%q): %v, want ErrBadName", room, err)
			continue
		}
		if room != "" && len(room) < 50 && !strings.Contains(err.Error(), strings.ReplaceAll(room, "\n", `\n`)) {
			t.Errorf("Join(%q): the error %q does not name the room", room, err)
		}
	}
	for _, r := range w.srv.Requests()[before:] {
		t.Errorf("a request reached Asterisk: %s %s", r.Method, r.Path)
	}
	if err := w.drv.Join(w.ctx, "Vnum_room.1-2", aLeg); err != nil {
		t.Fatalf("a safe room name was refused: %v", err)
	}
}

// A stored recording is deleted from Asterisk; deleting it again is not an
// error; a recording still being made is discarded (never stored).
func TestDeleteRecording(t *testing.T) {
	w := newWorld(t, ari.Options{})
	a, aLeg := w.caller("+33187654321")
	name, err := w.drv.RecordMessage(w.ctx, string(aLeg), aLeg, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	a.SendDTMF("#") // ends the message
	w.eventually("the message stored", func() bool { return slices.Contains(w.srv.Recordings(), name) })
	if err := w.drv.DeleteRecording(w.ctx, name); err != nil {
		t.Fatal(err)
	}
	if got := w.srv.Recordings(); slices.Contains(got, name) {
		t.Fatalf("recordings after delete: %v", got)
	}
	if err := w.drv.DeleteRecording(w.ctx, name); err != nil {
		t.Fatalf("deleting a recording already gone: %v", err)
	}

	// Deleted while still recording: nothing is stored when the call ends.
	name2, err := w.drv.RecordMessage(w.ctx, "second", aLeg, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(w.srv.Recordings(), name2) {
		t.Fatalf("recording %q not live: %v", name2, w.srv.Recordings())
	}
	if err := w.drv.DeleteRecording(w.ctx, name2); err != nil {
		t.Fatal(err)
	}
	a.Hangup()
	<-a.Done()
	time.Sleep(50 * time.Millisecond)
	if got := w.srv.Recordings(); len(got) != 0 {
		t.Fatalf("recordings left: %v", got)
	}

	for _, bad := range []string{"../etc/passwd", "a/b", "x y", ""} {
		if err := w.drv.DeleteRecording(w.ctx, bad); !errors.Is(err, ari.ErrBadName) {
			t.Errorf("DeleteRecording(%q): %v, want ErrBadName", bad, err)
		}
	}
}

// The confirm prompt plays to an originated leg, whose key press reaches
// the engine as that leg's digit; the consent prompt plays a real core
// sound; prompts can be overridden.
func TestPromptsAndDigitsOnOriginatedLeg(t *testing.T) {
	w := newWorld(t, ari.Options{Sounds: map[callflow.Prompt]string{callflow.PromptConsent: "sound:custom/call-recorded"}})
	_, aLeg := w.caller("+33187654321")
	b, bLeg := w.callee(aLeg, "+33612345678", "leg-b")
	if err := w.drv.Play(w.ctx, bLeg, callflow.PromptConfirm); err != nil {
		t.Fatal(err)
	}
	w.eventually("the confirm prompt played", func() bool { return w.ev.has(callflow.EvPlaybackDone, bLeg, "") })
	if got := b.Played(); !slices.Equal(got, []string{"sound:followme/options"}) {
		t.Fatalf("the callee heard %v", got)
	}
	b.SendDTMF("1")
	w.eventually("the callee's key press reached the engine", func() bool { return w.ev.has(callflow.EvDTMF, bLeg, "1") })

	if err := w.drv.Play(w.ctx, aLeg, callflow.PromptConsent); err != nil {
		t.Fatal(err)
	}
	w.eventually("the consent prompt played", func() bool { return w.ev.has(callflow.EvPlaybackDone, aLeg, "") })
	if got := w.srv.Call(string(aLeg)).Played(); !slices.Equal(got, []string{"sound:custom/call-recorded"}) {
		t.Fatalf("the caller heard %v, want the overriding sound", got)
	}
	if def := ari.DefaultSounds()[callflow.PromptConsent]; def != "sound:conf-now-recording" {
		t.Fatalf("default consent sound %q", def)
	}
}

func TestSoundsOptionValidated(t *testing.T) {
	for _, uri := range []string{"sound:../../etc/x", "file:/tmp/x", "sound:", "sound:a,b", "sound:a b", "x"} {
		_, err := ari.New(ari.Options{URL: "http://127.0.0.1:1/ari", User: "u", Password: "p", Trunk: trunk,
			Sounds: map[callflow.Prompt]string{callflow.PromptConfirm: uri}})
		if !errors.Is(err, ari.ErrConfig) {
			t.Errorf("sound %q: %v, want ErrConfig", uri, err)
		}
	}
}

// A menu's prompts reach Asterisk as its sounds ("sound:NAME") or as
// uploaded recordings ("file:NAME" is "recording:NAME"); a name that could
// change the request's meaning never does.
func TestMenuPrompts(t *testing.T) {
	w := newWorld(t, ari.Options{})
	a, aLeg := w.caller("+33187654321")
	for _, p := range []callflow.Prompt{"sound:vnum-welcome", "file:alice/greeting.v2"} {
		if err := w.drv.Play(w.ctx, aLeg, p); err != nil {
			t.Fatalf("play %q: %v", p, err)
		}
	}
	w.eventually("both prompts played", func() bool { return len(a.Played()) == 2 })
	if got, want := a.Played(), []string{"sound:vnum-welcome", "recording:alice/greeting.v2"}; !slices.Equal(got, want) {
		t.Fatalf("the caller heard %v, want %v", got, want)
	}
	before := len(w.srv.Requests())
	for _, p := range []callflow.Prompt{"sound:../etc/passwd", "sound:a,b", "file:/abs", "file:a//b", "sound:", "http://x/y.wav",
		"sound:a b", "file:" + callflow.Prompt(strings.Repeat("x", 129)), "unknown-prompt"} {
		if err := w.drv.Play(w.ctx, aLeg, p); err == nil {
			t.Errorf("Play(%q) was accepted", p)
		}
	}
	if n := len(w.srv.Requests()) - before; n != 0 {
		t.Fatalf("%d requests reached Asterisk for refused prompts", n)
	}
}

// A key pressed during a menu prompt (or the confirm prompt) stops it at
// once, as a caller expects: Asterisk itself lets a playback run on
// through digits. The recording consent is never cut short.
func TestKeyStopsMenuPrompt(t *testing.T) {
	srv, err := aritest.New(aritest.Options{User: "vnum", Password: "s3cret-ari", App: "vnum",
		PlaybackDuration: func(string) time.Duration { return time.Minute }})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorldOn(t, srv, ari.Options{})
	a, aLeg := w.caller("+33187654321")
	if err := w.drv.Play(w.ctx, aLeg, "sound:vnum-welcome"); err != nil {
		t.Fatal(err)
	}
	a.SendDTMF("2")
	w.eventually("the key reached the engine", func() bool { return w.ev.has(callflow.EvDTMF, aLeg, "2") })
	w.eventually("the menu prompt stopped by the key", func() bool { return w.ev.has(callflow.EvPlaybackDone, aLeg, "") })

	b, bLeg := w.callee(aLeg, "+33612345678", "leg-b")
	if err := w.drv.Play(w.ctx, bLeg, callflow.PromptConsent); err != nil {
		t.Fatal(err)
	}
	if err := w.drv.Play(w.ctx, bLeg, callflow.PromptConfirm); err != nil {
		t.Fatal(err)
	}
	b.SendDTMF("1")
	w.eventually("the key reached the engine", func() bool { return w.ev.has(callflow.EvDTMF, bLeg, "1") })
	time.Sleep(100 * time.Millisecond)
	if w.ev.has(callflow.EvPlaybackDone, bLeg, "") {
		t.Fatal("a key stopped the recording consent")
	}
}
