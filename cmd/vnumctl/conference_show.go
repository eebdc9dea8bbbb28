package main

import (
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func conferenceShowCmd(e *env) *cli.Command {
	return &cli.Command{Name: "show", Usage: "show a room's settings, its host node and live roster (PINs masked)", ArgsUsage: "ROOM",
		Action: func(c *cli.Context) error {
			name, _, err := roomArg(c, 0, "one ROOM name")
			if err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			r, err := s.GetRoom(ctx, name)
			if err != nil {
				return err
			}
			host, err := s.RoomHost(ctx, name)
			if err != nil {
				return err
			}
			members, err := s.Roster(ctx, name)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"room": masked(r), "host": host, "members": members})
			}
			set := func(v string) string {
				if v == "" {
					return "none"
				}
				return "set"
			}
			fmt.Fprintf(e.out, "room                %s\n", r.Name)
			fmt.Fprintf(e.out, "pin                 %s\n", set(r.PIN))
			fmt.Fprintf(e.out, "moderator pin       %s\n", set(r.ModeratorPIN))
			fmt.Fprintf(e.out, "max participants    %d\n", r.MaxParticipants)
			fmt.Fprintf(e.out, "wait for moderator  %v\n", r.WaitForModerator)
			fmt.Fprintf(e.out, "end with moderator  %v\n", r.EndWithModerator)
			fmt.Fprintf(e.out, "announce            %v\n", r.Announce)
			fmt.Fprintf(e.out, "record              %v\n", r.Record)
			fmt.Fprintf(e.out, "locked              %v\n", r.Locked)
			fmt.Fprintf(e.out, "host node           %s\n\n", orDash(host))
			return e.table("MEMBER\tROLE\tSTATE\tMUTED\tNODE\tCALL\tJOINED", memberRows(members))
		}}
}

func memberRows(ms []routing.RoomMember) [][]string {
	rows := make([][]string, 0, len(ms))
	for _, m := range ms {
		role, state, joined := "participant", "waiting", "-"
		if m.Moderator {
			role = "moderator"
		}
		if !m.Joined.IsZero() {
			state, joined = "in room", m.Joined.Format(time.RFC3339)
		}
		if m.Kicked {
			state = "kicked"
		}
		rows = append(rows, []string{m.ID, role, state, strconv.FormatBool(m.Muted), m.Node, m.CallID, joined})
	}
	return rows
}

func conferenceListCmd(e *env) *cli.Command {
	return &cli.Command{Name: "list", Usage: "list the rooms with their host node and how many callers are in each",
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError{fmt.Errorf("%s: takes no argument", c.Command.HelpName)}
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			rooms, err := s.ListRooms(ctx)
			if err != nil {
				return err
			}
			type row struct {
				Room    routing.Room `json:"room"`
				Host    string       `json:"host,omitempty"`
				Members int          `json:"members"`
			}
			out := make([]row, 0, len(rooms))
			for _, r := range rooms {
				host, err := s.RoomHost(ctx, r.Name)
				if err != nil {
					return err
				}
				ms, err := s.Roster(ctx, r.Name)
				if err != nil {
					return err
				}
				out = append(out, row{masked(r), host, len(ms)})
			}
			if e.json {
				return e.printJSON(out)
			}
			rows := make([][]string, 0, len(out))
			for _, r := range out {
				rows = append(rows, []string{r.Room.Name, strconv.Itoa(r.Members) + "/" + strconv.Itoa(r.Room.MaxParticipants),
					strconv.FormatBool(r.Room.Locked), orDash(r.Host)})
			}
			return e.table("ROOM\tCALLERS\tLOCKED\tHOST", rows)
		}}
}
