package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

func blockAddCmd(e *env) *cli.Command { return entryAddCmd(e, redisstore.Blocklist) }

// entryAddCmd adds a pattern to a blocklist or allowlist.
func entryAddCmd(e *env, l redisstore.List) *cli.Command {
	scope := "without --number the entry is global"
	if l == redisstore.Allowlist {
		scope = "--number is required"
	}
	return &cli.Command{
		Name:      "add",
		Usage:     fmt.Sprintf("add a caller pattern to the %slist (%s)", l, scope),
		ArgsUsage: "PATTERN (E.164 number, prefix ending in *, or anonymous)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "number", Usage: "the DID whose list it is"},
			&cli.DurationFlag{Name: "ttl", Usage: "entry expires after this long (e.g. 24h); 0 = never"},
			&cli.StringFlag{Name: "reason", Usage: "why (kept for operators, never told to the caller)"},
		},
		Action: func(c *cli.Context) error {
			p, did, err := e.patternArgs(c, l)
			if err != nil {
				return err
			}
			ent := routing.Entry{Pattern: p, Reason: c.String("reason"), Added: time.Now().UTC()}
			if err := routing.CheckReason(ent.Reason); err != nil {
				return badValue("--reason: %v", err)
			}
			if ttl := c.Duration("ttl"); ttl < 0 {
				return badValue("--ttl %s: must be positive", ttl)
			} else if ttl > 0 {
				x := ent.Added.Add(ttl)
				ent.ExpiresAt = &x
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			if err := s.AddEntry(ctx, l, did, ent); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"list": l, "number": orGlobal(did), "entry": ent})
			}
			_, err = fmt.Fprintf(e.out, "%sed %s on %s\n", l, p, orGlobal(did))
			return err
		},
	}
}

// patternArgs reads the PATTERN argument and --number.
func (e *env) patternArgs(c *cli.Context, l redisstore.List) (routing.Pattern, string, error) {
	if c.NArg() != 1 {
		return "", "", usageError{fmt.Errorf("%s: want exactly one PATTERN argument, got %d", c.Command.HelpName, c.NArg())}
	}
	p, err := routing.ParsePattern(c.Args().First(), e.region)
	if err != nil {
		return "", "", badValue("%v", err)
	}
	did := ""
	if v := c.String("number"); v != "" {
		if did, err = routing.ParseE164(v, e.region); err != nil {
			return "", "", badValue("--number: %v", err)
		}
	} else if l == redisstore.Allowlist {
		return "", "", badValue("allowlists belong to a number: give --number DID")
	}
	return p, did, nil
}

func orGlobal(did string) string {
	if did == "" {
		return "global"
	}
	return did
}
