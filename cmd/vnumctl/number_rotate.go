package main

import (
	"context"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/redisstore"
)

func numberRotateCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rotate",
		Usage:     "give a pool number's owner a fresh number from the same pool (same country, same area if possible) and release the old one",
		ArgsUsage: "DID",
		Action: e.didAction(func(ctx context.Context, s *redisstore.Store, did string) (any, string, error) {
			r, err := s.Rotate(ctx, did)
			if err != nil {
				return nil, "", err
			}
			return r, fmt.Sprintf("%s\nnew number %s replaces %s (route, owner, limits, labels and lists copied)\n%s is in quarantine in pool %s until %s\n",
				r.New, r.New, r.Old, r.Old, r.Released.Pool, r.Released.FreeAt.Format(time.RFC3339)), nil
		}),
	}
}
