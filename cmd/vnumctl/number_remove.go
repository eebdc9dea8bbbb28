package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func numberRemoveCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Usage:     "delete a number with its lists",
		ArgsUsage: "DID",
		Action: func(c *cli.Context) error {
			did, err := e.didArg(c)
			if err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			if err := s.RemoveNumber(ctx, did); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]string{"removed": did})
			}
			_, err = fmt.Fprintf(e.out, "removed %s\n", did)
			return err
		},
	}
}
