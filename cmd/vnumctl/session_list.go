package main

import (
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func sessionListCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list open sessions (and ended ones the sweep has not closed yet), soonest end first",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "pool", Usage: "only this pool's sessions"},
		},
		Action: func(c *cli.Context) error {
			pool := c.String("pool")
			if pool != "" {
				if _, err := routing.ParsePoolName(pool); err != nil {
					return badValue("--pool: %v", err)
				}
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			list, err := s.ListSessions(ctx, pool)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(list)
			}
			now := time.Now()
			rows := make([][]string, 0, len(list))
			for _, x := range list {
				rows = append(rows, []string{x.ID, x.Pool, x.Proxy, strings.Join(x.Participants, ","),
					x.ExpiresAt.Format(time.RFC3339), sessionState(x, now), yesNo(x.Confirm)})
			}
			return e.table("SESSION\tPOOL\tPROXY\tPARTICIPANTS\tENDS\tSTATE\tCONFIRM", rows)
		},
	}
}

// sessionState is "open", or "ended" for a session past its end that the
// sweep has not closed yet (it routes no call already).
func sessionState(s routing.Session, now time.Time) string {
	if s.Open(now) {
		return "open"
	}
	return "ended"
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
