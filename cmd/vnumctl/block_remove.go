package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/redisstore"
)

func blockRemoveCmd(e *env) *cli.Command { return entryRemoveCmd(e, redisstore.Blocklist) }

func entryRemoveCmd(e *env, l redisstore.List) *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Usage:     fmt.Sprintf("remove a pattern from the %slist", l),
		ArgsUsage: "PATTERN",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "number", Usage: "the DID whose list it is (none: global)"}},
		Action: func(c *cli.Context) error {
			p, did, err := e.patternArgs(c, l)
			if err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			if err := s.RemoveEntry(ctx, l, did, p); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"list": l, "number": orGlobal(did), "removed": p})
			}
			_, err = fmt.Fprintf(e.out, "removed %s from the %s %slist\n", p, orGlobal(did), l)
			return err
		},
	}
}
