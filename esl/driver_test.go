package esl_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnum/vnum/esl"
	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/esl/esltest"
	"github.com/vnum/vnum/internal/vnumdtest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

// sink is a callflow.Sink that records events; Reconcile does nothing
// unless set.
type sink struct {
	mu        sync.Mutex
	events    []callflow.Event
	reconcile func(ctx context.Context) error
}

func (s *sink) Dispatch(ev callflow.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, ev)
}

func (s *sink) Reconcile(ctx context.Context) error {
	if s.reconcile != nil {
		return s.reconcile(ctx)
	}
	return nil
}

// wait returns the first event matching f, waiting up to 5 s.
func (s *sink) wait(t *testing.T, what string, f func(callflow.Event) bool) callflow.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, ev := range s.events {
			if f(ev) {
				s.mu.Unlock()
				return ev
			}
		}
		s.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no event: %s", what)
	return callflow.Event{}
}

func (s *sink) count(f func(callflow.Event) bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ev := range s.events {
		if f(ev) {
			n++
		}
	}
	return n
}

// lab is the driver running on an emulator with a recording sink.
type lab struct {
	srv *esltest.Server
	drv *esl.Driver
	snk *sink
}

func newLab(t *testing.T, snk *sink, opts ...func(*esl.Options, *esltest.Options)) *lab {
	t.Helper()
	eo := esltest.Options{Password: password, PlaybackDuration: 50 * time.Millisecond}
	o := esl.Options{Trunk: trunk, SIPTemplate: sipTmpl, Logger: vnumdtest.Logger(), MaxBackoff: 100 * time.Millisecond}
	for _, f := range opts {
		f(&o, &eo)
	}
	srv, err := esltest.New(eo)
	if err != nil {
		t.Fatal(err)
	}
	if snk == nil {
		snk = &sink{}
	}
	o.Addr, o.Password = srv.Addr(), srv.Password()
	drv, err := esl.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = drv.Run(ctx, snk)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		srv.Close()
	})
	deadline := time.Now().Add(5 * time.Second)
	for !drv.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("driver did not connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return &lab{srv: srv, drv: drv, snk: snk}
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// inbound places a call and waits for the driver's EvInbound.
func (l *lab) inbound(t *testing.T, in esltest.InboundCall) (*esltest.Call, callflow.Event) {
	t.Helper()
	c, err := l.srv.Inbound(in)
	if err != nil {
		t.Fatal(err)
	}
	ev := l.snk.wait(t, "EvInbound", func(ev callflow.Event) bool {
		return ev.Kind == callflow.EvInbound && ev.Leg == callflow.LegID(c.UUID())
	})
	return c, ev
}

func TestNewRefusesDefaultPasswordAndWarnsOffLoopback(t *testing.T) {
	for _, pw := range []string{"ClueCon", ""} {
		_, err := esl.New(esl.Options{Password: pw, Trunk: trunk})
		if !errors.Is(err, esl.ErrConfig) {
			t.Fatalf("password %q accepted: %v", pw, err)
		}
		if pw != "" && strings.Contains(err.Error(), pw) {
			t.Fatalf("the error shows the password: %v", err)
		}
	}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	if _, err := esl.New(esl.Options{Addr: "192.0.2.10:8021", Password: "topsecret-1", Trunk: trunk, Logger: log}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "not on loopback") || strings.Contains(buf.String(), "topsecret-1") {
		t.Fatalf("log: %s", buf.String())
	}
	buf.Reset()
	if _, err := esl.New(esl.Options{Password: "topsecret-1", Trunk: trunk, Logger: log}); err != nil || buf.Len() != 0 {
		t.Fatalf("loopback default: %v, log %q", err, buf.String())
	}
	for _, bad := range []esl.Options{
		{Password: "x1", Trunk: "sofia/gateway/carrier/fixed"},
		{Password: "x1", Trunk: "sofia/gateway/{carrier,evil}/{e164}"},
		{Password: "x1", Trunk: trunk, SIPTemplate: "sofia/external/uri"},
		{Password: "x1", Trunk: trunk, RecordDir: "relative/dir"},
		{Password: "x1", Trunk: trunk, RecordDir: "/tmp/a b"},
		{Password: "pass word", Trunk: trunk},
	} {
		if _, err := esl.New(bad); !errors.Is(err, esl.ErrConfig) {
			t.Errorf("%+v accepted: %v", bad, err)
		}
	}
}

func TestWrongPasswordRetriesWithoutLeakingIt(t *testing.T) {
	srv := newEmulator(t, "")
	defer srv.Close()
	var buf syncBuffer
	drv, err := esl.New(esl.Options{Addr: srv.Addr(), Password: "wrong-secret-42", Trunk: trunk,
		Logger: slog.New(slog.NewTextHandler(&buf, nil)), MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = drv.Run(ctx, &sink{}) }()
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-done
	out := buf.String()
	if drv.Connected() || strings.Count(out, "refused the ESL password") < 2 || strings.Contains(out, "wrong-secret-42") {
		t.Fatalf("connected %v, log:\n%s", drv.Connected(), out)
	}
	if err := drv.Ring(context.Background(), "abc"); !errors.Is(err, esl.ErrNotConnected) {
		t.Fatalf("ring while disconnected: %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInboundTakesOverOnce: a parked vnum call is one EvInbound with the
// DID and caller, the dialplan fallback is cancelled, and the same leg
// parked again after its bridge is not a second call.
func TestInboundTakesOverOnce(t *testing.T) {
	l := newLab(t, nil)
	l.srv.SetDestination(endpoint(routing.Target{E164: "+33612345678"}), esltest.Behavior{HangupAfter: 50 * time.Millisecond})
	c, ev := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123", CallerName: "Alice"})
	if in := ev.Inbound; in.DID != "+33187654321" || in.CallerNumber != "+447700900123" || in.CallerName != "Alice" {
		t.Fatalf("inbound %+v", in)
	}
	deadline := time.Now().Add(2 * time.Second)
	for l.srv.SchedDeleted(c.UUID()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the dialplan fallback was not cancelled (sched_del <uuid>)")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx := ctx5(t)
	if err := l.drv.Originate(ctx, callflow.Originate{Leg: callflow.LegID(c.UUID() + "-1"), CallID: c.UUID(),
		Inbound: callflow.LegID(c.UUID()), Target: routing.Target{E164: "+33612345678"},
		CallerID: routing.CallerID{Number: "+33187654321", Name: "+33187654321"}, Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	leg := callflow.LegID(c.UUID() + "-1")
	l.snk.wait(t, "EvAnswered", func(ev callflow.Event) bool { return ev.Kind == callflow.EvAnswered && ev.Leg == leg })
	if _, err := l.drv.Bridge(ctx, c.UUID(), callflow.LegID(c.UUID()), leg); err != nil {
		t.Fatal(err)
	}
	// The callee hangs up after 50 ms: the caller is parked again.
	l.snk.wait(t, "the callee's EvHangup", func(ev callflow.Event) bool { return ev.Kind == callflow.EvHangup && ev.Leg == leg })
	time.Sleep(100 * time.Millisecond)
	if n := l.snk.count(func(ev callflow.Event) bool { return ev.Kind == callflow.EvInbound }); n != 1 {
		t.Fatalf("%d EvInbound for one call", n)
	}
	if c.State().HungUp {
		t.Fatal("the caller was hung up by FreeSWITCH, not by vnum")
	}
	if err := l.drv.Hangup(ctx, callflow.LegID(c.UUID()), callflow.CauseNormal); err != nil {
		t.Fatal(err)
	}
	ev = l.snk.wait(t, "the caller's EvHangup", func(ev callflow.Event) bool {
		return ev.Kind == callflow.EvHangup && ev.Leg == callflow.LegID(c.UUID())
	})
	if ev.Cause != callflow.CauseNormal {
		t.Fatalf("cause %v", ev.Cause)
	}
	// Gone is not an error.
	if err := l.drv.Hangup(ctx, callflow.LegID(c.UUID()), callflow.CauseNormal); err != nil {
		t.Fatalf("hang-up of a gone leg: %v", err)
	}
}

// TestOriginateMasksAndTimesOut checks the originate command itself:
// vnum's leg id, the ring timeout, both caller-ID fields from the
// decision only, no identity headers; anonymous hides both.
func TestOriginateMasksAndTimesOut(t *testing.T) {
	l := newLab(t, nil)
	sp := esltest.NewSupport(l.srv, 10*time.Millisecond)
	defer sp.Close()
	mobile := routing.Target{E164: "+33612345678"}
	l.srv.SetDestination(endpoint(mobile), esltest.Behavior{Outcome: esltest.NoAnswer, After: time.Hour})
	c, _ := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123", CallerName: "Alice Secret"})
	ctx := ctx5(t)
	leg := callflow.LegID(c.UUID() + "-1")
	start := time.Now()
	if err := l.drv.Originate(ctx, callflow.Originate{Leg: leg, CallID: c.UUID(), Inbound: callflow.LegID(c.UUID()),
		Target: mobile, CallerID: routing.CallerID{Number: "+33187654321", Name: "+33187654321"}, Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	ev := l.snk.wait(t, "EvHangup after the ring timeout", func(ev callflow.Event) bool { return ev.Kind == callflow.EvHangup && ev.Leg == leg })
	if ev.Cause != callflow.CauseNoAnswer || time.Since(start) < time.Second || time.Since(start) > 3*time.Second {
		t.Fatalf("cause %v after %v, want no-answer after 1 s", ev.Cause, time.Since(start))
	}
	legs := l.srv.Legs()
	if len(legs) != 1 {
		t.Fatalf("legs %+v", legs)
	}
	li := legs[0]
	for k, want := range map[string]string{"origination_uuid": string(leg), "vnum_leg": string(leg), "vnum_call": c.UUID(),
		"originate_timeout": "1", "sip_cid_type": "none", "origination_caller_id_number": "+33187654321",
		"origination_caller_id_name": "+33187654321"} {
		if li.Vars[k] != want {
			t.Errorf("%s=%q, want %q (dial string %s)", k, li.Vars[k], want, li.DialString)
		}
	}
	if li.CallerIDName != "+33187654321" || li.CallerIDNumber != "+33187654321" {
		t.Fatalf("the far end saw %q <%s>", li.CallerIDName, li.CallerIDNumber)
	}

	// Anonymous.
	leg2 := callflow.LegID(c.UUID() + "-2")
	l.srv.SetDestination(endpoint(mobile), esltest.Behavior{Outcome: esltest.Busy})
	if err := l.drv.Originate(ctx, callflow.Originate{Leg: leg2, CallID: c.UUID(), Inbound: callflow.LegID(c.UUID()),
		Target: mobile, CallerID: routing.CallerID{Anonymous: true}, Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	ev = l.snk.wait(t, "busy", func(ev callflow.Event) bool { return ev.Kind == callflow.EvHangup && ev.Leg == leg2 })
	if ev.Cause != callflow.CauseBusy {
		t.Fatalf("busy target: cause %v", ev.Cause)
	}
	li = l.srv.Legs()[1]
	if li.CallerIDNumber != "anonymous" || li.Vars["origination_privacy"] != "hide_name:hide_number" || strings.Contains(li.CallerIDName, "Alice") {
		t.Fatalf("anonymous leg %+v", li)
	}
	for _, cmd := range l.srv.Commands() {
		if strings.Contains(cmd, "originate") && (strings.Contains(cmd, "447700900123") || strings.Contains(cmd, "Alice")) {
			t.Fatalf("the caller's identity reached an originate: %s", cmd)
		}
	}
	if n := l.snk.count(func(ev callflow.Event) bool { return ev.Leg == leg2 && ev.Kind == callflow.EvHangup }); n != 1 {
		t.Fatalf("%d EvHangup for one busy leg", n)
	}
}

// TestCallerTextCannotInject: hostile caller text (line breaks that would
// start a second ESL command, braces, commas, quotes, backslashes) put in
// the outbound caller ID reaches FreeSWITCH as one well-formed command;
// no extra command runs (the emulator flags any) and the call is not hung
// up by an injected hupall.
func TestCallerTextCannotInject(t *testing.T) {
	l := newLab(t, nil)
	mobile := routing.Target{E164: "+33612345678"}
	l.srv.SetDestination(endpoint(mobile), esltest.Behavior{})
	hostile := "Eve\n\napi hupall NORMAL_CLEARING\n\n}{x=y},a='b',\"c\"\\n\\\\$${x}"
	c, ev := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123\n\napi hupall", CallerName: hostile})
	if ev.Inbound.CallerName != hostile {
		t.Fatalf("caller name as received: %q", ev.Inbound.CallerName)
	}
	ctx := ctx5(t)
	leg := callflow.LegID(c.UUID() + "-1")
	// The owner asked to show the caller: the hostile text is what goes out.
	if err := l.drv.Originate(ctx, callflow.Originate{Leg: leg, CallID: c.UUID(), Inbound: callflow.LegID(c.UUID()),
		Target: mobile, CallerID: routing.CallerID{Number: ev.Inbound.CallerNumber, Name: ev.Inbound.CallerName}, Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	l.snk.wait(t, "EvAnswered", func(ev callflow.Event) bool { return ev.Kind == callflow.EvAnswered && ev.Leg == leg })
	if inj := l.srv.Injected(); len(inj) != 0 {
		t.Fatalf("commands injected: %q", inj)
	}
	for _, cmd := range l.srv.Commands() {
		if strings.HasPrefix(cmd, "api hupall") || strings.Contains(cmd, "\napi hupall") {
			t.Fatalf("a hupall reached FreeSWITCH: %q", cmd)
		}
	}
	if c.State().HungUp || !l.srv.LegAlive(l.srv.Legs()[0].UUID) {
		t.Fatal("a call was hung up")
	}
	li := l.srv.Legs()[0]
	if strings.ContainsAny(li.CallerIDName, "\r\n{}\"\\$") || !strings.HasPrefix(li.CallerIDName, "Eve") || li.CallerIDNumber != "+447700900123" {
		t.Fatalf("the far end saw %q <%s>", li.CallerIDName, li.CallerIDNumber)
	}
}

// TestLiveListsOnlyVnumLegs: reconciliation sees vnum's inbound legs and
// originated legs (under vnum's ids), never another controller's calls.
func TestLiveListsOnlyVnumLegs(t *testing.T) {
	l := newLab(t, nil)
	mobile := routing.Target{E164: "+33612345678"}
	l.srv.SetDestination(endpoint(mobile), esltest.Behavior{})
	c, _ := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123"})
	ctx := ctx5(t)
	leg := callflow.LegID(c.UUID() + "-1")
	if err := l.drv.Originate(ctx, callflow.Originate{Leg: leg, CallID: c.UUID(), Target: mobile,
		CallerID: routing.CallerID{Number: "+33187654321"}, Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	l.snk.wait(t, "EvAnswered", func(ev callflow.Event) bool { return ev.Kind == callflow.EvAnswered && ev.Leg == leg })
	// Another controller's call on the same FreeSWITCH.
	other, err := eslconn.Dial(ctx, eslconn.Options{Addr: l.srv.Addr(), Password: l.srv.Password()})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.BgAPI(ctx, "originate", "sofia/gateway/carrier/+33199999999", "&park()"); err != nil {
		t.Fatal(err)
	}
	if l.srv.ActiveChannels() != 3 {
		t.Fatalf("%d channels", l.srv.ActiveChannels())
	}
	for _, d := range []*esl.Driver{l.drv, restarted(t, l)} {
		live, err := d.Live(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(live.Legs) != 2 || len(live.Bridges) != 0 {
			t.Fatalf("live %+v", live)
		}
		if _, ok := live.Legs[callflow.LegID(c.UUID())]; !ok {
			t.Fatalf("inbound leg missing: %+v", live)
		}
		if st, ok := live.Legs[leg]; !ok || !st.Answered {
			t.Fatalf("originated leg missing or not answered: %+v", live)
		}
	}
}

// restarted is a second driver on the same FreeSWITCH that never saw the
// calls (a restarted vnumd).
func restarted(t *testing.T, l *lab) *esl.Driver {
	t.Helper()
	drv, err := esl.New(esl.Options{Addr: l.srv.Addr(), Password: l.srv.Password(), Trunk: trunk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = drv.Run(ctx, &sink{}) }()
	t.Cleanup(func() { cancel(); <-done })
	for !drv.Connected() {
		time.Sleep(5 * time.Millisecond)
	}
	return drv
}

// TestReconnectReconciles: after FreeSWITCH drops the connection the
// driver reconnects, re-subscribes and asks the engine to reconcile.
func TestReconnectReconciles(t *testing.T) {
	var mu sync.Mutex
	reconciled := 0
	snk := &sink{reconcile: func(context.Context) error { mu.Lock(); reconciled++; mu.Unlock(); return nil }}
	l := newLab(t, snk)
	count := func() int { mu.Lock(); defer mu.Unlock(); return reconciled }
	deadline := time.Now().Add(2 * time.Second)
	for count() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("no reconcile after the first connect")
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.srv.DropConnections()
	deadline = time.Now().Add(3 * time.Second)
	for count() != 2 || !l.drv.Connected() {
		if time.Now().After(deadline) {
			t.Fatalf("reconciled %d times, connected %v", count(), l.drv.Connected())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Subscribed again: a new call reaches the sink.
	l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123"})
	if l.drv.Connects() != 2 {
		t.Fatalf("connects %d", l.drv.Connects())
	}
}

// TestPromptsRecordingsAndCauses drives the media commands: a prompt is
// played and reported done, a voicemail recording has its limit and
// reports its end, hang-up causes reach FreeSWITCH as its own names.
func TestPromptsRecordingsAndCauses(t *testing.T) {
	l := newLab(t, nil)
	c, _ := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123"})
	ctx := ctx5(t)
	a := callflow.LegID(c.UUID())
	if err := l.drv.Ring(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := l.drv.Answer(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := l.drv.Play(ctx, a, callflow.PromptVoicemail); err != nil {
		t.Fatal(err)
	}
	l.snk.wait(t, "EvPlaybackDone", func(ev callflow.Event) bool { return ev.Kind == callflow.EvPlaybackDone && ev.Leg == a })
	name, err := l.drv.RecordMessage(ctx, c.UUID(), a, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/var/lib/freeswitch/recordings/vnum/vnum-vm-" + c.UUID() + ".wav"; name != want {
		t.Fatalf("recording %q, want %q", name, want)
	}
	st := c.State()
	if !st.Answered || !st.Recording || len(st.Played) != 1 || st.Played[0] != "voicemail/vm-record_message.wav" {
		t.Fatalf("state %+v", st)
	}
	if got := l.srv.Executed(c.UUID()); len(got) != 1 || got[0] != "ring_ready" {
		t.Fatalf("sendmsg apps %q", got)
	}
	found, silence := false, false
	for _, cmd := range l.srv.Commands() {
		found = found || strings.HasPrefix(cmd, "bgapi uuid_record "+c.UUID()+" start "+name+" 90\n")
		// the silence stop is set before the recording starts
		silence = silence || !found && cmd == "api uuid_setvar_multi "+c.UUID()+" RECORD_INITIAL_TIMEOUT_MS=5000;RECORD_FINAL_TIMEOUT_MS=5000\n\n"
	}
	if !found || !silence {
		t.Fatalf("no silence stop then uuid_record with a 90 s limit in %q", l.srv.Commands())
	}
	if err := l.drv.Hangup(ctx, a, callflow.CauseUnallocated); err != nil {
		t.Fatal(err)
	}
	l.snk.wait(t, "EvRecordingDone", func(ev callflow.Event) bool { return ev.Kind == callflow.EvRecordingDone && ev.Leg == a })
	if st := c.State(); st.Cause != "UNALLOCATED_NUMBER" {
		t.Fatalf("cause %q", st.Cause)
	}
	if _, err := l.drv.RecordCall(ctx, "bad id", "", a); !errors.Is(err, eslconn.ErrUnsafeArg) {
		t.Fatalf("unsafe call id: %v", err)
	}
}

// TestOriginateFailsWithoutChannel: when FreeSWITCH refuses an originate
// before any channel exists (no such endpoint type), the job's -ERR is the
// only news: the leg is reported ended, once, as a failure.
func TestOriginateFailsWithoutChannel(t *testing.T) {
	srv := newEmulator(t, "")
	snk := &sink{}
	drv, err := esl.New(esl.Options{Addr: srv.Addr(), Password: srv.Password(), Trunk: trunk, SIPTemplate: "nosuchtech/{uri}"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = drv.Run(ctx, snk) }()
	defer func() { cancel(); <-done; srv.Close() }()
	for !drv.Connected() {
		time.Sleep(5 * time.Millisecond)
	}
	leg := callflow.LegID("call-1-1")
	if err := drv.Originate(ctx5(t), callflow.Originate{Leg: leg, CallID: "call-1", Target: routing.Target{SIPURI: "sip:owner@app.example.com"},
		CallerID: routing.CallerID{Number: "+33187654321"}, Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	ev := snk.wait(t, "EvHangup", func(ev callflow.Event) bool { return ev.Kind == callflow.EvHangup && ev.Leg == leg })
	if ev.Cause != callflow.CauseFailed {
		t.Fatalf("cause %v", ev.Cause)
	}
	time.Sleep(50 * time.Millisecond)
	if n := snk.count(func(ev callflow.Event) bool { return ev.Leg == leg }); n != 1 || len(srv.Legs()) != 0 {
		t.Fatalf("%d events, %d legs", n, len(srv.Legs()))
	}
	// A target that is not E.164 never reaches FreeSWITCH.
	if err := drv.Originate(ctx5(t), callflow.Originate{Leg: "call-1-2", CallID: "call-1", Target: routing.Target{E164: "+33 6 12"},
		CallerID: routing.CallerID{Number: "+33187654321"}}); !errors.Is(err, routing.ErrBadTarget) {
		t.Fatalf("bad target: %v", err)
	}
}
