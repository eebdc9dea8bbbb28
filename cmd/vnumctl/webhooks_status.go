package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/internal/webhook"
)

func webhooksStatusCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "delivery counters per endpoint, as vnumd writes them",
		Action: func(c *cli.Context) error {
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			eps, err := s.Webhooks(ctx)
			if err != nil {
				return err
			}
			type row struct {
				webhook.Status
				URL string `json:"url"`
				DID string `json:"did,omitempty"`
			}
			out := make([]row, 0, len(eps))
			for _, ep := range eps {
				st, err := s.WebhookStatus(ctx, ep.ID)
				if err != nil {
					return err
				}
				out = append(out, row{Status: st, URL: ep.URL, DID: ep.DID})
			}
			if e.json {
				return e.printJSON(out)
			}
			rows := make([][]string, 0, len(out))
			for _, r := range out {
				lastErr := "-"
				if !r.LastErrorAt.IsZero() {
					lastErr = r.LastErrorAt.Format(time.RFC3339) + " " + r.LastError
				}
				rows = append(rows, []string{r.ID, fmt.Sprint(r.Delivered), fmt.Sprint(r.Failed), fmt.Sprint(r.Dropped),
					timeOrDash(r.LastSuccess), r.URL, lastErr})
			}
			return e.table("ID\tDELIVERED\tFAILED\tDROPPED\tLAST SUCCESS\tURL\tLAST ERROR", rows)
		},
	}
}
