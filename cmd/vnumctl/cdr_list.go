package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func cdrListCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list call detail records, newest first",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "number", Usage: "only this DID's"},
			&cli.IntFlag{Name: "limit", Value: 50, Usage: "at most this many"},
		},
		Action: func(c *cli.Context) error {
			did := ""
			if v := c.String("number"); v != "" {
				var err error
				if did, err = routing.ParseE164(v, e.region); err != nil {
					return badValue("--number: %v", err)
				}
			}
			if c.Int("limit") <= 0 {
				return badValue("--limit %d: must be positive", c.Int("limit"))
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			cdrs, err := s.ListCDRs(ctx, did, c.Int("limit"))
			if err != nil {
				return err
			}
			if e.json {
				if cdrs == nil {
					cdrs = []routing.CDR{}
				}
				return e.printJSON(cdrs)
			}
			rows := make([][]string, 0, len(cdrs))
			for _, x := range cdrs {
				rows = append(rows, []string{x.Started.Format(time.RFC3339), x.DID, x.Caller, x.Action, x.Outcome,
					x.Reason, fmt.Sprint(x.Billsec), orDash(x.Recording), x.CallID})
			}
			return e.table("STARTED\tDID\tCALLER\tACTION\tOUTCOME\tREASON\tBILLSEC\tRECORDING\tCALL", rows)
		},
	}
}
