package scenariotest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
)

// The masked-session scenarios: participants reach each other through a
// proxy number from a pool, each seeing only the proxy number.

const (
	proxyPool = "proxies"
	proxy1    = "+33187650001"
)

// newSession opens a session between participants on a proxy number of
// the test pool and returns that number and the session's id.
func newSession(t *testing.T, e *Env, confirm bool, participants ...string) (string, string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := e.Store.AddToPool(ctx, proxyPool, []string{proxy1}, time.Hour); err != nil {
		t.Fatal(err)
	}
	s, err := e.Store.CreateSession(ctx, routing.SessionSpec{Pool: proxyPool, Participants: participants, TTL: time.Hour, Confirm: confirm})
	if err != nil {
		t.Fatal(err)
	}
	return s.Proxy, s.ID
}

// sawProxy checks a reached party was shown the proxy number and nothing
// of the caller.
func sawProxy(t *testing.T, p Party, proxy string) {
	t.Helper()
	name, number := p.CallerID()
	if strings.TrimPrefix(number, "+") != strings.TrimPrefix(proxy, "+") {
		t.Fatalf("the participant saw caller ID %q <%s>, want the proxy number %s", name, number, proxy)
	}
	if strings.Contains(name, "Alice") || strings.Contains(name, strings.TrimPrefix(caller, "+")) {
		t.Fatalf("the participant saw the caller's identity in the name %q", name)
	}
}

// cdrsOf waits for n CDRs of a DID.
func cdrsOf(t *testing.T, e *Env, number string, n int) []routing.CDR {
	t.Helper()
	var out []routing.CDR
	eventually(t, "CDRs of "+number, func() bool {
		out, _ = e.Store.ListCDRs(context.Background(), number, 100)
		return len(out) >= n
	})
	return out
}

func sessionTwoParties(t *testing.T, e *Env) {
	proxy, _ := newSession(t, e, false, caller, mobile.E164)
	e.PBX.Target(mobile, Behavior{AnswerAfter: 50 * time.Millisecond})
	a := e.PBX.Inbound(t, proxy, caller, callerNam)
	b := reached(t, e, mobile, 1)[0]
	eventually(t, "A and B connected", func() bool { return a.Answered() && b.Answered() && a.Room() != "" && a.Room() == b.Room() })
	sawProxy(t, b, proxy)
	noLeak(t, e)
	a.Hangup()
	wait(t, b, "B after A hung up")
	if rec := cdrsOf(t, e, proxy, 1)[0]; rec.Outcome != "answered" || rec.HangupBy != "caller" {
		t.Fatalf("CDR %+v", rec)
	}
	noLiveCalls(t, e)

	// And the other way: B calls the proxy number and reaches A, who sees
	// the proxy number too.
	aPhone := routing.Target{E164: caller}
	e.PBX.Target(aPhone, Behavior{AnswerAfter: 50 * time.Millisecond, HangupAfter: 300 * time.Millisecond})
	b2 := e.PBX.Inbound(t, proxy, mobile.E164, "Bob Private")
	a2 := reached(t, e, aPhone, 1)[0]
	name, number := a2.CallerID()
	if strings.TrimPrefix(number, "+") != strings.TrimPrefix(proxy, "+") || strings.Contains(name, "Bob") {
		t.Fatalf("A saw %q <%s>, want the proxy number %s", name, number, proxy)
	}
	wait(t, b2, "B after A hung up")
	cdrsOf(t, e, proxy, 2)
	noLiveCalls(t, e)
}

func sessionNonParticipant(t *testing.T, e *Env) {
	proxy, id := newSession(t, e, false, caller, mobile.E164)
	e.PBX.Target(mobile, Behavior{})
	x := e.PBX.Inbound(t, proxy, "+14155550100", "Stranger")
	wait(t, x, "a stranger's call")
	if !heard(x, "not-in-service") {
		t.Fatalf("a non-participant heard %v, want not-in-service", x.Heard())
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(e.PBX.Reached(mobile)); n != 0 {
		t.Fatalf("a non-participant's call rang a participant %d time(s)", n)
	}
	// Closed: even a participant now hears not-in-service.
	if err := e.Store.CloseSession(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	a := e.PBX.Inbound(t, proxy, caller, callerNam)
	wait(t, a, "a participant's call after the session closed")
	if !heard(a, "not-in-service") || len(e.PBX.Reached(mobile)) != 0 {
		t.Fatalf("after close the participant heard %v and rang %d", a.Heard(), len(e.PBX.Reached(mobile)))
	}
}

func sessionThreeParties(t *testing.T, e *Env) {
	proxy, _ := newSession(t, e, false, caller, mobile.E164, desk.E164)
	e.PBX.Target(mobile, Behavior{AnswerAfter: 50 * time.Millisecond})
	e.PBX.Target(desk, Behavior{AnswerAfter: 150 * time.Millisecond})
	a := e.PBX.Inbound(t, proxy, caller, callerNam)
	b := reached(t, e, mobile, 1)[0]
	c := reached(t, e, desk, 1)[0]
	eventually(t, "A, B and C in one room", func() bool {
		return a.Answered() && b.Answered() && c.Answered() && a.Room() != "" && a.Room() == b.Room() && b.Room() == c.Room()
	})
	sawProxy(t, b, proxy)
	sawProxy(t, c, proxy)
	noLeak(t, e)
	// B leaves: A and C go on talking.
	b.Hangup()
	time.Sleep(200 * time.Millisecond)
	select {
	case <-a.Done():
		t.Fatal("A was hung up when B left a three-party call")
	case <-c.Done():
		t.Fatal("C was hung up when B left a three-party call")
	default:
	}
	if a.Room() == "" || a.Room() != c.Room() {
		t.Fatalf("A (%q) and C (%q) are no longer together after B left", a.Room(), c.Room())
	}
	// C leaves too: A is alone, and the call ends.
	c.Hangup()
	wait(t, a, "A alone in the room")
	if rec := cdrsOf(t, e, proxy, 1)[0]; rec.Outcome != "answered" || rec.HangupBy != "callee" {
		t.Fatalf("CDR %+v", rec)
	}
	noLiveCalls(t, e)
}

func sessionConfirm(t *testing.T, e *Env) {
	proxy, _ := newSession(t, e, true, caller, mobile.E164)
	e.PBX.Target(mobile, Behavior{AnswerAfter: 50 * time.Millisecond})
	a := e.PBX.Inbound(t, proxy, caller, callerNam)
	b := reached(t, e, mobile, 1)[0]
	eventually(t, "B asked to press a key", func() bool { return heard(b, "confirm") })
	if a.Answered() || a.Room() != "" {
		t.Fatal("A was connected before B pressed a key")
	}
	b.Press("1")
	eventually(t, "A and B connected after B pressed a key", func() bool {
		return a.Answered() && a.Room() != "" && a.Room() == b.Room()
	})
	a.Hangup()
	wait(t, b, "B after A hung up")
	noLiveCalls(t, e)

	// A carrier voicemail answers and presses nothing: it is hung up, and
	// the caller is never connected to it.
	a2 := e.PBX.Inbound(t, proxy, caller, callerNam)
	vm := reached(t, e, mobile, 2)[1]
	wait(t, vm, "an answering machine that never confirms")
	wait(t, a2, "A after nobody confirmed")
	if a2.Answered() && a2.Room() != "" {
		t.Fatal("A was connected to a party that never confirmed")
	}
	if !heard(a2, "busy") {
		t.Errorf("A heard %v, want busy", a2.Heard())
	}
	noLiveCalls(t, e)
}

func recordingConsent(t *testing.T, e *Env) {
	addNumber(t, e, func(n *routing.Number) {
		n.Route.Record = true
		n.Consent = routing.ConsentAlways
	})
	e.PBX.Target(mobile, Behavior{AnswerAfter: 50 * time.Millisecond})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	callee := reached(t, e, mobile, 1)[0]
	eventually(t, "a recording started", func() bool { return len(e.PBX.Recordings()) == 1 })
	if !heard(c, "recording-consent") || !heard(callee, "recording-consent") {
		t.Fatalf("consent announcement: caller heard %v, callee heard %v", c.Heard(), callee.Heard())
	}
	c.Hangup()
	wait(t, callee, "the callee")
	noLiveCalls(t, e)
}
