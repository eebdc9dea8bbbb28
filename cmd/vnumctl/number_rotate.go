package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"
)

func numberRotateCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rotate",
		Usage:     "give a pool number's owner a fresh number from the same pool (same country, same area if possible) and release the old one",
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
			r, err := s.Rotate(ctx, did)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(r)
			}
			_, err = fmt.Fprintf(e.out, "%s\nnew number %s replaces %s (route, owner, limits, labels and lists copied)\n%s is in quarantine in pool %s until %s\n",
				r.New, r.New, r.Old, r.Old, r.Released.Pool, r.Released.FreeAt.Format(time.RFC3339))
			return err
		},
	}
}
