package main

import (
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func callsListCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list live calls on every node",
		Action: func(c *cli.Context) error {
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			calls, err := s.ListCalls(ctx)
			if err != nil {
				return err
			}
			if e.json {
				if calls == nil {
					calls = []routing.LiveCall{}
				}
				return e.printJSON(calls)
			}
			rows := make([][]string, 0, len(calls))
			for _, x := range calls {
				rows = append(rows, []string{x.ID, x.DID, x.Caller, x.State, x.Node, x.PBX,
					x.Started.Format(time.RFC3339), time.Since(x.Started).Round(time.Second).String()})
			}
			return e.table("CALL\tDID\tCALLER\tSTATE\tNODE\tPBX\tSTARTED\tAGE", rows)
		},
	}
}
