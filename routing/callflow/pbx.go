// Package callflow executes routing decisions on a PBX, written once for
// every PBX: a driver (ari/ for Asterisk, esl/ for FreeSWITCH) implements
// the small call-control interface PBX and feeds the Engine the events of
// the calls' legs; the Engine runs one flow per call — ring, originate,
// bridge, record, announce, hang up — and keeps the live-call registry,
// the concurrency slots and the CDRs right, also across restarts.
package callflow

import (
	"context"
	"time"

	"github.com/vnum/vnum/routing"
)

// LegID names one channel on the PBX (an ARI channel id, a FreeSWITCH
// UUID).
type LegID string

// Cause is why a leg ended, normalised across PBXs.
type Cause int

const (
	CauseNormal      Cause = iota // normal clearing (either side hung up)
	CauseBusy                     // 486 / USER_BUSY / cause 17
	CauseNoAnswer                 // rang out / NO_ANSWER / cause 19
	CauseFailed                   // unreachable, rejected, no route
	CauseCongestion               // network or limit: carriers retry elsewhere
	CauseUnallocated              // not in service (number gone)
)

func (c Cause) String() string {
	switch c {
	case CauseNormal:
		return "normal"
	case CauseBusy:
		return "busy"
	case CauseNoAnswer:
		return "no-answer"
	case CauseFailed:
		return "failed"
	case CauseCongestion:
		return "congestion"
	case CauseUnallocated:
		return "unallocated"
	}
	return "unknown"
}

// Prompt is a logical announcement; each driver maps it to its PBX's files.
type Prompt string

const (
	PromptNotInService Prompt = "not-in-service"
	PromptVoicemail    Prompt = "voicemail-greeting" // "please leave a message after the tone"
	PromptBeep         Prompt = "beep"
	// PromptConfirm asks an answering party to press a key to take the
	// call (masked sessions with confirm: a carrier voicemail greeting
	// then never hears, nor reveals, who answered).
	PromptConfirm Prompt = "confirm"
	// PromptConsent tells a party that the call is recorded.
	PromptConsent Prompt = "recording-consent"
	// Conference rooms.
	PromptEnterPIN   Prompt = "enter-pin"   // "please enter the conference PIN"
	PromptBadPIN     Prompt = "bad-pin"     // "that PIN is not valid"
	PromptRoomFull   Prompt = "room-full"   // "the conference is full"
	PromptRoomLocked Prompt = "room-locked" // "the conference is locked"
	PromptJoinTone   Prompt = "join-tone"   // a short tone: someone joined
	PromptLeaveTone  Prompt = "leave-tone"  // a short tone: someone left
)

// Originate asks for an outbound leg to a target.
type Originate struct {
	// Leg is the id the new leg must have (ARI channelId, FreeSWITCH
	// origination_uuid): the engine routes its events before the request
	// even returns, since a busy target can end first.
	Leg      LegID
	CallID   string           // the vnum call (the inbound leg's id)
	Inbound  LegID            // the caller's leg, for the PBX's linked id
	Target   routing.Target   // what to dial: the driver applies its trunk template
	CallerID routing.CallerID // what the far end sees: nothing else of the caller may reach it
	Timeout  time.Duration    // ring timeout; the PBX reports CauseNoAnswer after it
}

// PBX is the call control a driver provides. Every method returns once the
// PBX accepted the request; outcomes arrive as Events through
// Engine.Dispatch. Methods must be safe for concurrent use.
type PBX interface {
	// Name is "asterisk" or "freeswitch".
	Name() string
	// Ring sends ringing (180) to an inbound leg without answering it.
	Ring(ctx context.Context, leg LegID) error
	// Answer answers an inbound leg.
	Answer(ctx context.Context, leg LegID) error
	// Originate starts an outbound leg with the id o.Leg; it later reports
	// EvAnswered or EvHangup for it.
	Originate(ctx context.Context, o Originate) error
	// Bridge connects legs; it returns the bridge's id ("" when the PBX
	// bridges without a bridge object).
	Bridge(ctx context.Context, callID string, a, b LegID) (string, error)
	// DestroyBridge removes a bridge or a room (idempotent).
	DestroyBridge(ctx context.Context, bridge string) error
	// Join puts a leg into a multi-party room named room, created on the
	// first join (Asterisk: a mixing bridge whose id is room; FreeSWITCH:
	// a mod_conference room). The leg stays until it hangs up or is hung
	// up; its EvHangup reports that. Live reports room members with
	// LegState.Bridge = room.
	Join(ctx context.Context, room string, leg LegID) error
	// Mute mutes (on) or unmutes a leg in a room: a muted member still
	// hears the room.
	Mute(ctx context.Context, room string, leg LegID, on bool) error
	// MusicOnHold starts (on) or stops music on hold on a leg that is in
	// no room (callers waiting for a conference's moderator).
	MusicOnHold(ctx context.Context, leg LegID, on bool) error
	// PlayRoom plays a prompt to every member of a room (join and leave
	// tones); EvPlaybackDone is not reported for it.
	PlayRoom(ctx context.Context, room string, p Prompt) error
	// SendMessage sends a text message (SIP MESSAGE) to a target, from
	// the number from (what the far end sees as the sender). The body is
	// the sender's text: the driver escapes it for its PBX.
	SendMessage(ctx context.Context, from string, to routing.Target, body string) error
	// DeleteRecording removes a recording (as RecordCall or RecordMessage
	// named it) from the PBX's storage; a recording already gone is not
	// an error.
	DeleteRecording(ctx context.Context, name string) error
	// RecordCall records a bridged call from now to its end, both parties,
	// by the cheapest method the PBX has; with leg "" it records the room
	// (bridge) itself, until the room ends whoever leaves. It returns the
	// recording's name.
	RecordCall(ctx context.Context, callID string, bridge string, leg LegID) (string, error)
	// RecordMessage records what a leg says (voicemail) until '#',
	// silence or max; EvRecordingDone reports the end.
	RecordMessage(ctx context.Context, callID string, leg LegID, max time.Duration) (string, error)
	// Play plays a prompt to a leg; EvPlaybackDone reports the end.
	Play(ctx context.Context, leg LegID, p Prompt) error
	// Hangup ends a leg with a cause (idempotent: a leg already gone is not
	// an error).
	Hangup(ctx context.Context, leg LegID, cause Cause) error
	// Live lists what the PBX holds for this controller now, for
	// reconciliation after a reconnect or a restart.
	Live(ctx context.Context) (Live, error)
}

// Live is the PBX's view of the controller's legs and bridges.
type Live struct {
	Legs    map[LegID]LegState
	Bridges map[string][]LegID // bridge id -> members
}

// LegState is one live leg.
type LegState struct {
	Answered bool
	Bridge   string
}

// EventKind says what happened to a leg.
type EventKind uint8

const (
	EvInbound       EventKind = iota + 1 // a new call reached the controller
	EvAnswered                           // an outbound leg answered
	EvHangup                             // a leg ended
	EvDTMF                               // a digit
	EvPlaybackDone                       // a prompt finished
	EvRecordingDone                      // a recording finished
	EvMessage                            // a text message reached a DID (Event.Message)
)

// Event is one thing that happened on the PBX.
type Event struct {
	Kind     EventKind
	Leg      LegID
	Cause    Cause
	Digit    string
	Duration time.Duration // recording length
	Inbound  *Inbound      // EvInbound only
	Message  *Message      // EvMessage only
}

// Message is a text message as the PBX presented it. From and Body are
// the sender's own text: never trusted, never passed on unescaped.
type Message struct {
	From string // the sender's number
	To   string // the DID it was sent to
	Body string
	At   time.Time
}

// Inbound describes a new call as the PBX presented it. Caller number and
// name are the caller's own text: never trusted, never forwarded unless
// the number's policy says so.
type Inbound struct {
	Leg          LegID
	DID          string
	CallerNumber string
	CallerName   string
	At           time.Time
}

// Sink receives a driver's events; *Engine is one. A driver calls
// Reconcile after every (re)connection of its event stream.
type Sink interface {
	Dispatch(Event)
	Reconcile(ctx context.Context) error
}

// Driver is a PBX with its event stream: what vnumd runs.
type Driver interface {
	PBX
	// Run reads the PBX's events into sink until ctx ends, reconnecting
	// as needed.
	Run(ctx context.Context, sink Sink) error
	// Connected reports whether the event stream is up (health).
	Connected() bool
}
