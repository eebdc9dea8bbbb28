package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/redisstore"
)

func numberRemoveCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Usage:     "delete a number with its lists",
		ArgsUsage: "DID",
		Action: e.didAction(func(ctx context.Context, s *redisstore.Store, did string) (any, string, error) {
			err := s.RemoveNumber(ctx, did)
			return map[string]string{"removed": did}, "removed " + did + "\n", err
		}),
	}
}
