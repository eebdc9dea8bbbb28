package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/redisstore"
)

func ivrRemoveCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "remove",
		Usage:     "take a number's IVR away: its calls are forwarded again",
		ArgsUsage: "DID",
		Action: e.didAction(func(ctx context.Context, s *redisstore.Store, did string) (any, string, error) {
			err := s.RemoveIVR(ctx, did)
			return map[string]string{"ivr_removed": did}, "IVR removed from " + did + "\n", err
		}),
	}
}
