package ari_test

import (
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vnum/vnum/ari"
	"github.com/vnum/vnum/ari/aritest"
	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/internal/vnumdtest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
	"github.com/vnum/vnum/routing/callflow/scenariotest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"))
}

const trunk = "PJSIP/{e164}@carrier"

// emu adapts the ARI emulator to the scenario suite.
type emu struct{ s *aritest.Server }

type party struct{ c *aritest.Call }

func (p party) Hangup()                         { p.c.Hangup() }
func (p party) Done() <-chan struct{}           { return p.c.Done() }
func (p party) Answered() bool                  { return p.c.Answered() }
func (p party) CallerID() (name, number string) { return p.c.CallerID() }
func (p party) Press(digits string)             { p.c.SendDTMF(digits) }
func (p party) Room() string                    { return p.c.Bridge() }
func (p party) Muted() bool                     { return p.c.Muted() }

// confSounds: Asterisk has no "conference full" sound (ConfBridge plays
// conf-locked); the scenarios tell them apart with an operator's own.
var confSounds = map[callflow.Prompt]string{callflow.PromptRoomFull: "sound:vnum-conf-full"}

// soundNames maps the driver's media back to the prompts' logical names.
var soundNames = func() map[string]string {
	m := map[string]string{}
	for p, uri := range ari.DefaultSounds() {
		if p != callflow.PromptRoomFull { // it shares conf-locked
			m[uri] = string(p)
		}
	}
	for p, uri := range confSounds {
		m[uri] = string(p)
	}
	return m
}()

func (p party) Heard() []string {
	var out []string
	out = append(out, p.c.Tones()...)
	for _, m := range p.c.Played() {
		if name, ok := soundNames[m]; ok {
			out = append(out, name)
		} else {
			out = append(out, m)
		}
	}
	return out
}

func endpoint(t routing.Target) string {
	if t.IsSIP() {
		return "PJSIP/" + t.SIPURI
	}
	return strings.ReplaceAll(trunk, "{e164}", t.E164)
}

func (e emu) Inbound(t *testing.T, did, num, name string) scenariotest.Party {
	t.Helper()
	c, err := e.s.Inbound(aritest.InboundCall{DID: did, CallerNumber: num, CallerName: name})
	if err != nil {
		t.Fatal(err)
	}
	return party{c}
}

func (e emu) Target(t routing.Target, b scenariotest.Behavior) {
	e.s.SetDestination(endpoint(t), aritest.Behavior{AnswerAfter: b.AnswerAfter, Busy: b.Busy, NoAnswer: b.NoAnswer,
		Fail: b.Fail, HangupAfter: b.HangupAfter, RingEvent: true})
}

func (e emu) Reached(t routing.Target) []scenariotest.Party {
	var out []scenariotest.Party
	for _, c := range e.s.CallsTo(endpoint(t)) {
		out = append(out, party{c})
	}
	return out
}

func (e emu) Requests() []string {
	var out []string
	for _, r := range e.s.Requests() {
		out = append(out, r.Method+" "+r.Path+"?"+r.Query+" "+string(r.Body))
	}
	return out
}

func (e emu) DropLink()            { e.s.DropWebSocket() }
func (e emu) Recordings() []string { return e.s.Recordings() }

// InboundMessage is a carrier's SIP MESSAGE as Asterisk reports it (sms
// capture): the DID's digits in a pjsip: URI; Asterisk answers 202 only
// while vnumd's app is subscribed to the endpoint.
func (e emu) InboundMessage(t *testing.T, from, did, body string) {
	t.Helper()
	if st := e.s.InboundMessage(`"Carrier SMS" <sip:`+from+`@127.0.0.1>`, "pjsip:"+strings.TrimPrefix(did, "+")+"@127.0.0.1", body); st != 202 {
		t.Fatalf("the carrier's MESSAGE got %d (is the app subscribed to endpoint:PJSIP?)", st)
	}
}

func (e emu) MessagesTo(t routing.Target) []scenariotest.SentMessage {
	var out []scenariotest.SentMessage
	for _, m := range e.s.MessagesTo(endpoint(t)) {
		out = append(out, scenariotest.SentMessage{From: m.From, Body: m.Body})
	}
	return out
}

func newDriver(t testing.TB, srv *aritest.Server) *ari.Driver {
	t.Helper()
	drv, err := ari.New(ari.Options{URL: srv.URL(), User: "vnum", Password: "s3cret-ari", App: "vnum", Trunk: trunk,
		Logger: vnumdtest.Logger(), Sounds: confSounds})
	if err != nil {
		t.Fatal(err)
	}
	return drv
}

func startVnumd(t testing.TB, srv *aritest.Server, r *redistest.Server) *vnumdtest.Vnumd {
	t.Helper()
	// Ready once connected and subscribed to the carrier's messages (the
	// driver subscribes right after connecting).
	return vnumdtest.Start(t, newDriver(t, srv), func() bool { return srv.Connected("vnum") && srv.SubscribedToMessages("vnum") }, r)
}

func newEnv(t *testing.T) *scenariotest.Env {
	r := redistest.Start(t)
	srv, err := aritest.New(aritest.Options{User: "vnum", Password: "s3cret-ari", App: "vnum",
		PlaybackDuration: func(string) time.Duration { return 50 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return vnumdtest.Env(t, emu{srv}, r, func() *vnumdtest.Vnumd { return startVnumd(t, srv, r) })
}

// TestScenarios runs the shared scenario suite on Asterisk (emulated).
func TestScenarios(t *testing.T) { scenariotest.Run(t, newEnv) }
