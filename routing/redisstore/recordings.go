package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

// DefaultRetention is how long recordings, voicemail messages and SMS
// threads are kept when the deployment does not say.
const DefaultRetention = 90 * 24 * time.Hour

func recKey(name string) string     { return "vnum:rec:{" + name + "}" }
func recIndexKey(did string) string { return "vnum:{" + did + "}:recs" }

// metaTTL is the TTL of recording metadata: the longer retention period
// plus RetentionGrace (the sweep deletes it, with its file, when the
// period ends; the TTL is the backstop).
func (s *Store) metaTTL() time.Duration { return max(s.retention, s.vmRetention) + RetentionGrace }

// PutRecording stores a recording's metadata, indexed by DID. The sweep
// (EnforceRetention) deletes it and queues its file for deletion when the
// retention period of its kind ends; its TTL is a backstop RetentionGrace
// later.
func (s *Store) PutRecording(ctx context.Context, r routing.Recording) error {
	ttl := s.metaTTL()
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, recKey(r.Name), "name", r.Name, "call_id", r.CallID, "did", r.DID, "kind", r.Kind,
			"caller", r.Caller, "started", r.Started.UnixMilli(), "duration_ms", r.Duration.Milliseconds(),
			"node", r.Node, "pbx", r.PBX)
		p.PExpire(ctx, recKey(r.Name), ttl)
		p.ZAdd(ctx, recIndexKey(r.DID), redis.Z{Score: float64(r.Started.UnixMilli()), Member: r.Name})
		p.PExpire(ctx, recIndexKey(r.DID), ttl)
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording %s: %w: %w", r.Name, ErrUnavailable, err)
	}
	return nil
}

// ListRecordings returns a DID's recordings, newest first.
func (s *Store) ListRecordings(ctx context.Context, did string) ([]routing.Recording, error) {
	now := s.now()
	names, err := s.rdb.ZRevRangeByScore(ctx, recIndexKey(did), &redis.ZRangeBy{
		Min: strconv.FormatInt(now.Add(-max(s.retention, s.vmRetention)).UnixMilli(), 10), Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("recordings %s: %w: %w", did, ErrUnavailable, err)
	}
	out := make([]routing.Recording, 0, len(names))
	for _, n := range names {
		m, err := s.rdb.HGetAll(ctx, recKey(n)).Result()
		if err != nil {
			return nil, fmt.Errorf("recording %s: %w: %w", n, ErrUnavailable, err)
		}
		if len(m) == 0 {
			continue
		}
		st, _ := strconv.ParseInt(m["started"], 10, 64)
		d, _ := strconv.ParseInt(m["duration_ms"], 10, 64)
		out = append(out, routing.Recording{Name: m["name"], CallID: m["call_id"], DID: m["did"], Kind: m["kind"],
			Caller: m["caller"], Started: time.UnixMilli(st).UTC(), Duration: time.Duration(d) * time.Millisecond,
			Node: m["node"], PBX: m["pbx"]})
	}
	return out, nil
}
