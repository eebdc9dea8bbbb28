package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

func voicemailSettingsCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "settings",
		Usage:     "show a number's mailbox settings, or change them with --max",
		ArgsUsage: "DID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "max", Usage: "longest message, 1s to 10m in whole seconds (e.g. 90s, 2m), or default (2m)"},
			jsonFlag(),
		},
		Action: func(c *cli.Context) error {
			e.wantJSON(c)
			did, err := e.didArg(c)
			if err != nil {
				return err
			}
			var ch redisstore.MailboxChange
			if c.IsSet("max") {
				d, err := parseMaxMessage(c.String("max"))
				if err != nil {
					return err
				}
				ch.MaxMessage = &d
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			var m routing.Mailbox
			if ch.MaxMessage != nil {
				m, err = s.UpdateMailbox(ctx, did, ch)
			} else {
				m, err = s.GetMailbox(ctx, did)
			}
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(mailboxView{did, m})
			}
			_, err = fmt.Fprint(e.out, describeMailbox(did, m))
			return err
		},
	}
}

// parseMaxMessage reads --max: a duration in range, or "default" (0).
func parseMaxMessage(v string) (time.Duration, error) {
	if v == "default" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err == nil {
		err = routing.ValidateMaxMessage(d)
	}
	if err != nil {
		return 0, badValue("--max %q: %v", v, routing.ErrBadMaxMessage)
	}
	return d, nil
}
