package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

// DefaultRetention is how long recording metadata is kept.
const DefaultRetention = 90 * 24 * time.Hour

func recKey(name string) string     { return "vnum:rec:{" + name + "}" }
func recIndexKey(did string) string { return "vnum:{" + did + "}:recs" }

// PutRecording stores a recording's metadata, indexed by DID; it expires
// with the retention period.
func (s *Store) PutRecording(ctx context.Context, r routing.Recording) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, recKey(r.Name), "name", r.Name, "call_id", r.CallID, "did", r.DID, "kind", r.Kind,
			"caller", r.Caller, "started", r.Started.UnixMilli(), "duration_ms", r.Duration.Milliseconds(),
			"node", r.Node, "pbx", r.PBX)
		p.PExpire(ctx, recKey(r.Name), s.retention)
		p.ZAdd(ctx, recIndexKey(r.DID), redis.Z{Score: float64(r.Started.UnixMilli()), Member: r.Name})
		p.PExpire(ctx, recIndexKey(r.DID), s.retention)
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
		Min: strconv.FormatInt(now.Add(-s.retention).UnixMilli(), 10), Max: "+inf"}).Result()
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
