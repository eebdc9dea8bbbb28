package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/redisstore"
)

// errAuditFindings makes `audit ttl` exit 1 after printing its findings.
var errAuditFindings = errors.New("live-state keys without a TTL (see above)")

func auditCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "check the stored data against vnum's privacy rules",
		Subcommands: []*cli.Command{{
			Name:  "ttl",
			Usage: "list every live-state key without a TTL (exit status 1 if any); --families prints the key families",
			Flags: []cli.Flag{&cli.BoolFlag{Name: "families", Usage: "print the table of key families and their class, then audit"}},
			Action: func(c *cli.Context) error {
				if c.NArg() > 0 {
					return usageError{fmt.Errorf("audit ttl: unexpected argument %q", c.Args().First())}
				}
				s, ctx, err := e.open(c)
				if err != nil {
					return err
				}
				if c.Bool("families") && !e.json {
					rows := make([][]string, 0, len(redisstore.KeyFamilies))
					for _, f := range redisstore.KeyFamilies {
						rows = append(rows, []string{string(f.Class), f.Name, f.Pattern, f.Expiry})
					}
					if err := e.table("CLASS\tFAMILY\tKEYS\tBOUNDED BY", rows); err != nil {
						return err
					}
					fmt.Fprintln(e.out)
				}
				found, scanned, err := s.AuditTTL(ctx)
				if err != nil {
					return err
				}
				if e.json {
					if found == nil {
						found = []redisstore.TTLFinding{}
					}
					if err := e.printJSON(map[string]any{"scanned": scanned, "without_ttl": found}); err != nil {
						return err
					}
				} else {
					for _, f := range found {
						fam := f.Family
						if fam == "" {
							fam = "unclassified (add its family to redisstore.KeyFamilies)"
						}
						fmt.Fprintf(e.out, "no TTL: %s\t%s\n", f.Key, fam)
					}
					fmt.Fprintf(e.out, "%d keys scanned, %d live-state keys without a TTL\n", scanned, len(found))
				}
				if len(found) > 0 {
					return errAuditFindings
				}
				return nil
			},
		}},
	}
}
