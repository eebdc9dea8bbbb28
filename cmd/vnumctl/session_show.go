package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
)

func sessionShowCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one session",
		ArgsUsage: "ID",
		Action: func(c *cli.Context) error {
			id, err := sessionArg(c)
			if err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			x, err := s.GetSession(ctx, id)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(x)
			}
			w := e.out
			fmt.Fprintf(w, "session       %s\n", x.ID)
			fmt.Fprintf(w, "state         %s\n", sessionState(x, time.Now()))
			fmt.Fprintf(w, "pool          %s\n", x.Pool)
			fmt.Fprintf(w, "proxy number  %s\n", x.Proxy)
			fmt.Fprintf(w, "participants  %s\n", strings.Join(x.Participants, ", "))
			how := "direct call"
			if len(x.Participants) >= 3 {
				how = "conference room"
			}
			fmt.Fprintf(w, "calls         %s, the answering participant presses a key first: %s\n", how, yesNo(x.Confirm))
			fmt.Fprintf(w, "created       %s\n", x.Created.Format(time.RFC3339))
			_, err = fmt.Fprintf(w, "ends          %s\n", x.ExpiresAt.Format(time.RFC3339))
			return err
		},
	}
}
