package esl

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/routing/callflow"
)

// Conference rooms on FreeSWITCH (mod_conference, see rooms.go). Muting
// is per member: `conference <room> mute|unmute <member-id>`, the member
// id read from the leg's conference_member_id variable (mod_conference
// sets it on join). Music on hold, for callers waiting outside the room,
// is `uuid_broadcast <uuid> local_stream://moh aleg`, stopped with
// `uuid_break <uuid> all`. Tones are `conference <room> play <file>`.
// Room names and ids are checked ([A-Za-z0-9._-]) before they reach a
// command; nothing of the caller's does.

// MOHStream is what callers waiting for a conference's moderator hear.
const MOHStream = "local_stream://moh"

// Mute implements callflow.PBX.
func (d *Driver) Mute(ctx context.Context, room string, leg callflow.LegID, on bool) error {
	if !validID(room) {
		return fmt.Errorf("esl: mute in room %q: %w", clip(room), ErrBadName)
	}
	uuid, err := d.uuidOf(leg)
	if err != nil {
		return err
	}
	id, err := d.api(ctx, "uuid_getvar", uuid, "conference_member_id")
	if err != nil {
		return fmt.Errorf("esl: mute %s: member id: %w", leg, err)
	}
	id = strings.TrimSpace(id)
	if _, err := strconv.ParseUint(id, 10, 32); err != nil {
		return fmt.Errorf("esl: mute %s: not in a room (member id %q)", leg, clip(id))
	}
	op := "unmute"
	if on {
		op = "mute"
	}
	res, err := d.api(ctx, "conference", room, op, id)
	if err != nil {
		return fmt.Errorf("esl: %s %s in room %s: %w", op, leg, room, err)
	}
	if !strings.HasPrefix(strings.TrimSpace(res), "+OK") {
		return fmt.Errorf("esl: %s %s in room %s: %s", op, leg, room, clip(strings.TrimSpace(res)))
	}
	return nil
}

// MusicOnHold implements callflow.PBX. Stopping it on a leg that is gone
// is not an error.
func (d *Driver) MusicOnHold(ctx context.Context, leg callflow.LegID, on bool) error {
	uuid, err := d.uuidOf(leg)
	if err != nil {
		return err
	}
	if on {
		if _, err := d.bgapi(ctx, "uuid_broadcast", uuid, MOHStream, "aleg"); err != nil {
			return fmt.Errorf("esl: music on hold %s: %w", leg, err)
		}
		return nil
	}
	_, err = d.api(ctx, "uuid_break", uuid, "all")
	if err != nil && !errors.Is(err, eslconn.ErrCommandFailed) {
		return fmt.Errorf("esl: stop music on hold %s: %w", leg, err)
	}
	return nil
}

// PlayRoom implements callflow.PBX: `conference <room> play <file>`.
func (d *Driver) PlayRoom(ctx context.Context, room string, p callflow.Prompt) error {
	if !validID(room) {
		return fmt.Errorf("esl: play to room %q: %w", clip(room), ErrBadName)
	}
	file, err := d.media(p)
	if err != nil {
		return err
	}
	res, err := d.api(ctx, "conference", room, "play", file)
	if err != nil {
		return fmt.Errorf("esl: play %s to room %s: %w", p, room, err)
	}
	if roomGone(res) {
		return fmt.Errorf("esl: play %s to room %s: %s", p, room, clip(strings.TrimSpace(res)))
	}
	return nil
}
