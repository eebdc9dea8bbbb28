package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/redisstore"
)

// The operator's actions on a live room are written to the room's roster
// in Redis; the call of the member (on the node hosting the room) applies
// them within a fraction of a second (callflow.RoomPoll).

func conferenceMuteCmd(e *env, on bool) *cli.Command {
	name, usage := "mute", "mute a member of a live room (it still hears the room)"
	if !on {
		name, usage = "unmute", "unmute a member of a live room"
	}
	return memberCmd(e, name, usage, func(s *redisstore.Store, ctx context.Context, room, member string) error {
		return s.MuteMember(ctx, room, member, on)
	})
}

func conferenceKickCmd(e *env) *cli.Command {
	return memberCmd(e, "kick", "hang up a member of a live room", func(s *redisstore.Store, ctx context.Context, room, member string) error {
		return s.KickMember(ctx, room, member)
	})
}

// memberCmd is an operator's action on one member of a live room.
func memberCmd(e *env, name, usage string, act func(s *redisstore.Store, ctx context.Context, room, member string) error) *cli.Command {
	return &cli.Command{Name: name, Usage: usage, ArgsUsage: "ROOM PARTICIPANT (the MEMBER id conference show lists)",
		Action: func(c *cli.Context) error {
			room, rest, err := roomArg(c, 1, "ROOM and PARTICIPANT")
			if err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			if err := act(s, ctx, room, rest[0]); err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.out, "room %s member %s: %s requested\n", room, rest[0], name)
			return err
		}}
}

func conferenceLockCmd(e *env, on bool) *cli.Command {
	name, usage := "lock", "lock a room: nobody but moderators may enter"
	if !on {
		name, usage = "unlock", "unlock a room"
	}
	return &cli.Command{Name: name, Usage: usage, ArgsUsage: "ROOM",
		Action: func(c *cli.Context) error {
			room, _, err := roomArg(c, 0, "one ROOM name")
			if err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			if err := s.LockRoom(ctx, room, on); err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.out, "room %s %sed\n", room, name)
			return err
		}}
}
