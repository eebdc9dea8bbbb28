package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// printJSON writes v as indented JSON.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes rows aligned in columns.
func (e *env) table(header string, rows [][]string) error {
	w := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	return w.Flush()
}

// didArg reads the one DID argument of a command.
func (e *env) didArg(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", usageError{fmt.Errorf("%s: want exactly one DID argument, got %d", c.Command.HelpName, c.NArg())}
	}
	d, err := routing.ParseE164(c.Args().First(), e.region)
	if err != nil {
		return "", badValue("DID: %v", err)
	}
	return d, nil
}

// didAction is the Action of a command that takes one DID argument: it
// checks the DID, opens the store, runs do, and prints do's result as JSON
// (with --json) or the text do returned.
func (e *env) didAction(do func(ctx context.Context, s *redisstore.Store, did string) (result any, text string, err error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		did, err := e.didArg(c)
		if err != nil {
			return err
		}
		s, ctx, err := e.open(c)
		if err != nil {
			return err
		}
		res, text, err := do(ctx, s, did)
		if err != nil {
			return err
		}
		if e.json {
			return e.printJSON(res)
		}
		_, err = io.WriteString(e.out, text)
		return err
	}
}

func describeNumber(n routing.Number) string {
	var b strings.Builder
	fmt.Fprintf(&b, "number     %s\n", n.DID)
	fmt.Fprintf(&b, "owner      %s\n", orDash(n.Owner))
	fmt.Fprintf(&b, "state      %s\n", n.State)
	fmt.Fprintf(&b, "created    %s\n", n.Created.UTC().Format(time.RFC3339))
	if n.ExpiresAt != nil {
		fmt.Fprintf(&b, "expires    %s\n", n.ExpiresAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "forward    %s\n", orDash(targets(n.Route.Targets)))
	fmt.Fprintf(&b, "strategy   %s, ring %s each\n", n.Route.Strategy, n.Route.RingTimeout)
	fmt.Fprintf(&b, "caller id  %s\n", n.Route.CallerID)
	switch t, ok := routing.SMSTargetOf(n); {
	case !ok:
		fmt.Fprintf(&b, "sms to     - (no E.164 target: messages are dropped)\n")
	case n.SMSTarget == (routing.Target{}):
		fmt.Fprintf(&b, "sms to     %s (the first E.164 target)\n", t)
	default:
		fmt.Fprintf(&b, "sms to     %s\n", t)
	}
	fmt.Fprintf(&b, "record     %v\n", n.Route.Record)
	fmt.Fprintf(&b, "voicemail  %v\n", n.Route.Voicemail)
	fmt.Fprintf(&b, "rejected   hear %s\n", n.Reject)
	if n.AllowlistOnly {
		fmt.Fprintf(&b, "allowlist  only listed callers are forwarded\n")
	}
	if n.TZ != "" {
		fmt.Fprintf(&b, "time zone  %s\n", n.TZ)
	}
	for _, s := range n.Schedules {
		fmt.Fprintf(&b, "schedule   %s\n", s.Spec)
	}
	if l := n.Limits; len(l.AllowCountries) > 0 || l.MaxConcurrent > 0 || l.DailyMinutes > 0 {
		fmt.Fprintf(&b, "limits     countries %s, max concurrent %d, daily minutes %d\n",
			orDash(strings.Join(l.AllowCountries, ",")), l.MaxConcurrent, l.DailyMinutes)
	}
	for k, v := range n.Labels {
		fmt.Fprintf(&b, "label      %s=%s\n", k, v)
	}
	return b.String()
}

func targets(ts []routing.Target) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
