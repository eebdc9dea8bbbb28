package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func numberAddCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "provision a virtual number",
		ArgsUsage: "DID",
		Flags:     numberFlags(),
		Action: func(c *cli.Context) error {
			did, err := e.didArg(c)
			if err != nil {
				return err
			}
			n := routing.Number{DID: did, State: routing.StateActive}
			if err := applyNumberFlags(c, &n, e.region, true); err != nil {
				return err
			}
			if err := n.Validate(); err != nil {
				return badValue("%v", err)
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			if err := s.AddNumber(ctx, n); err != nil {
				return err
			}
			n, err = s.GetNumber(ctx, did)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(n)
			}
			_, err = e.out.Write([]byte(describeNumber(n)))
			return err
		},
	}
}
