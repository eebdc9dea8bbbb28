package routing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Action is the kind of a routing decision.
type Action string

const (
	ActionForward     Action = "forward"
	ActionReject      Action = "reject"
	ActionVoicemail   Action = "voicemail"
	ActionUnknown     Action = "unknown"     // no such number
	ActionUnavailable Action = "unavailable" // the store could not be reached
	ActionIVR         Action = "ivr"         // answer and run the number's IVR menu (routing/ivr)
	ActionConference  Action = "conference"  // answer and join the conference room Decision.Room
)

// Reason names the rule that decided a call, so an operator can ask "why".
type Reason string

const (
	ReasonUnknownNumber    Reason = "unknown-number"
	ReasonStoreDown        Reason = "store-unavailable"
	ReasonExpired          Reason = "number-expired"
	ReasonNotActive        Reason = "number-not-active"
	ReasonBlockedNumber    Reason = "blocked-by-number-list"
	ReasonBlockedGlobal    Reason = "blocked-by-global-list"
	ReasonNotAllowlisted   Reason = "not-on-allowlist"
	ReasonScheduleReject   Reason = "schedule-reject"
	ReasonScheduleVM       Reason = "schedule-voicemail"
	ReasonRouteVoicemail   Reason = "route-voicemail"
	ReasonCountryDenied    Reason = "destination-country-not-allowed"
	ReasonDailyMinutes     Reason = "daily-minutes-cap"
	ReasonConcurrency      Reason = "concurrent-call-cap"
	ReasonForward          Reason = "forward"
	ReasonForwardScheduled Reason = "forward-by-schedule"
	ReasonVelocity         Reason = "velocity-limit"
	ReasonIVR              Reason = "ivr"
	ReasonConference       Reason = "conference-room"
)

// Call is an inbound call as the decision sees it.
type Call struct {
	ID         string    // the PBX's call id, used for the concurrency slot
	DID        string    // E.164
	Caller     string    // normalised with NormalizeCaller
	CallerName string    // as the PBX reported it: never trusted, never forwarded unless policy says
	At         time.Time // when the call arrived
	// Trace asks the decision to list every rule it evaluated (simulate,
	// why); live calls leave it off.
	Trace bool
}

// CallerID is what the far end of a forwarded call is shown.
type CallerID struct {
	Number    string `json:"number,omitempty"`
	Name      string `json:"name,omitempty"`
	Anonymous bool   `json:"anonymous,omitempty"`
}

// Decision is the typed outcome of routing one inbound call.
type Decision struct {
	Action Action `json:"action"`
	Reason Reason `json:"reason"`
	// Detail says in words which rule decided (pattern, schedule, limit).
	Detail string `json:"detail,omitempty"`

	// Forward
	Targets     []Target      `json:"targets,omitempty"`
	Strategy    Strategy      `json:"strategy,omitempty"`
	RingTimeout time.Duration `json:"ring_timeout,omitempty"`
	CallerID    CallerID      `json:"caller_id"`
	Record      bool          `json:"record,omitempty"`
	// Voicemail on forward: the caller may leave a message when every
	// target fails.
	Voicemail bool `json:"voicemail,omitempty"`

	// Consent: announce the recording to both parties before it starts.
	Consent bool `json:"consent,omitempty"`
	// Session is the masked session the call belongs to ("" for a plain
	// number).
	Session string `json:"session,omitempty"`
	// Confirm: a target that answers must press a key before it is
	// connected (else it is treated as not answering).
	Confirm bool `json:"confirm,omitempty"`
	// Conference: every target that answers joins the caller in one room
	// (sessions of three or more participants) instead of the first one
	// winning.
	Conference bool `json:"conference,omitempty"`
	// Room is the conference room of an ActionConference decision.
	Room string `json:"room,omitempty"`

	// Reject
	Reject RejectMode `json:"reject,omitempty"`

	// SlotHeld says the decision holds a concurrency slot for Call.ID that
	// the caller must release when the call ends.
	SlotHeld bool `json:"slot_held,omitempty"`

	// Trace lists, in order, the rules the decision evaluated.
	Trace []string `json:"trace,omitempty"`
}

// Snapshot is the state one decision reads, as the store gathered it in
// one round trip.
type Snapshot struct {
	Found        bool
	Number       Number
	NumberBlock  *Entry // the most specific live entry matching the caller
	GlobalBlock  *Entry
	Allowlisted  bool
	MinutesUsed  int  // forwarded seconds today / 60
	CapReached   bool // the concurrency cap was full; no slot taken
	SlotTaken    bool // a slot was taken for this call
	InUse        int  // forwarded calls in progress (including this one when taken)
	StoreFailure error
	// Session is the caller's session on a proxy number (nil: none, or
	// the number is not a proxy number).
	Session *SessionLeg
	// ConsentCountries: where by-country recording consent applies (the
	// deployment's list; nil: DefaultConsentCountries).
	ConsentCountries []string
}

// Decide routes one call over a snapshot of the store. It is a pure
// function: the same inputs give the same decision.
func Decide(c Call, s Snapshot) Decision {
	// The trace is for operators (simulate, why); live calls skip it.
	var tr []string
	if c.Trace {
		tr = make([]string, 0, 8)
	}
	note := func(f string, a ...any) {
		if c.Trace {
			tr = append(tr, fmt.Sprintf(f, a...))
		}
	}
	add := func(line func() string) {
		if c.Trace {
			tr = append(tr, line())
		}
	}
	done := func(d Decision) Decision {
		d.Trace = tr
		if d.Action == ActionForward || d.Action == ActionIVR {
			d.SlotHeld = s.SlotTaken
		}
		return d
	}
	if s.StoreFailure != nil {
		note("store: %v", s.StoreFailure)
		return done(Decision{Action: ActionUnavailable, Reason: ReasonStoreDown, Detail: "routing store unreachable: fallback applies"})
	}
	if !s.Found {
		note("number %s: not provisioned", c.DID)
		return done(Decision{Action: ActionUnknown, Reason: ReasonUnknownNumber, Reject: RejectNotInService,
			Detail: fmt.Sprintf("%s is not a provisioned number", c.DID)})
	}
	n := s.Number
	reject := n.Reject
	if reject == "" {
		reject = RejectBusy
	}
	add(func() string { return "number " + n.DID + ": found, state " + string(n.State) })
	if n.ExpiresAt != nil && !c.At.Before(*n.ExpiresAt) {
		note("number expired at %s", n.ExpiresAt.UTC().Format(time.RFC3339))
		return done(Decision{Action: ActionReject, Reason: ReasonExpired, Reject: RejectNotInService,
			Detail: fmt.Sprintf("number expired at %s", n.ExpiresAt.UTC().Format(time.RFC3339))})
	}
	if n.State != StateActive {
		note("number is %s", n.State)
		return done(Decision{Action: ActionReject, Reason: ReasonNotActive, Reject: RejectNotInService,
			Detail: fmt.Sprintf("number is %s", n.State)})
	}
	if e := s.NumberBlock; e != nil {
		note("caller %s matches number blocklist entry %s", c.Caller, e.Pattern)
		return done(Decision{Action: ActionReject, Reason: ReasonBlockedNumber, Reject: reject,
			Detail: blockDetail("number", e)})
	}
	if e := s.GlobalBlock; e != nil {
		note("caller %s matches global blocklist entry %s", c.Caller, e.Pattern)
		return done(Decision{Action: ActionReject, Reason: ReasonBlockedGlobal, Reject: reject,
			Detail: blockDetail("global", e)})
	}
	add(func() string { return "caller " + c.Caller + ": on no blocklist" })
	if n.Labels[LabelProxy] != "" {
		return done(decideSession(c, n, s.Session, note))
	}
	if n.AllowlistOnly {
		if !s.Allowlisted {
			note("allowlist-only: caller %s is not on the allowlist", c.Caller)
			return done(Decision{Action: ActionVoicemail, Reason: ReasonNotAllowlisted,
				Detail: "allowlist-only number: caller not on the allowlist goes to voicemail"})
		}
		note("allowlist-only: caller is on the allowlist")
	}

	route, reason := n.Route, ReasonForward
	loc := n.Location()
	local := c.At.In(loc)
schedules:
	for _, r := range n.Schedules {
		if r.Matches(local) {
			note("schedule %q matches %s %s", r.Spec, local.Format("Mon 15:04"), loc)
			route = mergeRoute(n.Route, r.Route)
			switch route.Action {
			case RouteVoicemail:
				return done(Decision{Action: ActionVoicemail, Reason: ReasonScheduleVM, Detail: fmt.Sprintf("schedule %q", r.Spec)})
			case RouteReject:
				return done(Decision{Action: ActionReject, Reason: ReasonScheduleReject, Reject: reject, Detail: fmt.Sprintf("schedule %q", r.Spec)})
			}
			reason = ReasonForwardScheduled
			break schedules
		}
	}
	if reason == ReasonForward {
		add(func() string {
			return "no schedule rule matches " + local.Format("Mon 15:04") + " " + loc.String() + ": main route"
		})
		if route.Action == RouteVoicemail {
			return done(Decision{Action: ActionVoicemail, Reason: ReasonRouteVoicemail, Detail: "the number's route is voicemail"})
		}
		if route.Action == RouteReject {
			return done(Decision{Action: ActionReject, Reason: ReasonScheduleReject, Reject: reject, Detail: "the number's route rejects calls"})
		}
	}
	if route.Conference != "" {
		// A room: no forwarding leg, so no toll-fraud limit applies.
		note("the route leads to conference room %s", route.Conference)
		return done(Decision{Action: ActionConference, Reason: ReasonConference, Room: route.Conference,
			Detail: "conference room " + route.Conference})
	}
	// Unable to forward: voicemail when the route allows it, else the
	// number's reject mode.
	cannot := func(why Reason, detail string) Decision {
		if route.Voicemail {
			return done(Decision{Action: ActionVoicemail, Reason: why, Detail: detail + "; voicemail instead"})
		}
		return done(Decision{Action: ActionReject, Reason: why, Reject: reject, Detail: detail})
	}

	targets := make([]Target, 0, len(route.Targets))
	for _, t := range route.Targets {
		if t.IsSIP() || len(n.Limits.AllowCountries) == 0 {
			targets = append(targets, t)
			continue
		}
		cc := t.Country
		if cc == "" {
			cc = CountryOf(t.E164)
		}
		if !slices.Contains(n.Limits.AllowCountries, cc) {
			note("target %s is in %q, not in allowed countries %s: skipped", t, cc, strings.Join(n.Limits.AllowCountries, ","))
			continue
		}
		targets = append(targets, t)
	}
	if len(targets) == 0 && !n.IVR {
		if len(route.Targets) > 0 {
			return cannot(ReasonCountryDenied, "no target is in an allowed destination country")
		}
		return done(Decision{Action: ActionVoicemail, Reason: ReasonRouteVoicemail, Detail: "the route has no target"})
	}
	if cap := n.Limits.DailyMinutes; cap > 0 {
		if s.MinutesUsed >= cap {
			note("daily forwarded minutes %d reached cap %d", s.MinutesUsed, cap)
			return cannot(ReasonDailyMinutes, fmt.Sprintf("daily cap of %d forwarded minutes reached", cap))
		}
		add(func() string {
			return "daily forwarded minutes " + strconv.Itoa(s.MinutesUsed) + " of " + strconv.Itoa(cap)
		})
	}
	if cap := n.Limits.MaxConcurrent; cap > 0 {
		if s.CapReached {
			note("concurrent forwarded calls at cap %d", cap)
			return cannot(ReasonConcurrency, fmt.Sprintf("cap of %d concurrent calls reached", cap))
		}
		add(func() string {
			return "concurrent forwarded calls " + strconv.Itoa(s.InUse) + " of " + strconv.Itoa(cap)
		})
	}
	d := Decision{
		Action:      ActionForward,
		Reason:      reason,
		Targets:     targets,
		Strategy:    route.Strategy,
		RingTimeout: route.RingTimeout,
		Record:      route.Record,
		Voicemail:   route.Voicemail,
		Consent:     route.Record && NeedsConsent(n.Consent, s.ConsentCountries, c.Caller, targets),
	}
	switch route.CallerID {
	case PresentCaller:
		if c.Caller == Anonymous {
			d.CallerID = CallerID{Anonymous: true}
		} else {
			d.CallerID = CallerID{Number: c.Caller, Name: sanitizeName(c.CallerName)}
		}
		note("caller ID: the original caller (owner's choice)")
	case PresentAnonymous:
		d.CallerID = CallerID{Anonymous: true}
		note("caller ID: anonymous")
	default:
		d.CallerID = CallerID{Number: n.DID, Name: n.DID}
		add(func() string { return "caller ID: the DID " + n.DID })
	}
	if n.IVR {
		// The IVR takes the forward's place: its options choose the
		// targets; the caller ID, ring time, recording and slot carry over.
		note("the number has an IVR: the caller hears its menu")
		d.Action, d.Reason, d.Targets, d.Detail = ActionIVR, ReasonIVR, nil, "the number's IVR menu answers the call"
		// The menu's options choose the targets later: by-country consent
		// cannot be decided now, so it is announced (privacy first).
		d.Consent = route.Record && (n.Consent == ConsentAlways || n.Consent == ConsentByCountry)
		return done(d)
	}
	d.Detail = "forward to " + strconv.Itoa(len(targets)) + " target(s), " + string(d.Strategy)
	return done(d)
}

// mergeRoute fills a schedule rule's route from the main route.
func mergeRoute(main, rule Route) Route {
	out := main
	out.Action = rule.Action
	if len(rule.Targets) > 0 {
		out.Targets = rule.Targets
	}
	return out
}

func blockDetail(scope string, e *Entry) string {
	s := fmt.Sprintf("%s blocklist entry %s", scope, e.Pattern)
	if e.Reason != "" {
		s += fmt.Sprintf(" (%s)", e.Reason)
	}
	if e.ExpiresAt != nil {
		s += " until " + e.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return s
}

// sanitizeName keeps a caller-supplied display name printable and short; a
// driver still escapes it for its PBX.
func sanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			continue
		}
		b.WriteRune(r)
		if b.Len() >= 64 {
			break
		}
	}
	return b.String()
}
