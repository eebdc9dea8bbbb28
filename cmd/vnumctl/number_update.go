package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func numberUpdateCmd(e *env) *cli.Command {
	flags := append(numberFlags(), &cli.StringFlag{Name: "state", Usage: "active or suspended"})
	flags = append(flags, retentionFlags()...)
	return &cli.Command{
		Name:      "update",
		Usage:     "change a number: only the flags given change",
		ArgsUsage: "DID",
		Flags:     flags,
		Action: func(c *cli.Context) error {
			did, err := e.didArg(c)
			if err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			n, err := s.GetNumber(ctx, did)
			if err != nil {
				return err
			}
			if err := applyNumberFlags(c, &n, e.region, false); err != nil {
				return err
			}
			if err := applyRetentionFlags(c, &n); err != nil {
				return err
			}
			if c.IsSet("state") {
				st := routing.State(c.String("state"))
				if st != routing.StateActive && st != routing.StateSuspended {
					return badValue("--state %q: want active or suspended", st)
				}
				n.State = st
			}
			if err := n.Validate(); err != nil {
				return badValue("%v", err)
			}
			if err := s.UpdateNumber(ctx, n); err != nil {
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
