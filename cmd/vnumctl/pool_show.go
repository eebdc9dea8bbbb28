package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func poolShowCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show a pool: its counts and every member with its state",
		ArgsUsage: "NAME",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError{fmt.Errorf("%s: want exactly one pool NAME, got %d", c.Command.HelpName, c.NArg())}
			}
			name, err := routing.ParsePoolName(c.Args().First())
			if err != nil {
				return badValue("%v", err)
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			p, err := s.GetPool(ctx, name)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(p)
			}
			fmt.Fprintf(e.out, "pool         %s\n", p.Name)
			fmt.Fprintf(e.out, "created      %s\n", p.Created.Format(time.RFC3339))
			fmt.Fprintf(e.out, "cool-off     %s\n", days(p.CoolOff))
			fmt.Fprintf(e.out, "free         %d\n", p.Free)
			fmt.Fprintf(e.out, "allocated    %d\n", p.Allocated)
			fmt.Fprintf(e.out, "quarantined  %d\n\n", p.Quarantined)
			rows := make([][]string, 0, len(p.Members))
			for _, m := range p.Members {
				until := "-"
				if !m.FreeAt.IsZero() {
					until = m.FreeAt.Format(time.RFC3339)
				}
				rows = append(rows, []string{m.DID, orDash(m.Country), orDash(m.Area), m.State, until})
			}
			return e.table("DID\tCOUNTRY\tAREA\tSTATE\tFREE-AGAIN", rows)
		},
	}
}
