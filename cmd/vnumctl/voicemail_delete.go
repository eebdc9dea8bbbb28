package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

func voicemailDeleteCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a voicemail message (its record now, its audio file on the PBX when vnumd next drains the deletion queue)",
		ArgsUsage: "DID NAME",
		Flags:     []cli.Flag{jsonFlag()},
		Action: e.messageAction(func(ctx context.Context, s *redisstore.Store, did, name string) (any, string, error) {
			r, err := s.DeleteVoicemail(ctx, did, name)
			res := struct {
				Deleted    routing.Recording `json:"deleted"`
				FileQueued bool              `json:"file_queued"`
			}{r, true}
			return res, fmt.Sprintf("deleted voicemail %s of %s; its audio file is queued for deletion from the PBX\n", name, did), err
		}),
	}
}
