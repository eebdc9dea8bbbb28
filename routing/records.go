package routing

import "time"

// LiveCall is one call in progress, as the registry shows it. Caller is
// already stored as the privacy policy says.
type LiveCall struct {
	ID       string    `json:"id"`
	DID      string    `json:"did"`
	Node     string    `json:"node"`
	PBX      string    `json:"pbx"`
	Caller   string    `json:"caller"`
	State    string    `json:"state"` // ringing, bridged, voicemail, ...
	Started  time.Time `json:"started"`
	Answered time.Time `json:"answered,omitzero"`
	// Legs are the PBX's channel ids of the call (inbound first), so a
	// restarted node can adopt it.
	Legs   []string `json:"legs,omitempty"`
	Bridge string   `json:"bridge,omitempty"`
	Target string   `json:"target,omitempty"`
	Record string   `json:"recording,omitempty"`
	Slot   bool     `json:"slot,omitempty"`
}

// CDR is the one record written when a call ends. Caller is stored as the
// privacy policy says; the far end never sees a CDR.
type CDR struct {
	ID        string        `json:"id"` // stream entry id
	CallID    string        `json:"call_id"`
	DID       string        `json:"did"`
	Caller    string        `json:"caller"`
	Node      string        `json:"node"`
	PBX       string        `json:"pbx"`
	Action    string        `json:"action"`  // forward, reject, voicemail, unknown, unavailable
	Outcome   string        `json:"outcome"` // answered, busy, no-answer, failed, rejected, voicemail, abandoned
	Reason    string        `json:"reason"`
	Target    string        `json:"target,omitempty"`
	Started   time.Time     `json:"started"`
	Answered  time.Time     `json:"answered,omitzero"`
	Ended     time.Time     `json:"ended"`
	Billsec   time.Duration `json:"billsec"`
	Recording string        `json:"recording,omitempty"`
	HangupBy  string        `json:"hangup_by,omitempty"` // caller, callee, system
}

// Recording is the metadata of one recorded call or voicemail message.
type Recording struct {
	Name     string        `json:"name"` // the PBX's recording name
	CallID   string        `json:"call_id"`
	DID      string        `json:"did"`
	Kind     string        `json:"kind"` // call or voicemail
	Caller   string        `json:"caller"`
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	Node     string        `json:"node"`
	PBX      string        `json:"pbx"`
}
