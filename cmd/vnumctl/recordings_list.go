package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func recordingsListCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list a number's call recordings and voicemail messages, newest first",
		Flags: []cli.Flag{&cli.StringFlag{Name: "number", Required: true, Usage: "the DID"}},
		Action: func(c *cli.Context) error {
			did, err := routing.ParseE164(c.String("number"), e.region)
			if err != nil {
				return badValue("--number: %v", err)
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			recs, err := s.ListRecordings(ctx, did)
			if err != nil {
				return err
			}
			if e.json {
				if recs == nil {
					recs = []routing.Recording{}
				}
				return e.printJSON(recs)
			}
			rows := make([][]string, 0, len(recs))
			for _, r := range recs {
				rows = append(rows, []string{r.Started.Format(time.RFC3339), r.Kind, r.Name, fmt.Sprint(r.Duration.Round(time.Second)), r.Caller, r.CallID})
			}
			return e.table("STARTED\tKIND\tNAME\tDURATION\tCALLER\tCALL", rows)
		},
	}
}
