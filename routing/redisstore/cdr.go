package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

// WriteCDR appends a CDR to the stream, once per call: a marker key
// written after the record makes a second write for the same call a no-op.
func (s *Store) WriteCDR(ctx context.Context, c routing.CDR) error {
	marker := "vnum:cdrdone:{" + c.CallID + "}"
	n, err := s.rdb.Exists(ctx, marker).Result()
	if err != nil {
		return fmt.Errorf("cdr %s: %w: %w", c.CallID, ErrUnavailable, err)
	}
	if n > 0 {
		return nil // written already (an adopted call ended twice)
	}
	vals := map[string]any{
		"call_id": c.CallID, "did": c.DID, "caller": c.Caller, "node": c.Node, "pbx": c.PBX,
		"action": c.Action, "outcome": c.Outcome, "reason": c.Reason, "target": c.Target,
		"started": c.Started.UnixMilli(), "ended": c.Ended.UnixMilli(),
		"billsec": int64(c.Billsec / time.Second), "recording": c.Recording, "hangup_by": c.HangupBy,
	}
	if !c.Answered.IsZero() {
		vals["answered"] = c.Answered.UnixMilli()
	}
	// The record first, then the marker: a write that fails midway can be
	// retried (the marker and the stream live on different Cluster slots,
	// so one script cannot do both).
	args := &redis.XAddArgs{Stream: cdrKey, MaxLen: s.maxCDR, Approx: true, Values: vals}
	if s.cdrRetention > 0 {
		// Records older than the retention period go as new ones come.
		args.MaxLen, args.Approx = 0, false
		args.MinID = strconv.FormatInt(s.now().Add(-s.cdrRetention).UnixMilli(), 10)
	}
	if err := s.rdb.XAdd(ctx, args).Err(); err != nil {
		return fmt.Errorf("cdr %s: %w: %w", c.CallID, ErrUnavailable, err)
	}
	if err := s.rdb.Set(ctx, marker, 1, 24*time.Hour).Err(); err != nil {
		return fmt.Errorf("cdr %s: marker: %w: %w", c.CallID, ErrUnavailable, err)
	}
	return nil
}

// ListCDRs returns up to limit CDRs, newest first, for one DID or all ("").
func (s *Store) ListCDRs(ctx context.Context, did string, limit int) ([]routing.CDR, error) {
	if limit <= 0 {
		limit = 100
	}
	var out []routing.CDR
	last := "+"
	for len(out) < limit {
		msgs, err := s.rdb.XRevRangeN(ctx, cdrKey, last, "-", 500).Result()
		if err != nil {
			return nil, fmt.Errorf("cdr list: %w: %w", ErrUnavailable, err)
		}
		for _, m := range msgs {
			c := cdrFromMessage(m)
			if did == "" || c.DID == did {
				out = append(out, c)
				if len(out) == limit {
					break
				}
			}
		}
		if len(msgs) < 500 {
			break
		}
		last = "(" + msgs[len(msgs)-1].ID
	}
	return out, nil
}

func cdrFromMessage(m redis.XMessage) routing.CDR {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	tm := func(k string) time.Time {
		v, err := strconv.ParseInt(str(k), 10, 64)
		if err != nil {
			return time.Time{}
		}
		return time.UnixMilli(v).UTC()
	}
	bs, _ := strconv.ParseInt(str("billsec"), 10, 64)
	return routing.CDR{ID: m.ID, CallID: str("call_id"), DID: str("did"), Caller: str("caller"), Node: str("node"), PBX: str("pbx"),
		Action: str("action"), Outcome: str("outcome"), Reason: str("reason"), Target: str("target"),
		Started: tm("started"), Answered: tm("answered"), Ended: tm("ended"), Billsec: time.Duration(bs) * time.Second,
		Recording: str("recording"), HangupBy: str("hangup_by")}
}
