package main

import (
	"context"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/redisstore"
)

func voicemailShowCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one voicemail message",
		ArgsUsage: "DID NAME",
		Flags:     []cli.Flag{jsonFlag()},
		Action: e.messageAction(func(ctx context.Context, s *redisstore.Store, did, name string) (any, string, error) {
			r, err := s.GetVoicemail(ctx, did, name)
			return r, describeVoicemail(r), err
		}),
	}
}
