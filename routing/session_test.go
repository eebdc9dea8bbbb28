package routing_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
)

const (
	proxyDID = "+33187650001"
	partA    = "+33612345678"
	partB    = "+447700900456"
	partC    = "+14155550123"
)

func proxyNumber() routing.Number {
	return routing.Number{DID: proxyDID, State: routing.StateActive, Reject: routing.RejectNotInService,
		Labels: map[string]string{routing.LabelPool: "proxies", routing.LabelProxy: "1"},
		Route:  routing.Route{Action: routing.RouteReject}}
}

// Calls to a proxy number: a participant reaches the others shown the
// proxy number; everybody else hears not-in-service.
func TestDecideSession(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	two := &routing.SessionLeg{ID: "abcdefgh2345", ExpiresAt: at.Add(time.Hour), Participants: []string{partA, partB}}
	three := &routing.SessionLeg{ID: "zzzzzzzz7777", ExpiresAt: at.Add(time.Hour), Confirm: true, Participants: []string{partA, partB, partC}}
	for _, c := range []struct {
		name       string
		caller     string
		leg        *routing.SessionLeg
		at         time.Time
		number     func(*routing.Number)
		global     bool
		action     routing.Action
		reason     routing.Reason
		targets    []string
		conference bool
		confirm    bool
	}{
		{name: "A calls: reaches B", caller: partA, leg: two, action: routing.ActionForward, reason: routing.ReasonSession, targets: []string{partB}},
		{name: "B calls: reaches A", caller: partB, leg: two, action: routing.ActionForward, reason: routing.ReasonSession, targets: []string{partA}},
		{name: "three parties: room with the two others", caller: partB, leg: three, action: routing.ActionForward,
			reason: routing.ReasonSession, targets: []string{partA, partC}, conference: true, confirm: true},
		{name: "stranger", caller: "+33699999999", action: routing.ActionReject, reason: routing.ReasonNotParticipant},
		{name: "anonymous", caller: routing.Anonymous, action: routing.ActionReject, reason: routing.ReasonNotParticipant},
		// The store returns the entry of the caller; one naming other
		// participants only is still refused.
		{name: "entry without the caller", caller: partC, leg: two, action: routing.ActionReject, reason: routing.ReasonNotParticipant},
		{name: "session past its end", caller: partA, leg: two, at: at.Add(time.Hour), action: routing.ActionReject, reason: routing.ReasonNotParticipant},
		{name: "globally blocked participant", caller: partA, leg: two, global: true, action: routing.ActionReject, reason: routing.ReasonBlockedGlobal},
		{name: "suspended proxy", caller: partA, leg: two, number: func(n *routing.Number) { n.State = routing.StateSuspended },
			action: routing.ActionReject, reason: routing.ReasonNotActive},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := proxyNumber()
			if c.number != nil {
				c.number(&n)
			}
			snap := routing.Snapshot{Found: true, Number: n, Session: c.leg}
			if c.global {
				snap.GlobalBlock = &routing.Entry{Pattern: routing.Pattern(partA)}
			}
			when := at
			if !c.at.IsZero() {
				when = c.at
			}
			d := routing.Decide(routing.Call{ID: "c1", DID: proxyDID, Caller: c.caller, CallerName: "Alice Real", At: when, Trace: true}, snap)
			if d.Action != c.action || d.Reason != c.reason {
				t.Fatalf("decision %s/%s (%s), want %s/%s", d.Action, d.Reason, d.Detail, c.action, c.reason)
			}
			if d.Action != routing.ActionForward {
				if d.Reject != routing.RejectNotInService || len(d.Targets) != 0 || d.Session != "" {
					t.Fatalf("refused call: %+v", d)
				}
				if c.reason == routing.ReasonNotParticipant && !strings.Contains(d.Detail, "not a participant of any open session") {
					t.Fatalf("detail %q", d.Detail)
				}
				return
			}
			var got []string
			for _, tg := range d.Targets {
				got = append(got, tg.E164)
			}
			if !slices.Equal(got, c.targets) {
				t.Fatalf("targets %v, want %v", got, c.targets)
			}
			if d.CallerID != (routing.CallerID{Number: proxyDID, Name: proxyDID}) {
				t.Fatalf("caller ID %+v, want the proxy number", d.CallerID)
			}
			if d.Session != c.leg.ID || d.Conference != c.conference || d.Confirm != c.confirm ||
				d.Strategy != routing.Simultaneous || d.RingTimeout != routing.DefaultRingTimeout {
				t.Fatalf("decision %+v", d)
			}
			if strings.Contains(strings.Join(d.Trace, "\n"), "Alice Real") {
				t.Fatalf("trace shows the caller's name: %v", d.Trace)
			}
		})
	}
}

// A plain number is never routed by a session entry, whatever the store
// returns.
func TestDecidePlainNumberIgnoresSession(t *testing.T) {
	n := baseNumber()
	leg := &routing.SessionLeg{ID: "abcdefgh2345", ExpiresAt: time.Now().Add(time.Hour), Participants: []string{caller, partB}}
	d := routing.Decide(routing.Call{DID: did, Caller: caller, At: time.Now()}, routing.Snapshot{Found: true, Number: n, Session: leg})
	if d.Reason != routing.ReasonForward || d.Session != "" || len(d.Targets) != 1 || d.Targets[0].E164 != mobile {
		t.Fatalf("plain number: %+v", d)
	}
}

func TestSessionSpecValidate(t *testing.T) {
	for _, c := range []struct {
		spec routing.SessionSpec
		bad  string // the value the error must name; "" for valid
	}{
		{routing.SessionSpec{Pool: "p", Participants: []string{partA, partB}}, ""},
		{routing.SessionSpec{Pool: "p", Participants: []string{partA, partB, partC}, TTL: time.Minute, Match: routing.MatchCountry}, ""},
		{routing.SessionSpec{Pool: "p", Participants: []string{"+33187654321", partB}, Match: routing.MatchArea}, ""},
		{routing.SessionSpec{Pool: "p q", Participants: []string{partA, partB}}, "p q"},
		{routing.SessionSpec{Pool: "p", Participants: []string{partA}}, "1 participant"},
		{routing.SessionSpec{Pool: "p", Participants: []string{partA, "0612345678"}}, "0612345678"},
		{routing.SessionSpec{Pool: "p", Participants: []string{partA, "+33 6 12 34 56 79"}}, "+33 6 12 34 56 79"},
		{routing.SessionSpec{Pool: "p", Participants: []string{partA, partB, partA}}, partA},
		{routing.SessionSpec{Pool: "p", Participants: []string{partA, partB}, TTL: -time.Second}, "-1s"},
		{routing.SessionSpec{Pool: "p", Participants: []string{partA, partB}, TTL: 400 * 24 * time.Hour}, "9600h"},
		{routing.SessionSpec{Pool: "p", Participants: []string{partA, partB}, Match: "city"}, "city"},
		{routing.SessionSpec{Pool: "p", Participants: []string{partA, partB}, Match: routing.MatchArea}, partA}, // a mobile: no area
	} {
		sp := c.spec
		err := sp.Validate()
		switch {
		case c.bad == "" && err != nil:
			t.Errorf("%+v: %v", c.spec, err)
		case c.bad == "" && c.spec.TTL == 0 && sp.TTL != routing.DefaultSessionTTL:
			t.Errorf("%+v: default TTL %s", c.spec, sp.TTL)
		case c.bad != "" && (err == nil || !strings.Contains(err.Error(), c.bad)):
			t.Errorf("%+v: error %v, want one naming %q", c.spec, err, c.bad)
		}
	}
}

func TestSessionIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := routing.NewSessionID()
		if got, err := routing.ParseSessionID(id); err != nil || got != id {
			t.Fatalf("new id %q does not parse: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("id %q drawn twice", id)
		}
		seen[id] = true
	}
	if got, err := routing.ParseSessionID(" ABCDEFGH2345 "); err != nil || got != "abcdefgh2345" {
		t.Fatalf("upper case id: %q, %v", got, err)
	}
	for _, bad := range []string{"", "abc", "abcdefgh2340", "abcdefgh23456", "abcdefgh234!", "../../etc/pa"} {
		if _, err := routing.ParseSessionID(bad); !errors.Is(err, routing.ErrBadSessionID) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestSessionLegRoundTrip(t *testing.T) {
	l := routing.SessionLeg{ID: "abcdefgh2345", ExpiresAt: time.UnixMilli(1795000000123).UTC(), Confirm: true, Participants: []string{partA, partB, partC}}
	got, err := routing.ParseSessionLeg(l.Encode())
	if err != nil || got.ID != l.ID || !got.ExpiresAt.Equal(l.ExpiresAt) || !got.Confirm || !slices.Equal(got.Participants, l.Participants) {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "1|abcdefgh2345|0", "x|abcdefgh2345|0|+1,+2", "1|bad|0|+33612345678,+33612345679",
		"1|abcdefgh2345|2|+33612345678,+33612345679", "1|abcdefgh2345|0|+33612345678", "1|abcdefgh2345|0|+33612345678,33612345679"} {
		if _, err := routing.ParseSessionLeg(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func FuzzParseSessionID(f *testing.F) {
	for _, s := range []string{"abcdefgh2345", "ABCDEFGH2345", "", "abcdefgh234\n", "ééééééé"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := routing.ParseSessionID(s)
		if err != nil {
			return
		}
		if len(id) != 12 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz234567") != "" {
			t.Fatalf("%q accepted as %q", s, id)
		}
	})
}

func FuzzParseSessionLeg(f *testing.F) {
	for _, s := range []string{"1795000000123|abcdefgh2345|1|+33612345678,+447700900456", "1|abcdefgh2345|0|+1,+2,+3", "|||", "9999999999999999999|abcdefgh2345|0|+1,+2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := routing.ParseSessionLeg(s)
		if err != nil {
			return
		}
		again, err := routing.ParseSessionLeg(l.Encode())
		if err != nil || again.ID != l.ID || !again.ExpiresAt.Equal(l.ExpiresAt) || !slices.Equal(again.Participants, l.Participants) {
			t.Fatalf("%q -> %+v does not round-trip: %+v, %v", s, l, again, err)
		}
		for _, p := range l.Participants {
			if strings.ContainsAny(p, "|,") {
				t.Fatalf("participant %q", p)
			}
		}
	})
}
