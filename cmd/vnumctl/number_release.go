package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/redisstore"
)

func numberReleaseCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "release",
		Usage:     "take a pool number out of service now: quarantine it and purge its routes, lists, CDRs and recording metadata",
		ArgsUsage: "DID",
		Action: e.didAction(func(ctx context.Context, s *redisstore.Store, did string) (any, string, error) {
			r, err := s.ReleaseNumber(ctx, did)
			if err != nil {
				return nil, "", err
			}
			return r, describeRelease(r), nil
		}),
	}
}

// describeRelease says what a release did, counts included.
func describeRelease(r redisstore.Released) string {
	var b strings.Builder
	fmt.Fprintf(&b, "released %s: in quarantine in pool %s until %s\n", r.DID, r.Pool, r.FreeAt.Format(time.RFC3339))
	p := r.Purged
	rec := "number record (route, owner, limits)"
	if !p.Number {
		rec = "no number record (already gone)"
	}
	fmt.Fprintf(&b, "purged %s, %s, %s, %s, %s, %s, %s, %s, %s\n", rec,
		count(p.BlockEntries, "blocklist entry", "blocklist entries"),
		count(p.AllowEntries, "allowlist entry", "allowlist entries"),
		count(p.Slots, "concurrency slot", "concurrency slots"),
		count(p.MinuteCounters, "daily minutes counter", "daily minutes counters"),
		count(p.CDRs, "CDR", "CDRs"),
		count(p.Recordings, "recording/voicemail metadata record", "recording/voicemail metadata records"),
		count(p.SMSThreads, "SMS thread", "SMS threads"),
		count(p.Webhooks, "webhook endpoint", "webhook endpoints"))
	if p.FilesQueued > 0 {
		fmt.Fprintf(&b, "%s queued for deletion from the PBX (vnumd's sweep deletes them)\n", count(p.FilesQueued, "recording file", "recording files"))
	}
	return b.String()
}

func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
