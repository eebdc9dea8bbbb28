package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func sessionCloseCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "close",
		Usage:     "close a session now; its proxy number goes back to the pool when no other session uses it",
		ArgsUsage: "ID",
		Action: func(c *cli.Context) error {
			id, err := sessionArg(c)
			if err != nil {
				return err
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			sess, err := s.GetSession(ctx, id)
			if err != nil {
				return err
			}
			if err := s.CloseSession(ctx, id); err != nil {
				return err
			}
			if e.json {
				return e.printJSON(map[string]any{"closed": sess})
			}
			_, err = fmt.Fprintf(e.out, "session %s closed (proxy number %s)\n", id, sess.Proxy)
			return err
		},
	}
}

// sessionArg reads the one session ID argument of a command.
func sessionArg(c *cli.Context) (string, error) {
	if c.NArg() != 1 {
		return "", usageError{fmt.Errorf("%s: want exactly one session ID argument, got %d", c.Command.HelpName, c.NArg())}
	}
	id, err := routing.ParseSessionID(c.Args().First())
	if err != nil {
		return "", badValue("%v", err)
	}
	return id, nil
}
