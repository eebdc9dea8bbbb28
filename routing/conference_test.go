package routing_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
)

func TestRoomValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		room  routing.Room
		field string // "" : valid
	}{
		{"minimal", routing.Room{Name: "standup"}, ""},
		{"all set", routing.Room{Name: "team.sync_2-b", PIN: "1234", ModeratorPIN: "987654321012", MaxParticipants: 2,
			WaitForModerator: true, Announce: true, Record: true, EndWithModerator: true}, ""},
		{"empty name", routing.Room{}, "name"},
		{"long name", routing.Room{Name: strings.Repeat("a", 65)}, "name"},
		{"space in name", routing.Room{Name: "a b"}, "name"},
		{"brace in name", routing.Room{Name: "a}b"}, "name"},
		{"newline in name", routing.Room{Name: "a\nb"}, "name"},
		{"dots only", routing.Room{Name: ".."}, "name"},
		{"short pin", routing.Room{Name: "r", PIN: "123"}, "pin"},
		{"long pin", routing.Room{Name: "r", PIN: "1234567890123"}, "pin"},
		{"letters in pin", routing.Room{Name: "r", PIN: "12a4"}, "pin"},
		{"hash in moderator pin", routing.Room{Name: "r", ModeratorPIN: "1234#"}, "moderator-pin"},
		{"same pins", routing.Room{Name: "r", PIN: "1234", ModeratorPIN: "1234"}, "moderator-pin"},
		{"room of one", routing.Room{Name: "r", MaxParticipants: 1}, "max-participants"},
		{"room of 101", routing.Room{Name: "r", MaxParticipants: 101}, "max-participants"},
		{"negative size", routing.Room{Name: "r", MaxParticipants: -3}, "max-participants"},
		{"wait without moderator", routing.Room{Name: "r", PIN: "1234", WaitForModerator: true}, "wait-for-moderator"},
		{"end without moderator", routing.Room{Name: "r", EndWithModerator: true}, "end-with-moderator"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.room
			err := r.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				if r.MaxParticipants < routing.MinRoomSize {
					t.Fatalf("max participants not defaulted: %d", r.MaxParticipants)
				}
				return
			}
			if err == nil || !errors.Is(err, routing.ErrBadRoom) || !strings.HasPrefix(err.Error(), tc.field) {
				t.Fatalf("error %v: want one naming %q first, wrapping ErrBadRoom", err, tc.field)
			}
			if tc.room.PIN != "" && strings.Contains(err.Error(), tc.room.PIN) && tc.field == "pin" && len(tc.room.PIN) >= 4 {
				t.Fatalf("the error repeats the PIN: %v", err)
			}
		})
	}
}

func TestRoomDefaults(t *testing.T) {
	r := routing.Room{Name: "r"}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.MaxParticipants != routing.DefaultMaxParticipants || r.HasPIN() {
		t.Fatalf("%+v", r)
	}
	r.ModeratorPIN = "4321"
	if !r.HasPIN() {
		t.Fatal("a moderator PIN alone must make callers asked for a PIN")
	}
}

func TestDecideConference(t *testing.T) {
	n := baseNumber()
	n.Route.Targets = nil
	n.Route.Conference = "standup"
	if err := n.Validate(); err != nil {
		t.Fatalf("a number leading to a room needs no target: %v", err)
	}
	n.Limits.DailyMinutes = 1
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	d := routing.Decide(routing.Call{DID: did, Caller: caller, At: at}, routing.Snapshot{Found: true, Number: n, MinutesUsed: 5})
	if d.Action != routing.ActionConference || d.Room != "standup" || d.Reason != routing.ReasonConference || d.SlotHeld {
		t.Fatalf("decision %+v", d)
	}
	// Blocklists still apply before the room.
	d = routing.Decide(routing.Call{DID: did, Caller: caller, At: at},
		routing.Snapshot{Found: true, Number: n, NumberBlock: &routing.Entry{Pattern: caller}})
	if d.Action != routing.ActionReject {
		t.Fatalf("a blocked caller reached the room: %+v", d)
	}
	bad := baseNumber()
	bad.Route.Conference = "no room"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "conference room") {
		t.Fatalf("bad room name accepted: %v", err)
	}
}

// FuzzRoomValidate: settings come from the CLI and the store (outside
// input); whatever is accepted is safe in PBX commands and Redis keys.
func FuzzRoomValidate(f *testing.F) {
	f.Add("standup", "1234", "5678", 10)
	f.Add("a b", "12", "", 0)
	f.Add("x}\n", "12345678901234", "abcd", 1000)
	f.Fuzz(func(t *testing.T, name, pin, mod string, max int) {
		r := routing.Room{Name: name, PIN: pin, ModeratorPIN: mod, MaxParticipants: max}
		if err := r.Validate(); err != nil {
			if !errors.Is(err, routing.ErrBadRoom) {
				t.Fatalf("error not wrapping ErrBadRoom: %v", err)
			}
			return
		}
		for _, c := range r.Name {
			if !strings.ContainsRune("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", c) {
				t.Fatalf("accepted name %q", r.Name)
			}
		}
		if r.MaxParticipants < routing.MinRoomSize || r.MaxParticipants > routing.MaxRoomSize {
			t.Fatalf("accepted size %d", r.MaxParticipants)
		}
		if r.PIN != "" && r.PIN == r.ModeratorPIN {
			t.Fatal("accepted equal PINs")
		}
	})
}
