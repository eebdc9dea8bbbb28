package main

import (
	"time"

	"github.com/urfave/cli/v2"
)

func webhooksListCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list endpoints (secrets are never shown)",
		Action: func(c *cli.Context) error {
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			eps, err := s.Webhooks(ctx)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(eps)
			}
			rows := make([][]string, 0, len(eps))
			for _, ep := range eps {
				rows = append(rows, []string{ep.ID, hookScope(ep), hookEvents(ep), ep.Created.Format(time.RFC3339), ep.URL})
			}
			return e.table("ID\tNUMBER\tEVENTS\tCREATED\tURL", rows)
		},
	}
}
