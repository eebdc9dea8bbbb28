package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/ivr"
	"github.com/vnum/vnum/routing/redisstore"
)

func ivrShowCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print a number's IVR menu as YAML (as it runs: defaults filled, targets in E.164)",
		ArgsUsage: "DID",
		Action: e.didAction(func(ctx context.Context, s *redisstore.Store, did string) (any, string, error) {
			m, err := s.GetIVR(ctx, did)
			if err != nil {
				return nil, "", err
			}
			b, err := ivr.Marshal(m)
			return m, string(b), err
		}),
	}
}
