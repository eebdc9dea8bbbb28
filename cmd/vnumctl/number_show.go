package main

import "github.com/urfave/cli/v2"

func numberShowCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one number",
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
			n, err := s.GetNumber(ctx, did)
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
