package routing_test

import (
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
)

// A number with an IVR: after the usual gates the decision says to run it,
// holding the slot and carrying what a forward from the menu needs.
func TestDecideIVR(t *testing.T) {
	office := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC) // Wednesday
	ivrNumber := func(mods ...func(*routing.Number)) routing.Number {
		n := baseNumber()
		n.IVR = true
		n.Route.Targets = nil
		n.Route.Voicemail = true
		n.Route.Record = true
		for _, m := range mods {
			m(&n)
		}
		return n
	}
	cases := []struct {
		name   string
		n      routing.Number
		snap   func(*routing.Snapshot)
		action routing.Action
		reason routing.Reason
	}{
		{"runs the menu", ivrNumber(), nil, routing.ActionIVR, routing.ReasonIVR},
		{"with route targets too", ivrNumber(func(n *routing.Number) { n.Route.Targets = []routing.Target{{E164: mobile}} }), nil,
			routing.ActionIVR, routing.ReasonIVR},
		{"blocked caller never hears it", ivrNumber(), func(s *routing.Snapshot) {
			s.NumberBlock = &routing.Entry{Pattern: routing.Pattern(caller)}
		}, routing.ActionReject, routing.ReasonBlockedNumber},
		{"schedule voicemail wins", ivrNumber(func(n *routing.Number) {
			n.Schedules = []routing.ScheduleRule{mustSchedule(t, "mon-sun voicemail")}
		}), nil, routing.ActionVoicemail, routing.ReasonScheduleVM},
		{"schedule forward: the menu", ivrNumber(func(n *routing.Number) {
			n.Schedules = []routing.ScheduleRule{mustSchedule(t, "mon-fri 09:00-18:00 forward "+desk)}
		}), nil, routing.ActionIVR, routing.ReasonIVR},
		{"concurrency cap: voicemail", ivrNumber(func(n *routing.Number) { n.Limits.MaxConcurrent = 1 }),
			func(s *routing.Snapshot) { s.CapReached = true }, routing.ActionVoicemail, routing.ReasonConcurrency},
		{"daily minutes: voicemail", ivrNumber(func(n *routing.Number) { n.Limits.DailyMinutes = 10 }),
			func(s *routing.Snapshot) { s.MinutesUsed = 10 }, routing.ActionVoicemail, routing.ReasonDailyMinutes},
		{"suspended", ivrNumber(func(n *routing.Number) { n.State = routing.StateSuspended }), nil,
			routing.ActionReject, routing.ReasonNotActive},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := routing.Snapshot{Found: true, Number: c.n, SlotTaken: true}
			if c.snap != nil {
				c.snap(&s)
			}
			d := routing.Decide(routing.Call{ID: "c1", DID: did, Caller: caller, At: office, Trace: true}, s)
			if d.Action != c.action || d.Reason != c.reason {
				t.Fatalf("decision %s (%s): %s; want %s (%s)\ntrace %q", d.Action, d.Reason, d.Detail, c.action, c.reason, d.Trace)
			}
			if d.Action != routing.ActionIVR {
				return
			}
			if !d.SlotHeld || len(d.Targets) != 0 || d.CallerID.Number != did || !d.Record || !d.Voicemail || d.RingTimeout != 20*time.Second {
				t.Fatalf("IVR decision %+v", d)
			}
			if d.Trace[len(d.Trace)-1] != "the number has an IVR: the caller hears its menu" {
				t.Fatalf("trace %q", d.Trace)
			}
		})
	}
}

// A recorded IVR number with by-country consent announces the recording:
// the option's targets are not known when the call is decided.
func TestDecideIVRConsent(t *testing.T) {
	for _, c := range []struct {
		mode routing.ConsentMode
		want bool
	}{{routing.ConsentNever, false}, {routing.ConsentAlways, true}, {routing.ConsentByCountry, true}} {
		n := baseNumber()
		n.IVR, n.Route.Record, n.Consent = true, true, c.mode
		d := routing.Decide(routing.Call{ID: "c1", DID: did, Caller: "+14155550100"}, routing.Snapshot{Found: true, Number: n, SlotTaken: true})
		if d.Action != routing.ActionIVR || d.Consent != c.want {
			t.Fatalf("consent %q: decision %s consent=%v, want consent=%v", c.mode, d.Action, d.Consent, c.want)
		}
	}
}
