package routing

// Masked sessions: two or more participants reach each other through a
// proxy number taken from a pool, each seeing only the proxy number. One
// proxy number serves several sessions at once as long as their
// participants differ: a call is routed by (proxy number, caller).

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LabelProxy marks a Number that is a session proxy number (value "1"). A
// proxy number has no route of its own: its calls are decided by the
// caller's open session on it.
const LabelProxy = "proxy"

// DefaultSessionTTL is how long a session stays open when its spec does
// not say.
const DefaultSessionTTL = 24 * time.Hour

// MaxSessionTTL bounds a session's lifetime.
const MaxSessionTTL = 366 * 24 * time.Hour

// MaxParticipants bounds a session's size (a conference room beyond two).
const MaxParticipants = 16

const (
	// ReasonSession: a participant of an open masked session called its
	// proxy number.
	ReasonSession Reason = "session"
	// ReasonNotParticipant: a proxy number was called by someone who is
	// not a participant of any open session on it.
	ReasonNotParticipant Reason = "not-a-session-participant"
)

// SessionMatch says how a proxy number is chosen relative to the first
// participant.
type SessionMatch string

const (
	MatchAny     SessionMatch = ""        // any number of the pool
	MatchCountry SessionMatch = "country" // same country as the first participant
	MatchArea    SessionMatch = "area"    // same country and area code
)

var (
	// ErrBadSession is returned (wrapped) for a session spec that is not
	// valid; the message names the bad value.
	ErrBadSession = errors.New("bad session")
	// ErrBadSessionID is returned (wrapped) for text that is not a
	// session id.
	ErrBadSessionID = errors.New("not a session id (12 characters a-z, 2-7)")
)

// SessionSpec is what a new session asks for.
type SessionSpec struct {
	Pool string `json:"pool"`
	// Participants, in E.164; at least two, all different.
	Participants []string `json:"participants"`
	// TTL: the session closes after it (0: DefaultSessionTTL).
	TTL time.Duration `json:"ttl,omitempty"`
	// Match narrows the proxy number to the first participant's country
	// or area code.
	Match SessionMatch `json:"match,omitempty"`
	// Confirm: an answering participant must press a key before being
	// connected.
	Confirm bool `json:"confirm,omitempty"`
}

// Validate checks the spec and fills its defaults. The error names the
// first bad value.
func (sp *SessionSpec) Validate() error {
	if _, err := ParsePoolName(sp.Pool); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	if len(sp.Participants) < 2 {
		return fmt.Errorf("session: %d participant(s): want at least 2: %w", len(sp.Participants), ErrBadSession)
	}
	if len(sp.Participants) > MaxParticipants {
		return fmt.Errorf("session: %d participants: want at most %d: %w", len(sp.Participants), MaxParticipants, ErrBadSession)
	}
	for i, p := range sp.Participants {
		e, err := ParseE164(p, "")
		if err != nil || e != p {
			return fmt.Errorf("session: participant %q: want an E.164 number such as +33612345678: %w", clip(p), ErrBadSession)
		}
		if slices.Contains(sp.Participants[:i], p) {
			return fmt.Errorf("session: participant %s given twice: %w", p, ErrBadSession)
		}
	}
	switch {
	case sp.TTL == 0:
		sp.TTL = DefaultSessionTTL
	case sp.TTL < 0:
		return fmt.Errorf("session: ttl %s: must be positive: %w", sp.TTL, ErrBadSession)
	case sp.TTL > MaxSessionTTL:
		return fmt.Errorf("session: ttl %s: at most %s: %w", sp.TTL, MaxSessionTTL, ErrBadSession)
	}
	switch sp.Match {
	case MatchAny:
	case MatchCountry:
		if CountryOf(sp.Participants[0]) == "" {
			return fmt.Errorf("session: match country: participant %s belongs to no single country: %w", sp.Participants[0], ErrBadSession)
		}
	case MatchArea:
		if CountryOf(sp.Participants[0]) == "" || AreaCode(sp.Participants[0]) == "" {
			return fmt.Errorf("session: match area: participant %s has no geographic area code: %w", sp.Participants[0], ErrBadSession)
		}
	default:
		return fmt.Errorf("session: match %q: want country or area: %w", clip(string(sp.Match)), ErrBadSession)
	}
	return nil
}

// Session is an open (or expired, not yet swept) masked session.
type Session struct {
	ID           string    `json:"id"`
	Pool         string    `json:"pool"`
	Proxy        string    `json:"proxy"`
	Participants []string  `json:"participants"`
	Created      time.Time `json:"created"`
	ExpiresAt    time.Time `json:"expires_at"`
	Confirm      bool      `json:"confirm,omitempty"`
}

// Open reports whether the session still routes calls at t.
func (s Session) Open(t time.Time) bool { return t.Before(s.ExpiresAt) }

// SessionLeg is what a decision reads about the caller's session on the
// proxy number called: the store gathers it in the decision's round trip.
type SessionLeg struct {
	ID           string
	ExpiresAt    time.Time
	Confirm      bool
	Participants []string
}

// NewSessionID returns a random URL-safe session id: 12 characters of
// lower-case base32 (60 bits).
func NewSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))[:12]
}

// ParseSessionID checks a session id given by an operator (case is
// ignored).
func ParseSessionID(s string) (string, error) {
	id := strings.ToLower(strings.TrimSpace(s))
	if len(id) != 12 {
		return "", fmt.Errorf("session id %q: %w", clip(s), ErrBadSessionID)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z') && !(r >= '2' && r <= '7') {
			return "", fmt.Errorf("session id %q: %w", clip(s), ErrBadSessionID)
		}
	}
	return id, nil
}

// decideSession routes a call to a proxy number: a participant of an open
// session reaches the other participants, shown the proxy number; anyone
// else hears that the number is not in service.
func decideSession(c Call, n Number, leg *SessionLeg, note func(string, ...any)) Decision {
	notIn := func(detail string) Decision {
		return Decision{Action: ActionReject, Reason: ReasonNotParticipant, Reject: RejectNotInService, Detail: detail}
	}
	note("number %s: proxy number of pool %s (masked sessions)", n.DID, orNone(n.Labels[LabelPool]))
	if leg == nil || !slices.Contains(leg.Participants, c.Caller) {
		note("caller %s: participant of no open session on this proxy number", c.Caller)
		return notIn("the caller is not a participant of any open session on proxy number " + n.DID)
	}
	if !c.At.Before(leg.ExpiresAt) {
		at := leg.ExpiresAt.UTC().Format(time.RFC3339)
		note("caller %s: session %s closed at %s", c.Caller, leg.ID, at)
		return notIn("the caller's session " + leg.ID + " on proxy number " + n.DID + " closed at " + at +
			": the caller is not a participant of any open session on it")
	}
	targets := make([]Target, 0, len(leg.Participants)-1)
	for _, p := range leg.Participants {
		if p != c.Caller {
			// Country stays empty: no limit applies to a session's
			// targets, and parsing numbers here would slow every call.
			targets = append(targets, Target{E164: p})
		}
	}
	if len(targets) == 0 {
		note("session %s: no other participant", leg.ID)
		return notIn("session " + leg.ID + " has no other participant")
	}
	d := Decision{
		Action:      ActionForward,
		Reason:      ReasonSession,
		Targets:     targets,
		Strategy:    Simultaneous,
		RingTimeout: DefaultRingTimeout,
		CallerID:    CallerID{Number: n.DID, Name: n.DID},
		Session:     leg.ID,
		Confirm:     leg.Confirm,
		Conference:  len(leg.Participants) >= 3,
	}
	note("caller %s: participant of session %s (%d participants, open until %s)", c.Caller, leg.ID,
		len(leg.Participants), leg.ExpiresAt.UTC().Format(time.RFC3339))
	how := "connect to"
	if d.Conference {
		how = "conference room with"
	}
	d.Detail = "session " + leg.ID + ": " + how + " " + joinTargets(targets) + ", showing the proxy number " + n.DID
	if d.Confirm {
		d.Detail += ", the answering participant presses a key first"
	}
	note("caller ID: the proxy number %s", n.DID)
	return d
}

func joinTargets(ts []Target) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Encode writes the leg as a proxy number's session map stores it:
// "<expires ms>|<id>|<confirm 1/0>|<participants, comma-separated>".
func (l SessionLeg) Encode() string {
	c := "0"
	if l.Confirm {
		c = "1"
	}
	return strconv.FormatInt(l.ExpiresAt.UnixMilli(), 10) + "|" + l.ID + "|" + c + "|" + strings.Join(l.Participants, ",")
}

// ParseSessionLeg reads what Encode wrote.
func ParseSessionLeg(s string) (*SessionLeg, error) {
	parts := strings.SplitN(s, "|", 4)
	if len(parts) != 4 {
		return nil, fmt.Errorf("session entry %q: want 4 fields: %w", clip(s), ErrBadSession)
	}
	exp, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || exp <= 0 {
		return nil, fmt.Errorf("session entry %q: expiry: %w", clip(s), ErrBadSession)
	}
	id, err := ParseSessionID(parts[1])
	if err != nil || id != parts[1] {
		return nil, fmt.Errorf("session entry %q: %w", clip(s), ErrBadSessionID)
	}
	if parts[2] != "0" && parts[2] != "1" {
		return nil, fmt.Errorf("session entry %q: confirm flag: %w", clip(s), ErrBadSession)
	}
	ps := strings.Split(parts[3], ",")
	if len(ps) < 2 || len(ps) > MaxParticipants {
		return nil, fmt.Errorf("session entry %q: %d participants: %w", clip(s), len(ps), ErrBadSession)
	}
	for _, p := range ps {
		if p == "" || p[0] != '+' || len(p) > 16 || strings.Trim(p[1:], "0123456789") != "" {
			return nil, fmt.Errorf("session entry %q: participant %q: %w", clip(s), clip(p), ErrBadSession)
		}
	}
	return &SessionLeg{ID: id, ExpiresAt: time.UnixMilli(exp).UTC(), Confirm: parts[2] == "1", Participants: ps}, nil
}
