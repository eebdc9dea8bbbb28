package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// conferenceCmd is `vnumctl conference ...`: rooms' settings, their live
// rosters, and what an operator does to a live room.
func conferenceCmd(e *env) *cli.Command {
	return &cli.Command{Name: "conference", Usage: "conference rooms: settings, live roster, mute/kick/lock", Subcommands: []*cli.Command{
		conferenceCreateCmd(e), conferenceUpdateCmd(e), conferenceShowCmd(e), conferenceListCmd(e), conferenceRemoveCmd(e),
		conferenceMuteCmd(e, true), conferenceMuteCmd(e, false), conferenceKickCmd(e),
		conferenceLockCmd(e, true), conferenceLockCmd(e, false),
	}}
}

// roomFlags are the settings create and update take.
func roomFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "pin", Usage: "PIN participants enter (4-12 digits; \"\" for none)"},
		&cli.StringFlag{Name: "moderator-pin", Usage: "PIN that makes the caller the room's moderator (4-12 digits, not the participant PIN)"},
		&cli.IntFlag{Name: "max-participants", Usage: "most callers in the room at once, moderators and waiting callers included (2-100; default 100)"},
		&cli.BoolFlag{Name: "wait-for-moderator", Usage: "participants hear music on hold until a moderator is in"},
		&cli.BoolFlag{Name: "announce", Usage: "a tone when someone joins or leaves"},
		&cli.BoolFlag{Name: "record", Usage: "record the room"},
		&cli.BoolFlag{Name: "end-with-moderator", Usage: "hang everyone up when the last moderator leaves"},
		&cli.StringFlag{Name: "did", Usage: "a provisioned number whose callers join this room"},
	}
}

// applyRoomFlags sets the flags given on the command line.
func applyRoomFlags(c *cli.Context, r *routing.Room) {
	if c.IsSet("pin") {
		r.PIN = c.String("pin")
	}
	if c.IsSet("moderator-pin") {
		r.ModeratorPIN = c.String("moderator-pin")
	}
	if c.IsSet("max-participants") {
		r.MaxParticipants = c.Int("max-participants") // 0: the default
	}
	for name, p := range map[string]*bool{"wait-for-moderator": &r.WaitForModerator, "announce": &r.Announce,
		"record": &r.Record, "end-with-moderator": &r.EndWithModerator} {
		if c.IsSet(name) {
			*p = c.Bool(name)
		}
	}
}

// roomArg reads the ROOM argument (and, with more > 0, that many more).
func roomArg(c *cli.Context, more int, what string) (string, []string, error) {
	if c.NArg() != 1+more {
		return "", nil, usageError{fmt.Errorf("%s: want %s, got %d arguments", c.Command.HelpName, what, c.NArg())}
	}
	name := c.Args().First()
	if err := routing.ValidateRoomName(name); err != nil {
		return "", nil, badValue("room %v", err)
	}
	return name, c.Args().Slice()[1:], nil
}

// didFlag reads --did (empty when not given).
func (e *env) didFlag(c *cli.Context) (string, error) {
	v := c.String("did")
	if v == "" {
		return "", nil
	}
	d, err := routing.ParseE164(v, e.region)
	if err != nil {
		return "", badValue("--did: %v", err)
	}
	return d, nil
}

// attachNumber makes a number's callers join the room.
func attachNumber(ctx context.Context, s *redisstore.Store, did, room string) error {
	n, err := s.GetNumber(ctx, did)
	if err != nil {
		return fmt.Errorf("--did %s: %w", did, err)
	}
	n.Route.Conference = room
	return s.UpdateNumber(ctx, n)
}

func saveRoom(e *env, c *cli.Context, create bool) error {
	name, _, err := roomArg(c, 0, "one ROOM name")
	if err != nil {
		return err
	}
	did, err := e.didFlag(c)
	if err != nil {
		return err
	}
	r := routing.Room{Name: name}
	if create {
		applyRoomFlags(c, &r)
		if err := r.Validate(); err != nil {
			return badValue("%v", err)
		}
	}
	s, ctx, err := e.open(c)
	if err != nil {
		return err
	}
	if create {
		err = s.AddRoom(ctx, r)
	} else {
		if r, err = s.GetRoom(ctx, name); err != nil {
			return err
		}
		applyRoomFlags(c, &r)
		if err := r.Validate(); err != nil {
			return badValue("%v", err)
		}
		err = s.UpdateRoom(ctx, r)
	}
	if errors.Is(err, routing.ErrBadRoom) {
		return badValue("%v", err)
	}
	if err != nil {
		return err
	}
	if did != "" {
		if err := attachNumber(ctx, s, did, name); err != nil {
			return err
		}
	}
	if e.json {
		return e.printJSON(masked(r))
	}
	verb := "updated"
	if create {
		verb = "created"
	}
	fmt.Fprintf(e.out, "room %s %s\n", name, verb)
	if did != "" {
		fmt.Fprintf(e.out, "callers of %s join room %s\n", did, name)
	}
	return nil
}

func conferenceCreateCmd(e *env) *cli.Command {
	return &cli.Command{Name: "create", Usage: "create a conference room", ArgsUsage: "ROOM", Flags: roomFlags(),
		Action: func(c *cli.Context) error { return saveRoom(e, c, true) }}
}

func conferenceUpdateCmd(e *env) *cli.Command {
	return &cli.Command{Name: "update", Usage: "change a room's settings (only the flags given)", ArgsUsage: "ROOM", Flags: roomFlags(),
		Action: func(c *cli.Context) error { return saveRoom(e, c, false) }}
}

func conferenceRemoveCmd(e *env) *cli.Command {
	return &cli.Command{Name: "remove", Usage: "remove a room (callers in it stay until they leave; nobody new enters)", ArgsUsage: "ROOM",
		Action: func(c *cli.Context) error {
			name, _, err := roomArg(c, 0, "one ROOM name")
			if err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			if err := s.RemoveRoom(ctx, name); err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.out, "room %s removed\n", name)
			return err
		}}
}

// masked hides the PINs in output.
func masked(r routing.Room) routing.Room {
	if r.PIN != "" {
		r.PIN = "****"
	}
	if r.ModeratorPIN != "" {
		r.ModeratorPIN = "****"
	}
	return r
}
