// Package webhook delivers vnum's events to operators' HTTP endpoints as
// signed JSON: per number or global endpoints, an event-type filter, one
// bounded queue and one worker per endpoint (a slow or dead endpoint never
// blocks a call), retries with exponential backoff, and outcomes counted in
// Prometheus metrics and in a status record vnumctl shows.
//
// Every delivery carries
//
//	Vnum-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//	Vnum-Event:     <event type>
//	Vnum-Delivery:  <delivery id, the same on every retry>
//
// and receivers check it with Verify.
package webhook

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Event types.
const (
	CallStarted      = "call.started"
	CallAnswered     = "call.answered"
	CallEnded        = "call.ended"
	RecordingReady   = "recording.ready"
	VoicemailNew     = "voicemail.new"
	MessageReceived  = "message.received"
	ConferenceJoined = "conference.joined"
	ConferenceLeft   = "conference.left"
)

// Types lists every event type, in documentation order.
var Types = []string{CallStarted, CallAnswered, CallEnded, RecordingReady, VoicemailNew,
	MessageReceived, ConferenceJoined, ConferenceLeft}

// KnownType reports whether t is one of Types.
func KnownType(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Event is what an endpoint receives, as the JSON body of a POST. Caller
// numbers in Data are whatever the publisher put there (vnumd puts the
// form the privacy policy lets records keep); the dispatcher adds none.
type Event struct {
	// ID is unique per event (Publish fills it when empty).
	ID   string `json:"id"`
	Type string `json:"type"`
	// Created is when the event happened (Publish fills it when zero).
	Created time.Time      `json:"created"`
	DID     string         `json:"did,omitempty"`
	CallID  string         `json:"call_id,omitempty"`
	Data    map[string]any `json:"data,omitempty"`
}

// newID returns prefix followed by 16 random bytes in hex.
func newID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return prefix + hex.EncodeToString(b[:])
}
