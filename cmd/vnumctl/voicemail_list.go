package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"
)

func voicemailListCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list a number's voicemail messages, newest first",
		ArgsUsage: "DID",
		Flags:     []cli.Flag{jsonFlag()},
		Action: func(c *cli.Context) error {
			e.wantJSON(c)
			did, err := e.didArg(c)
			if err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			msgs, err := s.ListVoicemails(ctx, did)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(msgs)
			}
			rows := make([][]string, 0, len(msgs))
			for _, m := range msgs {
				rows = append(rows, []string{m.Started.UTC().Format(time.RFC3339), m.Name, fmt.Sprint(m.Duration.Round(time.Second)), orDash(m.Caller)})
			}
			return e.table("RECEIVED\tNAME\tDURATION\tCALLER", rows)
		},
	}
}
