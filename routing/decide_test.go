package routing_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
)

const (
	did    = "+33187654321"
	mobile = "+33612345678"
	desk   = "+33140000000"
	usCell = "+14155550100"
	caller = "+447700900123"
)

func mustSchedule(t *testing.T, s string) routing.ScheduleRule {
	t.Helper()
	r, err := routing.ParseSchedule(s, "FR")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func baseNumber() routing.Number {
	n := routing.Number{
		DID:   did,
		State: routing.StateActive,
		TZ:    "Europe/Paris",
		Route: routing.Route{
			Targets:  []routing.Target{{E164: mobile}},
			Strategy: routing.Sequential, RingTimeout: 20 * time.Second, CallerID: routing.PresentDID,
		},
		Reject: routing.RejectBusy,
	}
	return n
}

func TestDecide(t *testing.T) {
	// Wednesday 2026-11-25 10:30 in Paris (09:30 UTC).
	office := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	evening := time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC)
	past := office.Add(-time.Hour)
	entry := func(p string) *routing.Entry { return &routing.Entry{Pattern: routing.Pattern(p), Reason: "spam"} }

	type tc struct {
		name     string
		caller   string
		at       time.Time
		number   func(*routing.Number)
		snap     func(*routing.Snapshot)
		action   routing.Action
		reason   routing.Reason
		reject   routing.RejectMode
		targets  []string
		callerID routing.CallerID
		slot     bool
	}
	cases := []tc{
		{name: "plain forward shows the DID, not the caller", caller: caller,
			action: routing.ActionForward, reason: routing.ReasonForward, targets: []string{mobile},
			callerID: routing.CallerID{Number: did, Name: did}},
		{name: "caller policy presents the caller", caller: caller,
			number: func(n *routing.Number) { n.Route.CallerID = routing.PresentCaller },
			action: routing.ActionForward, reason: routing.ReasonForward, targets: []string{mobile},
			callerID: routing.CallerID{Number: caller, Name: "Alice"}},
		{name: "caller policy with a withheld caller stays anonymous", caller: routing.Anonymous,
			number: func(n *routing.Number) { n.Route.CallerID = routing.PresentCaller },
			action: routing.ActionForward, reason: routing.ReasonForward, targets: []string{mobile},
			callerID: routing.CallerID{Anonymous: true}},
		{name: "anonymous policy", caller: caller,
			number: func(n *routing.Number) { n.Route.CallerID = routing.PresentAnonymous },
			action: routing.ActionForward, reason: routing.ReasonForward, targets: []string{mobile},
			callerID: routing.CallerID{Anonymous: true}},
		{name: "blocked on the number's list", caller: caller,
			snap:   func(s *routing.Snapshot) { s.NumberBlock = entry(caller) },
			action: routing.ActionReject, reason: routing.ReasonBlockedNumber, reject: routing.RejectBusy},
		{name: "blocked globally", caller: caller,
			snap:   func(s *routing.Snapshot) { s.GlobalBlock = entry("+44*") },
			action: routing.ActionReject, reason: routing.ReasonBlockedGlobal, reject: routing.RejectBusy},
		{name: "blocked by prefix hears the number's reject mode", caller: caller,
			number: func(n *routing.Number) { n.Reject = routing.RejectNotInService },
			snap:   func(s *routing.Snapshot) { s.NumberBlock = entry("+447700*") },
			action: routing.ActionReject, reason: routing.ReasonBlockedNumber, reject: routing.RejectNotInService},
		{name: "anonymous caller blocked", caller: routing.Anonymous,
			snap:   func(s *routing.Snapshot) { s.NumberBlock = entry(routing.Anonymous) },
			action: routing.ActionReject, reason: routing.ReasonBlockedNumber, reject: routing.RejectBusy},
		{name: "number list wins over global list", caller: caller,
			snap:   func(s *routing.Snapshot) { s.NumberBlock = entry(caller); s.GlobalBlock = entry("+44*") },
			action: routing.ActionReject, reason: routing.ReasonBlockedNumber, reject: routing.RejectBusy},
		{name: "allowlist-only, caller not listed: voicemail", caller: caller,
			number: func(n *routing.Number) { n.AllowlistOnly = true },
			action: routing.ActionVoicemail, reason: routing.ReasonNotAllowlisted},
		{name: "allowlist-only, caller listed: forward", caller: caller,
			number: func(n *routing.Number) { n.AllowlistOnly = true },
			snap:   func(s *routing.Snapshot) { s.Allowlisted = true },
			action: routing.ActionForward, reason: routing.ReasonForward, targets: []string{mobile},
			callerID: routing.CallerID{Number: did, Name: did}},
		{name: "blocklist beats allowlist", caller: caller,
			number: func(n *routing.Number) { n.AllowlistOnly = true },
			snap:   func(s *routing.Snapshot) { s.Allowlisted = true; s.NumberBlock = entry(caller) },
			action: routing.ActionReject, reason: routing.ReasonBlockedNumber, reject: routing.RejectBusy},
		{name: "office hours switch to the desk", caller: caller, at: office,
			number: func(n *routing.Number) {
				n.Schedules = []routing.ScheduleRule{mustSchedule(t, "mon-fri 09:00-18:00 forward "+desk)}
			},
			action: routing.ActionForward, reason: routing.ReasonForwardScheduled, targets: []string{desk},
			callerID: routing.CallerID{Number: did, Name: did}},
		{name: "outside office hours the main route applies", caller: caller, at: evening,
			number: func(n *routing.Number) {
				n.Schedules = []routing.ScheduleRule{mustSchedule(t, "mon-fri 09:00-18:00 forward "+desk)}
			},
			action: routing.ActionForward, reason: routing.ReasonForward, targets: []string{mobile},
			callerID: routing.CallerID{Number: did, Name: did}},
		{name: "evenings to voicemail (window wraps midnight)", caller: caller, at: evening,
			number: func(n *routing.Number) {
				n.Schedules = []routing.ScheduleRule{mustSchedule(t, "mon-fri 19:00-08:00 voicemail")}
			},
			action: routing.ActionVoicemail, reason: routing.ReasonScheduleVM},
		{name: "schedule reject", caller: caller, at: office,
			number: func(n *routing.Number) { n.Schedules = []routing.ScheduleRule{mustSchedule(t, "wed reject")} },
			action: routing.ActionReject, reason: routing.ReasonScheduleReject, reject: routing.RejectBusy},
		{name: "expired number is not in service", caller: caller, at: office,
			number: func(n *routing.Number) { n.ExpiresAt = &past },
			action: routing.ActionReject, reason: routing.ReasonExpired, reject: routing.RejectNotInService},
		{name: "expiry beats blocklist (number gone for everyone)", caller: caller, at: office,
			number: func(n *routing.Number) { n.ExpiresAt = &past },
			snap:   func(s *routing.Snapshot) { s.NumberBlock = entry(caller) },
			action: routing.ActionReject, reason: routing.ReasonExpired, reject: routing.RejectNotInService},
		{name: "quarantined number is not in service", caller: caller,
			number: func(n *routing.Number) { n.State = routing.StateQuarantined },
			action: routing.ActionReject, reason: routing.ReasonNotActive, reject: routing.RejectNotInService},
		{name: "concurrency cap reached: busy", caller: caller,
			number: func(n *routing.Number) { n.Limits.MaxConcurrent = 2 },
			snap:   func(s *routing.Snapshot) { s.CapReached = true; s.InUse = 2 },
			action: routing.ActionReject, reason: routing.ReasonConcurrency, reject: routing.RejectBusy},
		{name: "concurrency cap reached with voicemail: voicemail", caller: caller,
			number: func(n *routing.Number) { n.Limits.MaxConcurrent = 2; n.Route.Voicemail = true },
			snap:   func(s *routing.Snapshot) { s.CapReached = true },
			action: routing.ActionVoicemail, reason: routing.ReasonConcurrency},
		{name: "under the cap the slot is held", caller: caller,
			number: func(n *routing.Number) { n.Limits.MaxConcurrent = 2 },
			snap:   func(s *routing.Snapshot) { s.SlotTaken = true; s.InUse = 1 },
			action: routing.ActionForward, reason: routing.ReasonForward, targets: []string{mobile},
			callerID: routing.CallerID{Number: did, Name: did}, slot: true},
		{name: "daily minutes cap reached", caller: caller,
			number: func(n *routing.Number) { n.Limits.DailyMinutes = 60 },
			snap:   func(s *routing.Snapshot) { s.MinutesUsed = 60 },
			action: routing.ActionReject, reason: routing.ReasonDailyMinutes, reject: routing.RejectBusy},
		{name: "destination country not allowed", caller: caller,
			number: func(n *routing.Number) {
				n.Route.Targets = []routing.Target{{E164: usCell}}
				n.Limits.AllowCountries = []string{"FR"}
			},
			action: routing.ActionReject, reason: routing.ReasonCountryDenied, reject: routing.RejectBusy},
		{name: "disallowed country target skipped, allowed one rung", caller: caller,
			number: func(n *routing.Number) {
				n.Route.Targets = []routing.Target{{E164: usCell}, {E164: mobile}, {SIPURI: "sip:bob@example.com"}}
				n.Limits.AllowCountries = []string{"FR"}
			},
			action: routing.ActionForward, reason: routing.ReasonForward, targets: []string{mobile, "sip:bob@example.com"},
			callerID: routing.CallerID{Number: did, Name: did}},
		{name: "unknown number", caller: caller,
			snap:   func(s *routing.Snapshot) { s.Found = false },
			action: routing.ActionUnknown, reason: routing.ReasonUnknownNumber, reject: routing.RejectNotInService},
		{name: "store down", caller: caller,
			snap:   func(s *routing.Snapshot) { s.StoreFailure = errors.New("dial tcp: refused") },
			action: routing.ActionUnavailable, reason: routing.ReasonStoreDown},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := baseNumber()
			if c.number != nil {
				c.number(&n)
			}
			if err := n.Validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			snap := routing.Snapshot{Found: true, Number: n}
			if c.snap != nil {
				c.snap(&snap)
			}
			at := c.at
			if at.IsZero() {
				at = office
			}
			d := routing.Decide(routing.Call{ID: "c1", DID: did, Caller: c.caller, CallerName: "Alice", At: at, Trace: true}, snap)
			if d.Action != c.action || d.Reason != c.reason {
				t.Fatalf("got %s/%s (%s), want %s/%s\ntrace: %q", d.Action, d.Reason, d.Detail, c.action, c.reason, d.Trace)
			}
			if d.Reject != c.reject {
				t.Errorf("reject mode %q, want %q", d.Reject, c.reject)
			}
			var got []string
			for _, tg := range d.Targets {
				got = append(got, tg.String())
			}
			if !slices.Equal(got, c.targets) {
				t.Errorf("targets %v, want %v", got, c.targets)
			}
			if d.CallerID != c.callerID {
				t.Errorf("caller id %+v, want %+v", d.CallerID, c.callerID)
			}
			if d.SlotHeld != c.slot {
				t.Errorf("slot held %v, want %v", d.SlotHeld, c.slot)
			}
			if len(d.Trace) == 0 || d.Detail == "" {
				t.Errorf("decision without trace or detail: %+v", d)
			}
		})
	}
}

// The caller's number must never be the presented caller ID under the
// default policy, whatever the caller sends.
func TestDecideNeverLeaksCallerUnderDIDPolicy(t *testing.T) {
	n := baseNumber()
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []string{caller, routing.Anonymous, "12345", did} {
		d := routing.Decide(routing.Call{DID: did, Caller: cl, CallerName: "Evil\r\nName " + cl, At: time.Now()},
			routing.Snapshot{Found: true, Number: n})
		if d.CallerID.Number != did || d.CallerID.Name != did {
			t.Errorf("caller %q: presented %+v", cl, d.CallerID)
		}
	}
}

// BenchmarkDecidePure is the decision's CPU cost without the store.
func BenchmarkDecidePure(b *testing.B) {
	n := baseNumber()
	n.Limits = routing.Limits{MaxConcurrent: 10, AllowCountries: []string{"FR"}, DailyMinutes: 100}
	if err := n.Validate(); err != nil {
		b.Fatal(err)
	}
	snap := routing.Snapshot{Found: true, Number: n, SlotTaken: true, InUse: 1}
	c := routing.Call{ID: "c1", DID: did, Caller: caller, At: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		if d := routing.Decide(c, snap); d.Action != routing.ActionForward {
			b.Fatal(d)
		}
	}
}
