package routing

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
)

// State is a number's lifecycle state.
type State string

const (
	StateActive      State = "active"
	StateSuspended   State = "suspended"
	StateQuarantined State = "quarantined"
)

// Strategy says how a route's targets ring.
type Strategy string

const (
	Sequential   Strategy = "sequential"   // one after the other, in order
	Simultaneous Strategy = "simultaneous" // all at once, first answer wins
)

// CallerIDPolicy says what the far end of a forwarded call sees.
type CallerIDPolicy string

const (
	PresentDID       CallerIDPolicy = "did"       // the virtual number (default)
	PresentCaller    CallerIDPolicy = "caller"    // the original caller, when the owner asks
	PresentAnonymous CallerIDPolicy = "anonymous" // no number at all
)

// RejectMode is what a rejected caller hears. None of them hints that the
// caller is blocked.
type RejectMode string

const (
	RejectBusy         RejectMode = "busy"
	RejectCongestion   RejectMode = "congestion"
	RejectNotInService RejectMode = "not-in-service"
)

// DefaultRingTimeout is how long a target rings when the route does not say.
const DefaultRingTimeout = 25 * time.Second

// Target is one destination of a forwarded call: an E.164 number, dialled
// through the PBX's outbound trunk, or a SIP URI.
type Target struct {
	E164   string `json:"e164,omitempty"`
	SIPURI string `json:"sip,omitempty"`
	// Country is the ISO 3166 region of an E.164 target, filled by
	// Number.Validate so the decision needs no number parsing.
	Country string `json:"cc,omitempty"`
}

// String returns the target as a user writes it.
func (t Target) String() string {
	if t.SIPURI != "" {
		return t.SIPURI
	}
	return t.E164
}

// IsSIP reports whether the target is a SIP URI.
func (t Target) IsSIP() bool { return t.SIPURI != "" }

// ErrBadTarget is returned (wrapped) for a forwarding target that is
// neither an E.164 number nor a SIP URI.
var ErrBadTarget = errors.New("not an E.164 number or sip: URI")

// ParseTarget reads a forwarding target: a phone number (normalised to
// E.164 with defaultRegion for national formats) or a sip:/sips: URI. SIP
// URIs are restricted to characters that are safe in every PBX dial string.
func ParseTarget(s, defaultRegion string) (Target, error) {
	t := strings.TrimSpace(s)
	lower := strings.ToLower(t)
	if strings.HasPrefix(lower, "sip:") || strings.HasPrefix(lower, "sips:") {
		if len(t) > maxInput {
			return Target{}, fmt.Errorf("target %q: %w", clip(s), ErrBadTarget)
		}
		for _, r := range t {
			if !safeURIChar(r) {
				return Target{}, fmt.Errorf("target %q: character %q not allowed: %w", clip(s), r, ErrBadTarget)
			}
		}
		u, err := url.Parse(t)
		if err != nil || u.Opaque == "" || !strings.Contains(u.Opaque, "@") && !strings.Contains(u.Opaque, ".") {
			return Target{}, fmt.Errorf("target %q: %w", clip(s), ErrBadTarget)
		}
		return Target{SIPURI: t}, nil
	}
	e, err := ParseE164(t, defaultRegion)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %w", clip(s), ErrBadTarget)
	}
	return Target{E164: e}, nil
}

// safeURIChar allows the characters of a plain SIP URI and nothing a PBX
// dial string treats specially (no spaces, quotes, commas, braces, pipes,
// ampersands, carets or control characters).
func safeURIChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return true
	}
	return strings.ContainsRune(":@.-_+;=%~*#!$/?", r)
}

// Route is how a call to a number is handled when it is forwarded.
type Route struct {
	// Action is what the route does; Forward unless a schedule rule says
	// voicemail or reject.
	Action      RouteAction    `json:"action,omitempty"`
	Targets     []Target       `json:"targets,omitempty"`
	Strategy    Strategy       `json:"strategy,omitempty"`
	RingTimeout time.Duration  `json:"ring_timeout,omitempty"`
	CallerID    CallerIDPolicy `json:"caller_id,omitempty"`
	Record      bool           `json:"record,omitempty"`
	// Voicemail: when every target fails (or no target may be rung), the
	// caller may leave a message.
	Voicemail bool `json:"voicemail,omitempty"`
	// Conference: callers join this conference room (its settings are
	// stored apart) instead of being forwarded.
	Conference string `json:"conference,omitempty"`
}

// RouteAction is what a route or schedule rule does with a call.
type RouteAction string

const (
	RouteForward   RouteAction = "forward"
	RouteVoicemail RouteAction = "voicemail"
	RouteReject    RouteAction = "reject"
)

// Limits are the toll-fraud limits on the forwarding leg.
type Limits struct {
	// AllowCountries lists the ISO 3166 regions E.164 targets may be in;
	// empty allows all. SIP URI targets are not subject to it.
	AllowCountries []string `json:"allow_countries,omitempty"`
	// MaxConcurrent caps the number's simultaneous forwarded calls; 0 is no cap.
	MaxConcurrent int `json:"max_concurrent,omitempty"`
	// DailyMinutes caps forwarded minutes per UTC day; 0 is no cap.
	DailyMinutes int `json:"daily_minutes,omitempty"`
}

// Number is a virtual number (a DID) and everything that decides its calls.
type Number struct {
	DID       string            `json:"did"`
	Owner     string            `json:"owner,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Created   time.Time         `json:"created"`
	ExpiresAt *time.Time        `json:"expires_at,omitempty"`
	State     State             `json:"state"`
	// TZ is the IANA time zone schedules are read in (default UTC).
	TZ        string         `json:"tz,omitempty"`
	Route     Route          `json:"route"`
	Schedules []ScheduleRule `json:"schedules,omitempty"`
	Limits    Limits         `json:"limits,omitempty"`
	// IVR: calls the number would forward run its IVR menu instead (the
	// menu is stored apart: redisstore SetIVR sets this, GetIVR reads it).
	IVR bool `json:"ivr,omitempty"`
	// AllowlistOnly sends callers not on the number's allowlist to voicemail.
	AllowlistOnly bool `json:"allowlist_only,omitempty"`
	// Reject is what rejected callers hear (default busy).
	Reject RejectMode `json:"reject,omitempty"`
	// Retention: this number's own retention periods; each applies only
	// where it is shorter than the deployment's (privacy wins).
	Retention Retention `json:"retention,omitzero"`
	// Consent: when a recorded call is announced to both parties first
	// ("" is never).
	Consent ConsentMode `json:"consent,omitempty"`
	// SMSTarget is where text messages to the number are relayed (unset:
	// the route's first E.164 target; see SMSTargetOf).
	SMSTarget Target `json:"sms_target,omitzero"`
}

// Validate checks a number as a whole and fills defaults. The error names
// the first bad value.
func (n *Number) Validate() error {
	if _, err := ParseE164(n.DID, ""); err != nil || !strings.HasPrefix(n.DID, "+") {
		return fmt.Errorf("did %q: %w", clip(n.DID), ErrBadNumber)
	}
	if n.State == "" {
		n.State = StateActive
	}
	switch n.State {
	case StateActive, StateSuspended, StateQuarantined:
	default:
		return fmt.Errorf("state %q: want active, suspended or quarantined", n.State)
	}
	if n.Reject == "" {
		n.Reject = RejectBusy
	}
	if err := n.Reject.Validate(); err != nil {
		return err
	}
	if n.TZ != "" {
		if _, err := time.LoadLocation(n.TZ); err != nil {
			return fmt.Errorf("time zone %q: unknown", clip(n.TZ))
		}
	}
	if err := n.Route.validate(); err != nil {
		return err
	}
	fillCountries(n.Route.Targets)
	for i := range n.Schedules {
		r := &n.Schedules[i]
		if err := r.Route.validate(); err != nil {
			return fmt.Errorf("schedule %q: %w", r.Spec, err)
		}
		fillCountries(r.Route.Targets)
	}
	for i, c := range n.Limits.AllowCountries {
		c = strings.ToUpper(c)
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			return fmt.Errorf("country %q: want an ISO 3166 two-letter code such as FR", clip(c))
		}
		n.Limits.AllowCountries[i] = c
	}
	if n.Limits.MaxConcurrent < 0 {
		return fmt.Errorf("max concurrent calls %d: must not be negative", n.Limits.MaxConcurrent)
	}
	if n.Limits.DailyMinutes < 0 {
		return fmt.Errorf("daily minutes %d: must not be negative", n.Limits.DailyMinutes)
	}
	if err := n.Retention.Validate(); err != nil {
		return err
	}
	if err := n.validateSMS(); err != nil {
		return err
	}
	return n.Consent.Validate()
}

func (r *Route) validate() error {
	if r.Action == "" {
		r.Action = RouteForward
	}
	switch r.Action {
	case RouteForward, RouteVoicemail, RouteReject:
	default:
		return fmt.Errorf("route action %q: want forward, voicemail or reject", r.Action)
	}
	if r.Strategy == "" {
		r.Strategy = Sequential
	}
	if err := r.Strategy.Validate(); err != nil {
		return err
	}
	if r.CallerID == "" {
		r.CallerID = PresentDID
	}
	if err := r.CallerID.Validate(); err != nil {
		return err
	}
	if r.RingTimeout < 0 || r.RingTimeout > 10*time.Minute {
		return fmt.Errorf("ring timeout %s: want between 1s and 10m", r.RingTimeout)
	}
	if r.RingTimeout == 0 {
		r.RingTimeout = DefaultRingTimeout
	}
	if r.Conference != "" {
		if err := ValidateRoomName(r.Conference); err != nil {
			return fmt.Errorf("conference room: %w", err)
		}
	}
	if r.Action == RouteForward && len(r.Targets) == 0 && !r.Voicemail && r.Conference == "" {
		return errors.New("route forwards to no target: give at least one target or enable voicemail")
	}
	return nil
}

// Validate checks a strategy value.
func (s Strategy) Validate() error {
	switch s {
	case Sequential, Simultaneous:
		return nil
	}
	return fmt.Errorf("strategy %q: want sequential or simultaneous", clip(string(s)))
}

// Validate checks a caller-ID policy value.
func (p CallerIDPolicy) Validate() error {
	switch p {
	case PresentDID, PresentCaller, PresentAnonymous:
		return nil
	}
	return fmt.Errorf("caller-id %q: want did, caller or anonymous", clip(string(p)))
}

// Validate checks a reject mode value.
func (m RejectMode) Validate() error {
	switch m {
	case RejectBusy, RejectCongestion, RejectNotInService:
		return nil
	}
	return fmt.Errorf("reject mode %q: want busy, congestion or not-in-service", clip(string(m)))
}

// Location returns the number's time zone (UTC when unset or unknown).
func (n *Number) Location() *time.Location {
	if n.TZ == "" {
		return time.UTC
	}
	if l, ok := locations.Load(n.TZ); ok {
		return l.(*time.Location)
	}
	loc, err := time.LoadLocation(n.TZ)
	if err != nil {
		return time.UTC
	}
	locations.Store(n.TZ, loc)
	return loc
}

// locations caches time zones: time.LoadLocation reads the zone database
// from disk on every call.
var locations sync.Map

func fillCountries(ts []Target) {
	for i := range ts {
		if ts[i].E164 != "" {
			ts[i].Country = CountryOf(ts[i].E164)
		}
	}
}
