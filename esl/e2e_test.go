package esl_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vnum/vnum/esl"
	"github.com/vnum/vnum/esl/esltest"
	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/internal/vnumdtest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
	"github.com/vnum/vnum/routing/callflow/scenariotest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	trunk    = "sofia/gateway/carrier/{e164}"
	sipTmpl  = "sofia/external/{uri}"
	password = "s3cret-esl"
)

var heardAs = map[string]string{
	esl.DefaultSounds[callflow.PromptNotInService]: "not-in-service",
	esl.DefaultSounds[callflow.PromptVoicemail]:    "voicemail-greeting",
	esl.DefaultSounds[callflow.PromptBeep]:         "beep",
	esl.DefaultSounds[callflow.PromptConfirm]:      "confirm",
	esl.DefaultSounds[callflow.PromptConsent]:      "recording-consent",
	esl.DefaultSounds[callflow.PromptEnterPIN]:     "enter-pin",
	esl.DefaultSounds[callflow.PromptBadPIN]:       "bad-pin",
	esl.DefaultSounds[callflow.PromptRoomLocked]:   "room-locked",
	esl.DefaultSounds[callflow.PromptJoinTone]:     "join-tone",
	esl.DefaultSounds[callflow.PromptLeaveTone]:    "leave-tone",
	confSounds[callflow.PromptRoomFull]:            "room-full",
	esl.MOHStream:                                  "moh",
}

// confSounds: the stock sounds have no "conference full" (it shares the
// locked one); the scenarios tell them apart with an operator's own file.
var confSounds = map[callflow.Prompt]string{callflow.PromptRoomFull: "conference/vnum-conf-full.wav"}

// heardNames maps the files played to a party to logical names.
func heardNames(files []string) []string {
	var out []string
	for _, f := range files {
		if h, ok := heardAs[f]; ok {
			out = append(out, h)
		} else {
			out = append(out, f)
		}
	}
	return out
}

// emu adapts the FreeSWITCH emulator to the scenario suite. Recordings
// are files in dir, the emulated host's record directory, which the
// driver is given as RecordDir: the driver's local delete is what makes
// them go away.
type emu struct {
	s   *esltest.Server
	sp  *esltest.Support
	dir string
}

// caller is the carrier side of an inbound call.
type caller struct {
	s            *esltest.Server
	c            *esltest.Call
	number, name string
}

func (p caller) Hangup()                         { _ = p.c.Hangup("") }
func (p caller) Done() <-chan struct{}           { return p.c.HungUp() }
func (p caller) Answered() bool                  { return p.c.State().Answered }
func (p caller) CallerID() (name, number string) { return p.name, p.number }
func (p caller) Press(digits string)             { p.c.SendDTMF(digits) }

// Muted reports whether the caller is a muted member of its room.
func (p caller) Muted() bool { return p.s.Muted(p.c.UUID()) }

// Room is the conference the caller is in, or the id of its uuid_bridge.
func (p caller) Room() string { return p.s.Room(p.c.UUID()) }

// Heard derives what the caller heard from what FreeSWITCH was told:
// ring_ready (180), the files played, and the cause it was rejected with.
func (p caller) Heard() []string {
	var out []string
	for _, app := range p.s.Executed(p.c.UUID()) {
		if app == "ring_ready" {
			out = append(out, "ring")
		}
	}
	st := p.c.State()
	out = append(out, heardNames(st.Played)...)
	if st.HungUp && !st.Answered {
		switch st.Cause {
		case "USER_BUSY":
			out = append(out, "busy")
		case "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION":
			out = append(out, "congestion")
		}
	}
	return out
}

// callee is the far end of an outbound leg.
type callee struct {
	e   emu
	leg esltest.LegInfo
}

func (p callee) Hangup()               { _ = p.e.s.HangupLeg(p.leg.UUID, "") }
func (p callee) Done() <-chan struct{} { return p.e.sp.LegDone(p.leg.UUID) }
func (p callee) Answered() bool {
	for _, l := range p.e.s.Legs() {
		if l.UUID == p.leg.UUID {
			return l.Outcome == "SUCCESS"
		}
	}
	return false
}
func (p callee) CallerID() (name, number string) { return p.leg.CallerIDName, p.leg.CallerIDNumber }

// Heard lists the prompts played to the target's leg.
func (p callee) Heard() []string {
	for _, l := range p.e.s.Legs() {
		if l.UUID == p.leg.UUID {
			return heardNames(l.Played)
		}
	}
	return nil
}

// Press makes the target's phone send DTMF on its (originated) leg.
func (p callee) Press(digits string) { _ = p.e.s.SendDTMF(p.leg.UUID, digits) }

// Room is the conference the target's leg is in, or its uuid_bridge's id.
func (p callee) Room() string { return p.e.s.Room(p.leg.UUID) }

func endpoint(t routing.Target) string {
	if t.IsSIP() {
		return strings.ReplaceAll(sipTmpl, "{uri}", t.SIPURI)
	}
	return strings.ReplaceAll(trunk, "{e164}", t.E164)
}

func (e emu) Inbound(t *testing.T, did, num, name string) scenariotest.Party {
	t.Helper()
	c, err := e.s.Inbound(esltest.InboundCall{DID: did, CallerNumber: num, CallerName: name})
	if err != nil {
		t.Fatal(err)
	}
	return caller{s: e.s, c: c, number: num, name: name}
}

func (e emu) Target(t routing.Target, b scenariotest.Behavior) {
	eb := esltest.Behavior{Outcome: esltest.Answer, After: b.AnswerAfter, HangupAfter: b.HangupAfter}
	switch {
	case b.Busy:
		eb.Outcome = esltest.Busy
	case b.NoAnswer:
		// Rings for ever: only the originate_timeout vnumd sends (enforced
		// by esltest.Support, as FreeSWITCH does) or a hang-up ends it.
		eb.Outcome, eb.After = esltest.NoAnswer, time.Hour
	case b.Fail:
		eb.Outcome = esltest.Fail
	}
	e.s.SetDestination(endpoint(t), eb)
}

func (e emu) Reached(t routing.Target) []scenariotest.Party {
	var out []scenariotest.Party
	for _, l := range e.s.Legs() {
		if l.Endpoint == endpoint(t) {
			out = append(out, callee{e: e, leg: l})
		}
	}
	return out
}

func (e emu) Requests() []string   { return e.s.Commands() }
func (e emu) DropLink()            { e.s.DropConnections() }
func (e emu) Recordings() []string { return e.s.StoredRecordings() }

func (e emu) InboundMessage(_ *testing.T, from, did, body string) {
	e.s.InboundMessage(from, did, body)
}

// MessagesTo reads the SMS::SEND_MESSAGE events sent to a target through
// the driver's message profile and trunk (msgTrunk).
func (e emu) MessagesTo(t routing.Target) []scenariotest.SentMessage {
	to := "external/" + t.SIPURI
	if !t.IsSIP() {
		to = "external/" + strings.ReplaceAll(msgTrunk, "{e164}", t.E164)
	}
	var out []scenariotest.SentMessage
	for _, m := range e.s.MessagesTo(to) {
		user, _, _ := strings.Cut(m.From, "@")
		out = append(out, scenariotest.SentMessage{From: user, Body: m.Body})
	}
	return out
}

func startVnumd(t testing.TB, srv *esltest.Server, r *redistest.Server, dir string) *vnumdtest.Vnumd {
	t.Helper()
	drv, err := esl.New(esl.Options{Addr: srv.Addr(), Password: srv.Password(), Trunk: trunk, SIPTemplate: sipTmpl,
		RecordDir: dir, Logger: vnumdtest.Logger(), MaxBackoff: 200 * time.Millisecond, Sounds: confSounds,
		MessageTrunk: msgTrunk})
	if err != nil {
		t.Fatal(err)
	}
	return vnumdtest.Start(t, drv, nil, r)
}

func newEmulator(t testing.TB, recordDir string) *esltest.Server {
	t.Helper()
	srv, err := esltest.New(esltest.Options{Password: password, PlaybackDuration: 50 * time.Millisecond, RecordDir: recordDir})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func newEnv(t *testing.T) *scenariotest.Env {
	r := redistest.Start(t)
	dir := t.TempDir()
	srv := newEmulator(t, dir)
	sp := esltest.NewSupport(srv, 10*time.Millisecond)
	t.Cleanup(func() {
		sp.Close()
		srv.Close()
		if inj := srv.Injected(); len(inj) > 0 {
			t.Errorf("malformed or injected commands reached FreeSWITCH: %q", inj)
		}
		if t.Failed() {
			for _, c := range srv.Commands() {
				t.Logf("command: %q", c)
			}
		}
	})
	return vnumdtest.Env(t, emu{s: srv, sp: sp, dir: dir}, r, func() *vnumdtest.Vnumd { return startVnumd(t, srv, r, dir) })
}

// TestScenarios runs the shared scenario suite on FreeSWITCH (emulated).
func TestScenarios(t *testing.T) { scenariotest.Run(t, newEnv) }

// TestCallerNameInjectionEndToEnd: with the owner's "show the caller"
// policy, a caller whose display name carries a blank line and an ESL
// command (plus braces, commas, quotes, backslashes) has it shown to the
// callee as harmless text: every command vnumd sent was one well-formed
// command, no hupall ran, and the call went on.
func TestCallerNameInjectionEndToEnd(t *testing.T) {
	e := newEnv(t)
	srv := e.PBX.(emu).s
	mobile := routing.Target{E164: "+33612345678"}
	if err := e.Store.AddNumber(context.Background(), routing.Number{DID: "+33187654321", Owner: "owner",
		Route: routing.Route{Targets: []routing.Target{mobile}, RingTimeout: 2 * time.Second, CallerID: routing.PresentCaller}}); err != nil {
		t.Fatal(err)
	}
	e.PBX.Target(mobile, scenariotest.Behavior{})
	hostile := "Mallory\n\napi hupall NORMAL_CLEARING\n\n},{x=y}'a,b' \"q\" \\s $${x}"
	c := e.PBX.Inbound(t, "+33187654321", "+447700900123", hostile)
	deadline := time.Now().Add(5 * time.Second)
	for len(e.PBX.Reached(mobile)) == 0 || !e.PBX.Reached(mobile)[0].Answered() || !c.Answered() {
		if time.Now().After(deadline) {
			t.Fatal("the call was not bridged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	callee := e.PBX.Reached(mobile)[0]
	name, number := callee.CallerID()
	if !strings.HasPrefix(name, "Mallory") || strings.ContainsAny(name, "\r\n{}\"\\$") || number != "+447700900123" {
		t.Fatalf("the callee saw %q <%s>", name, number)
	}
	if inj := srv.Injected(); len(inj) != 0 {
		t.Fatalf("injected: %q", inj)
	}
	for _, cmd := range srv.Commands() {
		for _, line := range strings.Split(cmd, "\n") {
			if strings.HasPrefix(line, "api hupall") || strings.HasPrefix(line, "bgapi hupall") {
				t.Fatalf("a hupall command reached FreeSWITCH: %q", cmd)
			}
		}
	}
	c.Hangup()
	select {
	case <-callee.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the callee is still up")
	}
}
