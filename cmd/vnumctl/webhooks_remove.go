package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

func webhooksRemoveCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Usage:     "remove an endpoint and its delivery status",
		ArgsUsage: "ID",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageError{fmt.Errorf("%s: want exactly one webhook ID argument, got %d", c.Command.HelpName, c.NArg())}
			}
			id := c.Args().First()
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			if err := s.RemoveWebhook(ctx, id); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]string{"removed": id})
			}
			_, err = fmt.Fprintf(e.out, "webhook %s removed\n", id)
			return err
		},
	}
}
