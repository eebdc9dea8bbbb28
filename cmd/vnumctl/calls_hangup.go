package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func callsHangupCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "hangup",
		Usage:     "hang up a live call (the vnumd that owns it does it)",
		ArgsUsage: "CALL-ID",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError{fmt.Errorf("calls hangup: want exactly one CALL-ID argument, got %d", c.NArg())}
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			node, err := s.RequestHangup(ctx, c.Args().First())
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]string{"call": c.Args().First(), "node": node, "requested": "hangup"})
			}
			_, err = fmt.Fprintf(e.out, "hang-up of %s sent to node %s\n", c.Args().First(), node)
			return err
		},
	}
}
