package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

func blockListCmd(e *env) *cli.Command { return entryListCmd(e, redisstore.Blocklist) }

func entryListCmd(e *env, l redisstore.List) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: fmt.Sprintf("list the live entries of a %slist", l),
		Flags: []cli.Flag{&cli.StringFlag{Name: "number", Usage: "the DID whose list it is (none: global)"}},
		Action: func(c *cli.Context) error {
			did := ""
			if v := c.String("number"); v != "" {
				var err error
				if did, err = routing.ParseE164(v, e.region); err != nil {
					return badValue("--number: %v", err)
				}
			} else if l == redisstore.Allowlist {
				return badValue("allowlists belong to a number: give --number DID")
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			ents, err := s.ListEntries(ctx, l, did)
			if err != nil {
				return err
			}
			if e.json {
				if ents == nil {
					ents = []routing.Entry{}
				}
				return e.printJSON(ents)
			}
			rows := make([][]string, 0, len(ents))
			for _, x := range ents {
				exp := "never"
				if x.ExpiresAt != nil {
					exp = x.ExpiresAt.UTC().Format(time.RFC3339)
				}
				rows = append(rows, []string{string(x.Pattern), orDash(x.Reason), x.Added.UTC().Format(time.RFC3339), exp})
			}
			fmt.Fprintf(e.out, "%slist of %s\n", l, orGlobal(did))
			return e.table("PATTERN\tREASON\tADDED\tEXPIRES", rows)
		},
	}
}
