package routing

// SMS relay: a text message (SIP MESSAGE) to a DID reaches the number's
// messaging target with the sender masked (the target sees the DID), and
// the target's replies to the DID go back to the last sender, from the
// DID. A proxy number of masked sessions relays between the participants
// of the sender's open session. The decision is a pure function, like
// Decide, over the same Snapshot.

import (
	"fmt"
	"slices"
	"time"
)

// MaxMessageBody bounds the text relayed (bytes); a longer message is
// dropped. 4 KiB is well above what carriers deliver as one SIP MESSAGE
// (a 10-part concatenated SMS is about 1.5 KiB).
const MaxMessageBody = 4096

// MessageAction is what happens to a text message.
type MessageAction string

const (
	MessageRelay   MessageAction = "relayed" // sent on to To
	MessageBlocked MessageAction = "blocked" // a blocklist or allowlist-only: dropped silently
	MessageDropped MessageAction = "dropped" // nowhere to go (unknown number, no thread, not a participant...)
	MessageFailed  MessageAction = "failed"  // the store could not be reached
)

// Reasons of message decisions (calls' reasons are reused where they
// apply: unknown number, expired, not active, blocklists, allowlist,
// session, not a participant, store down).
const (
	ReasonMessageToOwner Reason = "message-to-owner" // relayed to the number's messaging target
	ReasonMessageReply   Reason = "message-reply"    // the owner's reply, relayed to the thread's sender
	ReasonNoThread       Reason = "no-thread"        // the owner wrote, but no thread is open
	ReasonNoSMSTarget    Reason = "no-sms-target"    // the number has nowhere to send messages
	ReasonTooLong        Reason = "message-too-long"
	ReasonAnonymousSMS   Reason = "anonymous-sender" // no sender number: nobody to mask or answer
)

// MessageIn is an inbound text message as the decision sees it.
type MessageIn struct {
	DID  string // E.164
	From string // normalised with NormalizeCaller
	Size int    // body length in bytes
	At   time.Time
	// Trace asks for the rules evaluated (operators' tools).
	Trace bool
}

// MessageDecision is the typed outcome of one inbound text message.
type MessageDecision struct {
	Action MessageAction `json:"action"`
	Reason Reason        `json:"reason"`
	Detail string        `json:"detail,omitempty"`
	// From is what the recipients see as the sender: the DID (or the
	// proxy number), never the real sender.
	From string `json:"from,omitempty"`
	// To are the recipients of a relayed message.
	To []Target `json:"to,omitempty"`
	// Thread, on a message relayed to the owner, is the thread to
	// remember (SMSThread of the owner's target) with Sender as the
	// party the owner's replies go to.
	Thread string `json:"thread,omitempty"`
	Sender string `json:"-"`
	// Reply: the owner's reply, relayed to the thread's sender; the
	// thread's TTL is refreshed.
	Reply bool     `json:"reply,omitempty"`
	Trace []string `json:"trace,omitempty"`
}

// SMSTargetOf is where a number's messages go: its SMSTarget when set,
// else the first E.164 target of its main route, else none (ok false).
func SMSTargetOf(n Number) (Target, bool) {
	if n.SMSTarget.E164 != "" || n.SMSTarget.SIPURI != "" {
		return n.SMSTarget, true
	}
	for _, t := range n.Route.Targets {
		if t.E164 != "" {
			return t, true
		}
	}
	return Target{}, false
}

// SMSThread names the thread of a number's owner target (the part after
// "vnum:{DID}:sms:" in the store).
func SMSThread(owner Target) string { return owner.String() }

// validateSMS checks a number's SMS target, when set.
func (n *Number) validateSMS() error {
	t := n.SMSTarget
	if t.E164 == "" && t.SIPURI == "" {
		return nil
	}
	p, err := ParseTarget(t.String(), "")
	if err != nil || (t.E164 != "" && t.SIPURI != "") {
		return fmt.Errorf("sms target %q: %w", clip(t.String()), ErrBadTarget)
	}
	if p.E164 != "" {
		p.Country = CountryOf(p.E164)
	}
	n.SMSTarget = p
	return nil
}

// DecideMessage routes one inbound text message over a snapshot of the
// store (the same one a call reads). replyTo is the sender of the thread
// of the number's owner target, when the message comes from that target
// ("" when none is open). It is a pure function.
func DecideMessage(m MessageIn, s Snapshot, replyTo string) MessageDecision {
	var tr []string
	note := func(f string, a ...any) {
		if m.Trace {
			tr = append(tr, fmt.Sprintf(f, a...))
		}
	}
	done := func(d MessageDecision) MessageDecision {
		d.Trace = tr
		return d
	}
	drop := func(r Reason, detail string) MessageDecision {
		note("%s", detail)
		return done(MessageDecision{Action: MessageDropped, Reason: r, Detail: detail})
	}
	if s.StoreFailure != nil {
		note("store: %v", s.StoreFailure)
		return done(MessageDecision{Action: MessageFailed, Reason: ReasonStoreDown, Detail: "routing store unreachable: message not relayed"})
	}
	if m.Size > MaxMessageBody {
		return drop(ReasonTooLong, fmt.Sprintf("message of %d bytes, over %d", m.Size, MaxMessageBody))
	}
	if !s.Found {
		return drop(ReasonUnknownNumber, m.DID+" is not a provisioned number")
	}
	n := s.Number
	if n.ExpiresAt != nil && !m.At.Before(*n.ExpiresAt) {
		return drop(ReasonExpired, "number expired at "+n.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if n.State != StateActive {
		return drop(ReasonNotActive, fmt.Sprintf("number is %s", n.State))
	}
	owner, hasOwner := SMSTargetOf(n)
	isProxy := n.Labels[LabelProxy] != ""
	// The owner's reply: not subject to the lists (they are about who
	// may reach the owner).
	if !isProxy && hasOwner && !owner.IsSIP() && m.From == owner.E164 {
		if replyTo == "" {
			return drop(ReasonNoThread, "the owner's target wrote to the number, but no thread is open")
		}
		note("sender is the owner's target: reply to the thread's sender")
		return done(MessageDecision{Action: MessageRelay, Reason: ReasonMessageReply, From: n.DID,
			To: []Target{{E164: replyTo}}, Thread: SMSThread(owner), Reply: true,
			Detail: "the owner's reply, sent from " + n.DID})
	}
	if e := s.NumberBlock; e != nil {
		note("sender matches number blocklist entry %s", e.Pattern)
		return done(MessageDecision{Action: MessageBlocked, Reason: ReasonBlockedNumber, Detail: blockDetail("number", e)})
	}
	if e := s.GlobalBlock; e != nil {
		note("sender matches global blocklist entry %s", e.Pattern)
		return done(MessageDecision{Action: MessageBlocked, Reason: ReasonBlockedGlobal, Detail: blockDetail("global", e)})
	}
	if m.From == Anonymous || m.From == "" {
		return drop(ReasonAnonymousSMS, "the message has no sender number")
	}
	if isProxy {
		leg := s.Session
		if leg == nil || !slices.Contains(leg.Participants, m.From) || !m.At.Before(leg.ExpiresAt) {
			return drop(ReasonNotParticipant, "the sender is not a participant of any open session on proxy number "+n.DID)
		}
		to := make([]Target, 0, len(leg.Participants)-1)
		for _, p := range leg.Participants {
			if p != m.From {
				to = append(to, Target{E164: p})
			}
		}
		if len(to) == 0 {
			return drop(ReasonNotParticipant, "session "+leg.ID+" has no other participant")
		}
		note("sender is a participant of session %s: relay to %d participant(s)", leg.ID, len(to))
		return done(MessageDecision{Action: MessageRelay, Reason: ReasonSession, From: n.DID, To: to,
			Detail: "session " + leg.ID + ": to " + joinTargets(to) + ", from the proxy number " + n.DID})
	}
	if n.AllowlistOnly && !s.Allowlisted {
		note("allowlist-only: sender not on the allowlist")
		return done(MessageDecision{Action: MessageBlocked, Reason: ReasonNotAllowlisted,
			Detail: "allowlist-only number: sender not on the allowlist"})
	}
	if !hasOwner {
		return drop(ReasonNoSMSTarget, "the number has no SMS target and no E.164 target")
	}
	note("relay to the owner's target %s from %s", owner, n.DID)
	return done(MessageDecision{Action: MessageRelay, Reason: ReasonMessageToOwner, From: n.DID,
		To: []Target{owner}, Thread: SMSThread(owner), Sender: m.From,
		Detail: "to the owner's target " + owner.String() + ", from " + n.DID})
}
