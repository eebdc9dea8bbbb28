package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

func voicemailGreetingCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "greeting",
		Usage:     "set what callers hear before the beep: one of --sound, --file, --default",
		ArgsUsage: "DID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "sound", Usage: "one of the PBX's sounds (e.g. vm-intro)"},
			&cli.StringFlag{Name: "file", Usage: "a recording uploaded to the PBX (a relative path, e.g. alice/greeting)"},
			&cli.BoolFlag{Name: "default", Usage: `the default "please leave a message after the tone"`},
			jsonFlag(),
		},
		Action: func(c *cli.Context) error {
			e.wantJSON(c)
			did, err := e.didArg(c)
			if err != nil {
				return err
			}
			var g string
			n := 0
			for _, src := range []string{routing.GreetingSound, routing.GreetingFile} {
				if c.IsSet(src) {
					n++
					g = src + ":" + c.String(src)
				}
			}
			if c.Bool("default") {
				n++
			}
			if n != 1 {
				return usageError{fmt.Errorf("voicemail greeting: want exactly one of --sound NAME, --file NAME or --default")}
			}
			if g != "" {
				if _, _, err := routing.ParseGreeting(g); err != nil {
					return badValue("%v", err)
				}
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			m, err := s.UpdateMailbox(ctx, did, redisstore.MailboxChange{Greeting: &g})
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
