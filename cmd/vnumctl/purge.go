package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func purgeCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "purge",
		Usage: "delete CDRs and recording and voicemail metadata of calls before a date (files are queued: vnumd deletes them from the PBX)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "before", Usage: "RFC 3339 time or YYYY-MM-DD (UTC midnight): records of calls before it go"},
			&cli.StringFlag{Name: "did", Usage: "only this number's records"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("purge: unexpected argument %q", c.Args().First())}
			}
			before, err := parseBefore(c.String("before"))
			if err != nil {
				return err
			}
			did := ""
			if v := c.String("did"); v != "" {
				if did, err = routing.ParseE164(v, e.region); err != nil {
					return badValue("--did: %v", err)
				}
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			ex, err := s.PurgeBefore(ctx, before, did)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"before": before, "did": did, "purged": ex})
			}
			scope := "all numbers"
			if did != "" {
				scope = did
			}
			_, err = fmt.Fprintf(e.out, "purged before %s (%s): %s, %s, %s; %s queued for deletion from the PBX (vnumd deletes them)\n",
				before.Format(time.RFC3339), scope, count(ex.CDRs, "CDR", "CDRs"),
				count(ex.Recordings, "recording", "recordings"), count(ex.Voicemails, "voicemail message", "voicemail messages"),
				count(ex.FilesQueued, "file", "files"))
			return err
		},
	}
}

// parseBefore reads --before: an RFC 3339 time or a date (UTC midnight).
func parseBefore(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, badValue("--before: required (RFC 3339 time or YYYY-MM-DD)")
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, badValue("--before %q: want an RFC 3339 time (2026-01-31T00:00:00Z) or a date (2026-01-31)", clipArg(v))
}

// clipArg shortens a bad value for an error line.
func clipArg(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
