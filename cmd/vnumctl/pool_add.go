package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func poolAddCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "add free DIDs to a pool (created if needed); each is tagged with its country and area code",
		ArgsUsage: "NAME DID...",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "cool-off", Usage: "quarantine of a released or expired number before reuse (720h, 30d; default 30d for a new pool)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() < 2 {
				return usageError{fmt.Errorf("%s: want a pool NAME and at least one DID, got %d arguments", c.Command.HelpName, c.NArg())}
			}
			name, err := routing.ParsePoolName(c.Args().First())
			if err != nil {
				return badValue("%v", err)
			}
			var dids []string
			for _, a := range c.Args().Slice()[1:] {
				d, err := routing.ParseE164(a, e.region)
				if err != nil {
					return badValue("DID: %v", err)
				}
				dids = append(dids, d)
			}
			var coolOff time.Duration
			if v := c.String("cool-off"); v != "" {
				if coolOff, err = parseCoolOff(v); err != nil {
					return err
				}
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			added, already, err := s.AddToPool(ctx, name, dids, coolOff)
			if err != nil {
				return err
			}
			p, err := s.GetPool(ctx, name)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"pool": p.Pool, "added": added, "already": already})
			}
			_, err = fmt.Fprintf(e.out, "pool %s: %d added, %d already there (free %d, allocated %d, quarantined %d; cool-off %s)\n",
				name, added, already, p.Free, p.Allocated, p.Quarantined, days(p.CoolOff))
			return err
		},
	}
}

// parseCoolOff reads "720h" or "30d".
func parseCoolOff(v string) (time.Duration, error) {
	s, mult := v, time.Duration(1)
	if strings.HasSuffix(s, "d") {
		s, mult = strings.TrimSuffix(s, "d")+"h", 24
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, badValue("--cool-off %q: want a positive duration such as 720h or 30d", v)
	}
	return d * mult, nil
}

// days prints whole days as "30d", other durations as Go does.
func days(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return d.String()
}
