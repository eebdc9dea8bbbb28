package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func sessionCreateCmd(e *env) *cli.Command {
	return &cli.Command{
		Name: "create",
		Usage: "open a masked session: the participants call one proxy number from the pool and reach each other " +
			"(two: a direct call; three or more: a conference room), each seeing only the proxy number",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "pool", Required: true, Usage: "the pool the proxy number comes from"},
			&cli.StringSliceFlag{Name: "participant", Usage: "a participant's phone number (repeat: at least 2)"},
			&cli.StringFlag{Name: "ttl", Value: "24h", Usage: "the session closes after this long (90m, 24h, 7d)"},
			&cli.StringFlag{Name: "match", Usage: "proxy number in the first participant's country or area (country, area)"},
			&cli.BoolFlag{Name: "confirm", Usage: "the answering participant presses a key before being connected"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError{fmt.Errorf("%s: takes no argument, got %q", c.Command.HelpName, c.Args().First())}
			}
			spec, err := e.sessionSpec(c)
			if err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			sess, err := s.CreateSession(ctx, spec)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(sess)
			}
			_, err = fmt.Fprintf(e.out, "session %s open on proxy number %s until %s\nparticipants %s\n",
				sess.ID, sess.Proxy, sess.ExpiresAt.Format(time.RFC3339), strings.Join(sess.Participants, ", "))
			return err
		},
	}
}

// sessionSpec reads and checks create's flags; nothing is opened yet.
func (e *env) sessionSpec(c *cli.Context) (routing.SessionSpec, error) {
	pool, err := routing.ParsePoolName(c.String("pool"))
	if err != nil {
		return routing.SessionSpec{}, badValue("--pool: %v", err)
	}
	spec := routing.SessionSpec{Pool: pool, Match: routing.SessionMatch(c.String("match")), Confirm: c.Bool("confirm")}
	for _, p := range c.StringSlice("participant") {
		n, err := routing.ParseE164(p, e.region)
		if err != nil {
			return spec, badValue("--participant %q: not a phone number in E.164 form such as +33612345678", p)
		}
		if slices.Contains(spec.Participants, n) {
			return spec, badValue("--participant %s: given twice", n)
		}
		spec.Participants = append(spec.Participants, n)
	}
	if len(spec.Participants) < 2 {
		return spec, badValue("--participant: %d given, a session needs at least 2", len(spec.Participants))
	}
	if spec.TTL, err = parseTTL(c.String("ttl")); err != nil {
		return spec, err
	}
	if err := spec.Validate(); err != nil {
		return spec, badValue("%v", err)
	}
	return spec, nil
}

// parseTTL reads "90m", "24h" or "7d".
func parseTTL(v string) (time.Duration, error) {
	s, mult := v, time.Duration(1)
	if strings.HasSuffix(s, "d") {
		s, mult = strings.TrimSuffix(s, "d")+"h", 24
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, badValue("--ttl %q: want a positive duration such as 90m, 24h or 7d", v)
	}
	return d * mult, nil
}
