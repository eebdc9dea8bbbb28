package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/internal/webhook"
	"github.com/vnum/vnum/routing"
)

func webhooksAddCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "add",
		Usage: "add an endpoint (global, or for one number with --did)",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "url", Required: true, Usage: "http(s) URL receiving the events (no userinfo, no fragment)"},
			&cli.StringFlag{Name: "did", Aliases: []string{"number"}, Usage: "only this number's events (none: every number's)"},
			&cli.StringFlag{Name: "events", Value: "all", Usage: "comma-separated event types: " + strings.Join(webhook.Types, ", ")},
			&cli.StringFlag{Name: "secret-file", Usage: "file holding the signing secret, at least 16 bytes (or $" + secretEnv + ")"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError{fmt.Errorf("%s: takes no arguments, got %q", c.Command.HelpName, c.Args().First())}
			}
			ep := webhook.Endpoint{URL: c.String("url")}
			if err := webhook.ValidateURL(ep.URL); err != nil {
				return badValue("--%v", err)
			}
			if d := c.String("did"); d != "" {
				did, err := routing.ParseE164(d, e.region)
				if err != nil {
					return badValue("--did: %v", err)
				}
				ep.DID = did
			}
			evs, err := webhook.ParseEvents(c.String("events"))
			if err != nil {
				return badValue("--events: %v", err)
			}
			ep.Events = evs
			if ep.Secret, err = readSecret(c.String("secret-file")); err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			ep, err = s.AddWebhook(ctx, ep)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(ep)
			}
			_, err = fmt.Fprintf(e.out, "webhook %s added: %s, %s, events %s\n", ep.ID, ep.URL, hookScope(ep), hookEvents(ep))
			return err
		},
	}
}
