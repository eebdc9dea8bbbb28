// Package scenariotest is the scenario suite every PBX driver must pass:
// one set of call scenarios, run end to end (vnumd's daemon + the driver +
// the driver's PBX emulator + a real redis-server) through an adapter that
// each driver's tests provide. What a scenario asserts is what a caller,
// a callee or an operator would notice.
package scenariotest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// Party is one person outside the PBX: the caller, or a target's phone.
type Party interface {
	Hangup()
	Done() <-chan struct{}
	Answered() bool
	// CallerID is what this party was shown (for a target: the far end's view).
	CallerID() (name, number string)
	// Heard lists what the party heard, in logical names: "ring", "busy",
	// "congestion", "not-in-service", "voicemail-greeting", "beep",
	// "confirm", "recording-consent".
	Heard() []string
	// Press makes the party press keys now (RFC 4733 DTMF).
	Press(digits string)
	// Room is the PBX bridge or conference room the party's channel is
	// in now ("" when none): parties talking together share one.
	Room() string
}

// Behavior is how a target's phone responds.
type Behavior struct {
	AnswerAfter time.Duration
	Busy        bool
	NoAnswer    bool
	Fail        bool
	HangupAfter time.Duration
}

// PBX is a driver's emulator, seen through the adapter.
type PBX interface {
	// Inbound places a call from the carrier to the DID.
	Inbound(t *testing.T, did, callerNumber, callerName string) Party
	// Target sets how a forwarding target behaves.
	Target(target routing.Target, b Behavior)
	// Reached lists the calls placed to a target, oldest first.
	Reached(target routing.Target) []Party
	// Requests returns, as text, every request the PBX received from vnumd
	// (to prove what reached it, and what did not).
	Requests() []string
	// DropLink breaks vnumd's event connection; the PBX keeps the calls.
	DropLink()
	// Recordings lists the recordings the PBX holds (deleted ones are
	// gone from the list).
	Recordings() []string
	// Messaging: text messages in and out (sms.go).
	Messaging
}

// Env is one scenario's world.
type Env struct {
	PBX   PBX
	Redis *redistest.Server
	Store *redisstore.Store
	// HangupCall asks the running vnumd to hang up a call (as vnumctl does).
	HangupCall func(id string) error
	// Drain makes vnumd take no new calls.
	Drain func()
	// Restart stops vnumd without touching its calls and starts a new one
	// on the same node (a crash and a restart, as the PBX and Redis see it).
	Restart func()
}

const (
	did       = "+33187654321"
	caller    = "+447700900123"
	callerNam = "Alice Secret"
)

var (
	mobile = routing.Target{E164: "+33612345678"}
	desk   = routing.Target{E164: "+33140000000"}
	app    = routing.Target{SIPURI: "sip:owner@app.example.com"}
)

// Run runs every scenario with a fresh environment from newEnv.
func Run(t *testing.T, newEnv func(t *testing.T) *Env) {
	for _, s := range []struct {
		name string
		f    func(t *testing.T, e *Env)
	}{
		{"ForwardMaskedCallerHangsUp", forwardMasked},
		{"CalleeHangsUp", calleeHangsUp},
		{"BusyThenNextTarget", busyThenNext},
		{"SimultaneousRingingCancelsLosers", simultaneous},
		{"BlockedCallerNeverReachesTarget", blocked},
		{"AnonymousPolicyShowsNoNumber", anonymousPolicy},
		{"UnknownNumberNotInService", unknownNumber},
		{"NoAnswerGoesToVoicemail", noAnswerVoicemail},
		{"AllTargetsFailBusy", allFailBusy},
		{"RecordingStoredAndListed", recording},
		{"CallerHangsUpWhileRinging", callerGivesUp},
		{"OperatorHangsUpCall", operatorHangup},
		{"RedisDownFallbackRunningCallUnaffected", redisDown},
		{"LinkDroppedAndRestored", linkDropped},
		{"RestartAdoptsBridgedCall", restartAdopts},
		{"DrainRefusesNewCalls", drain},
		{"SessionTwoPartiesBothWays", sessionTwoParties},
		{"SessionNonParticipantAndClosed", sessionNonParticipant},
		{"SessionThreePartiesInOneRoom", sessionThreeParties},
		{"SessionConfirmBeforeConnecting", sessionConfirm},
		{"RecordingConsentAnnounced", recordingConsent},
		{"WebhooksSignedRetriedDeadEndpointHarmless", webhooks},
		{"BusyVoicemailOwnGreetingListedDeleted", busyVoicemail},
		{"IVRDigitForwards", ivrDigitForwards},
		{"IVRSubmenu", ivrSubmenu},
		{"IVRTimeoutThenDefault", ivrTimeoutDefault},
		{"IVRInvalidThenRetry", ivrInvalidRetry},
	} {
		t.Run(s.name, func(t *testing.T) { s.f(t, newEnv(t)) })
	}
	for _, s := range conferenceScenarios {
		t.Run(s.name, func(t *testing.T) { s.f(t, newEnv(t)) })
	}
	for _, s := range smsScenarios {
		t.Run(s.name, func(t *testing.T) { s.f(t, newEnv(t)) })
	}
}

func addNumber(t *testing.T, e *Env, mods ...func(*routing.Number)) {
	t.Helper()
	n := routing.Number{DID: did, Owner: "owner", Route: routing.Route{Targets: []routing.Target{mobile}, RingTimeout: 2 * time.Second}}
	for _, m := range mods {
		m(&n)
	}
	if err := e.Store.AddNumber(context.Background(), n); err != nil {
		t.Fatal(err)
	}
}

// wait waits for a party's call to end.
func wait(t *testing.T, p Party, what string) {
	t.Helper()
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still up after 10 s", what)
	}
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reached waits until a target has been called n times.
func reached(t *testing.T, e *Env, target routing.Target, n int) []Party {
	t.Helper()
	var ps []Party
	eventually(t, fmt.Sprintf("%d call(s) to %s", n, target), func() bool {
		ps = e.PBX.Reached(target)
		return len(ps) >= n
	})
	return ps
}

// cdrs waits for n CDRs of the DID and returns them.
func cdrs(t *testing.T, e *Env, n int) []routing.CDR {
	t.Helper()
	var out []routing.CDR
	eventually(t, fmt.Sprintf("%d CDR(s)", n), func() bool {
		out, _ = e.Store.ListCDRs(context.Background(), did, 100)
		return len(out) >= n
	})
	time.Sleep(50 * time.Millisecond)
	out, _ = e.Store.ListCDRs(context.Background(), did, 100)
	if len(out) != n {
		t.Fatalf("%d CDRs, want exactly %d: %+v", len(out), n, out)
	}
	return out
}

// bridged waits until both sides are connected and vnumd has registered
// the call as bridged.
func bridged(t *testing.T, e *Env, c, callee Party) {
	t.Helper()
	eventually(t, "the call bridged", func() bool {
		if !c.Answered() || !callee.Answered() {
			return false
		}
		live, err := e.Store.ListCalls(context.Background())
		return err == nil && len(live) == 1 && live[0].State == "bridged"
	})
}

// noLiveCalls waits until the registry is empty.
func noLiveCalls(t *testing.T, e *Env) {
	t.Helper()
	eventually(t, "an empty live-call registry", func() bool {
		calls, err := e.Store.ListCalls(context.Background())
		return err == nil && len(calls) == 0
	})
}

// slotFree checks the number's concurrency slot came back: with a cap of
// one, a simulated call would forward again.
func slotFree(t *testing.T, e *Env) {
	t.Helper()
	eventually(t, "the concurrency slot released", func() bool {
		d, err := e.Store.Simulate(context.Background(), routing.Call{DID: did, Caller: "+14155550100"})
		return err == nil && d.Action == routing.ActionForward
	})
}

// noLeak checks that the caller's number and name reached the PBX in no
// request that created or configured an outbound leg.
func noLeak(t *testing.T, e *Env) {
	t.Helper()
	digits := strings.TrimPrefix(caller, "+")
	for _, r := range e.PBX.Requests() {
		if !isOutbound(r) {
			continue
		}
		if strings.Contains(r, digits) || strings.Contains(r, "Alice") || strings.Contains(r, "Secret") {
			t.Fatalf("the caller's identity reached the outbound leg: %s", r)
		}
	}
}

func isOutbound(r string) bool {
	l := strings.ToLower(r)
	return strings.Contains(l, "originate") || strings.Contains(l, "post /ari/channels ") ||
		strings.Contains(l, "post /ari/channels?") || strings.Contains(l, "/ari/channels/vnum-out")
}

func heard(p Party, what string) bool { return slices.Contains(p.Heard(), what) }

func forwardMasked(t *testing.T, e *Env) {
	addNumber(t, e, func(n *routing.Number) { n.Limits.MaxConcurrent = 1 })
	e.PBX.Target(mobile, Behavior{AnswerAfter: 50 * time.Millisecond})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	callee := reached(t, e, mobile, 1)[0]
	eventually(t, "both sides answered", func() bool { return c.Answered() && callee.Answered() })
	name, number := callee.CallerID()
	if strings.TrimPrefix(number, "+") != strings.TrimPrefix(did, "+") {
		t.Fatalf("the target saw caller ID %q <%s>, want the DID %s", name, number, did)
	}
	if strings.Contains(name, "Alice") {
		t.Fatalf("the target saw the caller's name %q", name)
	}
	if !heard(c, "ring") {
		t.Errorf("the caller heard no ringing before the answer: %v", c.Heard())
	}
	noLeak(t, e)
	eventually(t, "the call registered as bridged", func() bool {
		live, err := e.Store.ListCalls(context.Background())
		return err == nil && len(live) == 1 && live[0].State == "bridged"
	})
	c.Hangup()
	wait(t, callee, "the callee after the caller hung up")
	recs := cdrs(t, e, 1)
	if recs[0].Outcome != "answered" || recs[0].HangupBy != "caller" || recs[0].Target != mobile.E164 {
		t.Fatalf("CDR %+v", recs[0])
	}
	noLiveCalls(t, e)
	slotFree(t, e)
}

func calleeHangsUp(t *testing.T, e *Env) {
	addNumber(t, e)
	e.PBX.Target(mobile, Behavior{HangupAfter: 300 * time.Millisecond})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	wait(t, c, "the caller after the callee hung up")
	if !c.Answered() {
		t.Fatal("the caller was never connected")
	}
	recs := cdrs(t, e, 1)
	if recs[0].HangupBy != "callee" || recs[0].Outcome != "answered" {
		t.Fatalf("CDR %+v", recs[0])
	}
	noLiveCalls(t, e)
}

func busyThenNext(t *testing.T, e *Env) {
	addNumber(t, e, func(n *routing.Number) { n.Route.Targets = []routing.Target{mobile, app} })
	e.PBX.Target(mobile, Behavior{Busy: true})
	e.PBX.Target(app, Behavior{AnswerAfter: 50 * time.Millisecond})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	second := reached(t, e, app, 1)[0]
	eventually(t, "the second target answered", second.Answered)
	if got := len(e.PBX.Reached(mobile)); got != 1 {
		t.Fatalf("the busy target was called %d times", got)
	}
	second.Hangup()
	wait(t, c, "the caller")
	if r := cdrs(t, e, 1)[0]; r.Target != app.SIPURI || r.Outcome != "answered" {
		t.Fatalf("CDR %+v", r)
	}
}

func simultaneous(t *testing.T, e *Env) {
	addNumber(t, e, func(n *routing.Number) {
		n.Route.Targets = []routing.Target{mobile, desk}
		n.Route.Strategy = routing.Simultaneous
		n.Route.RingTimeout = 20 * time.Second
	})
	e.PBX.Target(mobile, Behavior{NoAnswer: true})
	e.PBX.Target(desk, Behavior{AnswerAfter: 200 * time.Millisecond})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	loser := reached(t, e, mobile, 1)[0]
	winner := reached(t, e, desk, 1)[0]
	bridged(t, e, c, winner)
	// The loser stops ringing as soon as the desk answers, long before its
	// 20 s ring timeout.
	select {
	case <-loser.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("the losing target still rings after the winner answered")
	}
	if loser.Answered() {
		t.Fatal("the losing target was connected")
	}
	c.Hangup()
	wait(t, winner, "the winner")
	if r := cdrs(t, e, 1)[0]; r.Target != desk.E164 {
		t.Fatalf("CDR %+v", r)
	}
}

func blocked(t *testing.T, e *Env) {
	addNumber(t, e)
	if err := e.Store.AddEntry(context.Background(), redisstore.Blocklist, did, routing.Entry{Pattern: "+447700*", Reason: "spam"}); err != nil {
		t.Fatal(err)
	}
	c := e.PBX.Inbound(t, did, caller, callerNam)
	wait(t, c, "the blocked caller")
	if !heard(c, "busy") || c.Answered() {
		t.Fatalf("the blocked caller heard %v (answered %v), want busy", c.Heard(), c.Answered())
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(e.PBX.Reached(mobile)); n != 0 {
		t.Fatalf("a blocked caller reached the target %d time(s)", n)
	}
	if r := cdrs(t, e, 1)[0]; r.Outcome != "rejected" || r.Reason != string(routing.ReasonBlockedNumber) {
		t.Fatalf("CDR %+v", r)
	}
}

func anonymousPolicy(t *testing.T, e *Env) {
	addNumber(t, e, func(n *routing.Number) { n.Route.CallerID = routing.PresentAnonymous })
	e.PBX.Target(mobile, Behavior{HangupAfter: 100 * time.Millisecond})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	callee := reached(t, e, mobile, 1)[0]
	wait(t, c, "the caller")
	_, number := callee.CallerID()
	if strings.Trim(number, "+0123456789") == "" && number != "" {
		t.Fatalf("anonymous policy: the target saw the number %q", number)
	}
	noLeak(t, e)
}

func unknownNumber(t *testing.T, e *Env) {
	c := e.PBX.Inbound(t, "+33100000000", caller, callerNam)
	wait(t, c, "the caller of an unknown number")
	if !heard(c, "not-in-service") {
		t.Fatalf("heard %v, want the not-in-service announcement", c.Heard())
	}
}

func noAnswerVoicemail(t *testing.T, e *Env) {
	addNumber(t, e, func(n *routing.Number) {
		n.Route.Voicemail = true
		n.Route.RingTimeout = time.Second
	})
	e.PBX.Target(mobile, Behavior{NoAnswer: true})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	eventually(t, "the voicemail greeting and beep", func() bool { return heard(c, "voicemail-greeting") && heard(c, "beep") })
	time.Sleep(300 * time.Millisecond)
	c.Hangup()
	var recs []routing.Recording
	eventually(t, "the voicemail message stored", func() bool {
		recs, _ = e.Store.ListRecordings(context.Background(), did)
		return len(recs) == 1
	})
	if recs[0].Kind != "voicemail" || recs[0].Name == "" {
		t.Fatalf("voicemail metadata %+v", recs[0])
	}
	if r := cdrs(t, e, 1)[0]; r.Outcome != "voicemail" {
		t.Fatalf("CDR %+v", r)
	}
}

func allFailBusy(t *testing.T, e *Env) {
	addNumber(t, e, func(n *routing.Number) { n.Route.Targets = []routing.Target{mobile, desk} })
	e.PBX.Target(mobile, Behavior{Busy: true})
	e.PBX.Target(desk, Behavior{Fail: true})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	wait(t, c, "the caller")
	if !heard(c, "busy") || c.Answered() {
		t.Fatalf("heard %v, want busy without answer", c.Heard())
	}
	if r := cdrs(t, e, 1)[0]; r.Outcome == "answered" {
		t.Fatalf("CDR %+v", r)
	}
}

func recording(t *testing.T, e *Env) {
	addNumber(t, e, func(n *routing.Number) { n.Route.Record = true })
	e.PBX.Target(mobile, Behavior{HangupAfter: 1200 * time.Millisecond})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	wait(t, c, "the caller")
	var recs []routing.Recording
	eventually(t, "the recording's metadata", func() bool {
		recs, _ = e.Store.ListRecordings(context.Background(), did)
		return len(recs) == 1
	})
	r := cdrs(t, e, 1)[0]
	if recs[0].Kind != "call" || recs[0].CallID != r.CallID || recs[0].Name != r.Recording || recs[0].Duration < time.Second {
		t.Fatalf("recording %+v, CDR %+v", recs[0], r)
	}
	if !slices.ContainsFunc(e.PBX.Recordings(), func(s string) bool { return strings.Contains(s, recs[0].Name) }) {
		t.Fatalf("the PBX holds no recording %q: %v", recs[0].Name, e.PBX.Recordings())
	}
}

func callerGivesUp(t *testing.T, e *Env) {
	addNumber(t, e, func(n *routing.Number) { n.Route.RingTimeout = 20 * time.Second })
	e.PBX.Target(mobile, Behavior{NoAnswer: true})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	callee := reached(t, e, mobile, 1)[0]
	c.Hangup()
	select {
	case <-callee.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("the target still rings after the caller gave up")
	}
	if r := cdrs(t, e, 1)[0]; r.Outcome != "abandoned" {
		t.Fatalf("CDR %+v", r)
	}
	noLiveCalls(t, e)
}

func operatorHangup(t *testing.T, e *Env) {
	addNumber(t, e)
	e.PBX.Target(mobile, Behavior{})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	callee := reached(t, e, mobile, 1)[0]
	bridged(t, e, c, callee)
	var live []routing.LiveCall
	eventually(t, "the call registered", func() bool {
		live, _ = e.Store.ListCalls(context.Background())
		return len(live) == 1 && live[0].State == "bridged"
	})
	if err := e.HangupCall(live[0].ID); err != nil {
		t.Fatal(err)
	}
	wait(t, c, "the caller")
	wait(t, callee, "the callee")
	if r := cdrs(t, e, 1)[0]; r.HangupBy != "operator" {
		t.Fatalf("CDR %+v", r)
	}
}

func redisDown(t *testing.T, e *Env) {
	addNumber(t, e)
	e.PBX.Target(mobile, Behavior{})
	running := e.PBX.Inbound(t, did, caller, callerNam)
	callee := reached(t, e, mobile, 1)[0]
	bridged(t, e, running, callee)
	// Redis hangs (a paused server: requests time out), then dies (a
	// stopped one: connections refused). Either way a new call takes the
	// fallback (busy here) at once, and the running call goes on.
	for _, outage := range []struct {
		name       string
		start, end func()
	}{
		{"hung", e.Redis.Pause, e.Redis.Resume},
		{"stopped", e.Redis.Stop, e.Redis.Start},
	} {
		outage.start()
		start := time.Now()
		other := e.PBX.Inbound(t, did, "+14155550100", "Bob")
		wait(t, other, "the call while Redis is "+outage.name)
		if !heard(other, "busy") {
			t.Fatalf("Redis %s: the caller heard %v, want busy", outage.name, other.Heard())
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Redis %s: the fallback took %s", outage.name, d)
		}
		select {
		case <-running.Done():
			t.Fatalf("Redis %s: the running call was dropped", outage.name)
		default:
		}
		outage.end()
	}
	running.Hangup()
	wait(t, callee, "the callee after the outage")
	// The restarted Redis is empty (no persistence in tests): provision
	// again; calls are forwarded again.
	addNumber(t, e)
	third := e.PBX.Inbound(t, did, "+14155550101", "Carol")
	eventually(t, "calls forwarded again", func() bool { return len(e.PBX.Reached(mobile)) == 2 })
	third.Hangup()
}

func linkDropped(t *testing.T, e *Env) {
	addNumber(t, e)
	e.PBX.Target(mobile, Behavior{})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	callee := reached(t, e, mobile, 1)[0]
	bridged(t, e, c, callee)
	// The link drops and, while it is down, the callee hangs up: the
	// event is lost, and only reconciliation after the reconnect can end
	// the caller's leg (no dead air).
	e.PBX.DropLink()
	callee.Hangup()
	wait(t, c, "the caller left alone after the link came back")
	cdrs(t, e, 1)
	noLiveCalls(t, e)
	// New calls work after the reconnect.
	c2 := e.PBX.Inbound(t, did, "+14155550100", "Bob")
	reached(t, e, mobile, 2)
	c2.Hangup()
}

func restartAdopts(t *testing.T, e *Env) {
	addNumber(t, e, func(n *routing.Number) { n.Limits.MaxConcurrent = 1 })
	e.PBX.Target(mobile, Behavior{})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	callee := reached(t, e, mobile, 1)[0]
	eventually(t, "bridged and registered", func() bool {
		live, _ := e.Store.ListCalls(context.Background())
		return callee.Answered() && len(live) == 1 && live[0].State == "bridged"
	})
	e.Restart()
	select {
	case <-c.Done():
		t.Fatal("the call was dropped by the restart")
	case <-time.After(300 * time.Millisecond):
	}
	// The new process owns the call: hang-up propagates, one CDR, slot back.
	callee.Hangup()
	wait(t, c, "the caller after the callee hung up (adopted call)")
	cdrs(t, e, 1)
	noLiveCalls(t, e)
	slotFree(t, e)
}

func drain(t *testing.T, e *Env) {
	addNumber(t, e)
	e.PBX.Target(mobile, Behavior{})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	callee := reached(t, e, mobile, 1)[0]
	bridged(t, e, c, callee)
	e.Drain()
	refused := e.PBX.Inbound(t, did, "+14155550100", "Bob")
	wait(t, refused, "the call arriving while draining")
	if refused.Answered() || !(heard(refused, "congestion") || heard(refused, "busy")) {
		t.Fatalf("the call during the drain heard %v", refused.Heard())
	}
	select {
	case <-c.Done():
		t.Fatal("draining dropped the running call")
	default:
	}
	c.Hangup()
	wait(t, callee, "the callee")
}
