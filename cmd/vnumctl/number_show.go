package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/redisstore"
)

func numberShowCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one number",
		ArgsUsage: "DID",
		Action: e.didAction(func(ctx context.Context, s *redisstore.Store, did string) (any, string, error) {
			n, err := s.GetNumber(ctx, did)
			return n, describeNumber(n), err
		}),
	}
}
