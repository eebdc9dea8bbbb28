package routing

import (
	"errors"
	"fmt"
	"time"
)

// Conference rooms: a room is reached by a number whose route names it
// (Route.Conference) or by an IVR option. Its settings live in the store;
// its live roster (who is in it now, on which node) too.

// Room limits.
const (
	MaxRoomName            = 64
	MinPIN, MaxPIN         = 4, 12
	MinRoomSize            = 2
	MaxRoomSize            = 100
	DefaultMaxParticipants = MaxRoomSize
)

var (
	// ErrBadRoom wraps every refused room setting; the message names the
	// field.
	ErrBadRoom = errors.New("invalid room setting")
	// ErrRoomFull: the room holds its maximum of participants.
	ErrRoomFull = errors.New("conference room is full")
	// ErrRoomLocked: the room is locked (only moderators may enter).
	ErrRoomLocked = errors.New("conference room is locked")
	// ErrNoSuchRoom: no room has that name (the store wraps it with its
	// own not-found error).
	ErrNoSuchRoom = errors.New("no such conference room")
)

// Room is a conference room's settings.
type Room struct {
	Name string `json:"name"`
	// PIN a participant enters ("" : none; with a moderator PIN set, a
	// caller who enters nothing joins as a participant).
	PIN string `json:"pin,omitempty"`
	// ModeratorPIN makes whoever enters it the room's moderator.
	ModeratorPIN string `json:"moderator_pin,omitempty"`
	// MaxParticipants caps the roster, moderators and callers waiting
	// for the moderator included (0: DefaultMaxParticipants).
	MaxParticipants int `json:"max_participants,omitempty"`
	// WaitForModerator: participants hear music on hold until a
	// moderator is in the room.
	WaitForModerator bool `json:"wait_for_moderator,omitempty"`
	// Announce plays a tone to the room when someone joins or leaves.
	Announce bool `json:"announce,omitempty"`
	// Record records the room.
	Record bool `json:"record,omitempty"`
	// EndWithModerator: when the last moderator leaves, everyone is hung
	// up.
	EndWithModerator bool `json:"end_with_moderator,omitempty"`
	// Locked rooms admit moderators only (set by vnumctl conference lock).
	Locked bool `json:"locked,omitempty"`
}

// Validate checks a room's settings and fills defaults. The error names
// the first bad field and wraps ErrBadRoom.
func (r *Room) Validate() error {
	if err := ValidateRoomName(r.Name); err != nil {
		return err
	}
	if err := checkPIN("pin", r.PIN); err != nil {
		return err
	}
	if err := checkPIN("moderator-pin", r.ModeratorPIN); err != nil {
		return err
	}
	if r.PIN != "" && r.PIN == r.ModeratorPIN {
		return fmt.Errorf("moderator-pin: must differ from pin: %w", ErrBadRoom)
	}
	if r.MaxParticipants == 0 {
		r.MaxParticipants = DefaultMaxParticipants
	}
	if r.MaxParticipants < MinRoomSize || r.MaxParticipants > MaxRoomSize {
		return fmt.Errorf("max-participants %d: want %d to %d: %w", r.MaxParticipants, MinRoomSize, MaxRoomSize, ErrBadRoom)
	}
	if r.WaitForModerator && r.ModeratorPIN == "" {
		return fmt.Errorf("wait-for-moderator: needs a moderator-pin (nobody could be the moderator): %w", ErrBadRoom)
	}
	if r.EndWithModerator && r.ModeratorPIN == "" {
		return fmt.Errorf("end-with-moderator: needs a moderator-pin (nobody could be the moderator): %w", ErrBadRoom)
	}
	return nil
}

// ValidateRoomName checks a room name: 1 to MaxRoomName of A-Z a-z 0-9 . _ -
// (it becomes part of PBX room names and Redis keys).
func ValidateRoomName(name string) error {
	if name == "" || len(name) > MaxRoomName {
		return fmt.Errorf("name %q: want 1 to %d characters: %w", clip(name), MaxRoomName, ErrBadRoom)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("name %q: character %q not allowed (want A-Z a-z 0-9 . _ -): %w", clip(name), c, ErrBadRoom)
		}
	}
	if name == "." || name == ".." {
		return fmt.Errorf("name %q: %w", name, ErrBadRoom)
	}
	return nil
}

func checkPIN(field, pin string) error {
	if pin == "" {
		return nil
	}
	if len(pin) < MinPIN || len(pin) > MaxPIN {
		return fmt.Errorf("%s: want %d to %d digits, got %d characters: %w", field, MinPIN, MaxPIN, len(pin), ErrBadRoom)
	}
	for i := 0; i < len(pin); i++ {
		if pin[i] < '0' || pin[i] > '9' {
			return fmt.Errorf("%s: want digits only: %w", field, ErrBadRoom)
		}
	}
	return nil
}

// HasPIN says whether callers are asked for a PIN.
func (r *Room) HasPIN() bool { return r.PIN != "" || r.ModeratorPIN != "" }

// RoomMember is one caller in a room's live roster.
type RoomMember struct {
	// ID is the member's id in its room ("1", "2"...): what vnumctl
	// conference show lists and mute/unmute/kick take.
	ID        string    `json:"id"`
	CallID    string    `json:"call"`
	Node      string    `json:"node"`
	Leg       string    `json:"leg"`
	Moderator bool      `json:"moderator,omitempty"`
	Muted     bool      `json:"muted,omitempty"`  // wanted (set by vnumctl), applied by the member's call
	Kicked    bool      `json:"kicked,omitempty"` // vnumctl asked for the member to be hung up
	Joined    time.Time `json:"joined,omitzero"`  // zero: waiting for the moderator
}
