package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func numberListCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list numbers",
		Flags: []cli.Flag{&cli.StringFlag{Name: "owner", Usage: "only this owner's numbers"}},
		Action: func(c *cli.Context) error {
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			all, err := s.ListNumbers(ctx)
			if err != nil {
				return err
			}
			var out []routing.Number
			for _, n := range all {
				if o := c.String("owner"); o == "" || n.Owner == o {
					out = append(out, n)
				}
			}
			if e.json {
				if out == nil {
					out = []routing.Number{}
				}
				return e.printJSON(out)
			}
			rows := make([][]string, 0, len(out))
			for _, n := range out {
				exp := "-"
				if n.ExpiresAt != nil {
					exp = n.ExpiresAt.UTC().Format(time.RFC3339)
				}
				rows = append(rows, []string{n.DID, orDash(n.Owner), string(n.State), orDash(targets(n.Route.Targets)),
					string(n.Route.CallerID), exp, fmt.Sprint(len(n.Schedules))})
			}
			return e.table("DID\tOWNER\tSTATE\tFORWARD\tCALLER-ID\tEXPIRES\tSCHEDULES", rows)
		},
	}
}
