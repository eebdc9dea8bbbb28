package ari

import (
	"context"
	"fmt"
	"strconv"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/vnum/vnum/routing/callflow"
)

// Conference rooms on Asterisk: a room is the mixing bridge Join creates
// (its id is the room's name). Muting is the channel's own (POST/DELETE
// /channels/{id}/mute?direction=in: the member still hears the room),
// music on hold too (POST/DELETE /channels/{id}/moh, for callers waiting
// for the moderator outside the bridge), and tones are bridge playbacks
// (POST /bridges/{room}/play), which every member hears and whose end
// the driver does not report.

// Mute implements callflow.PBX.
func (d *Driver) Mute(ctx context.Context, room string, leg callflow.LegID, on bool) error {
	if err := checkName(room); err != nil {
		return fmt.Errorf("ari: mute in room %q: %w", room, err)
	}
	if err := checkName(string(leg)); err != nil {
		return fmt.Errorf("ari: mute %q: %w", leg, err)
	}
	op := "unmute "
	if on {
		op = "mute "
	}
	return d.bounded(ctx, op+string(leg), func() error {
		if on {
			return d.client.Channel().Mute(chKey(string(leg)), ari.DirectionIn)
		}
		return d.client.Channel().Unmute(chKey(string(leg)), ari.DirectionIn)
	})
}

// MusicOnHold implements callflow.PBX with the default class. Stopping
// music that does not play is not an error.
func (d *Driver) MusicOnHold(ctx context.Context, leg callflow.LegID, on bool) error {
	if err := checkName(string(leg)); err != nil {
		return fmt.Errorf("ari: music on hold %q: %w", leg, err)
	}
	err := d.bounded(ctx, "music on hold "+string(leg), func() error {
		if on {
			return d.client.Channel().MOH(chKey(string(leg)), "")
		}
		return d.client.Channel().StopMOH(chKey(string(leg)))
	})
	if !on && notFound(err) {
		return nil
	}
	return err
}

// PlayRoom implements callflow.PBX: a playback on the room's bridge.
func (d *Driver) PlayRoom(ctx context.Context, room string, p callflow.Prompt) error {
	if err := checkName(room); err != nil {
		return fmt.Errorf("ari: play to room %q: %w", room, err)
	}
	media, err := d.media(p)
	if err != nil {
		return err
	}
	id := "vnum-pbr-" + strconv.FormatInt(d.pbSeq.Add(1), 36) + "-" + room
	return d.bounded(ctx, "play to room "+room, func() error {
		_, err := d.client.Bridge().Play(brKey(room), id, media)
		return err
	})
}
