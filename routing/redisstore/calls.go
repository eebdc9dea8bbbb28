package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

func callFields(c routing.LiveCall) []any {
	f := []any{"id", c.ID, "did", c.DID, "node", c.Node, "pbx", c.PBX, "caller", c.Caller, "state", c.State,
		"started", c.Started.UnixMilli(), "bridge", c.Bridge, "target", c.Target, "recording", c.Record,
		"slot", strconv.FormatBool(c.Slot), "legs", strings.Join(c.Legs, " ")}
	if !c.Answered.IsZero() {
		f = append(f, "answered", c.Answered.UnixMilli())
	}
	return f
}

// PutCall registers or updates a live call and refreshes its TTL and, when
// it holds one, its concurrency slot's lease.
func (s *Store) PutCall(ctx context.Context, c routing.LiveCall) error {
	now := s.now()
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, callKey(c.ID), callFields(c)...)
		p.PExpire(ctx, callKey(c.ID), s.lease)
		if c.Slot {
			p.ZAddXX(ctx, slotsKey(c.DID), redis.Z{Score: float64(now.Add(s.lease).UnixMilli()), Member: c.ID})
			p.PExpire(ctx, slotsKey(c.DID), s.lease)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("register call %s: %w: %w", c.ID, ErrUnavailable, err)
	}
	return nil
}

// DeleteCall removes a call from the registry (idempotent).
func (s *Store) DeleteCall(ctx context.Context, id string) error {
	if err := s.rdb.Del(ctx, callKey(id)).Err(); err != nil {
		return fmt.Errorf("unregister call %s: %w: %w", id, ErrUnavailable, err)
	}
	return nil
}

// GetCall reads one live call.
func (s *Store) GetCall(ctx context.Context, id string) (routing.LiveCall, error) {
	m, err := s.rdb.HGetAll(ctx, callKey(id)).Result()
	if err != nil {
		return routing.LiveCall{}, fmt.Errorf("call %s: %w: %w", id, ErrUnavailable, err)
	}
	if len(m) == 0 {
		return routing.LiveCall{}, fmt.Errorf("call %s: %w", id, ErrNotFound)
	}
	return callFromMap(m), nil
}

// ListCalls returns the live calls of every node, oldest first.
func (s *Store) ListCalls(ctx context.Context) ([]routing.LiveCall, error) {
	keys, err := s.scan(ctx, callPattern)
	if err != nil {
		return nil, err
	}
	out := make([]routing.LiveCall, 0, len(keys))
	for _, k := range keys {
		m, err := s.rdb.HGetAll(ctx, k).Result()
		if err != nil {
			return nil, fmt.Errorf("calls: %w: %w", ErrUnavailable, err)
		}
		if len(m) > 0 {
			out = append(out, callFromMap(m))
		}
	}
	slices.SortFunc(out, func(a, b routing.LiveCall) int { return a.Started.Compare(b.Started) })
	return out, nil
}

// ListNodeCalls returns the live calls a node registered (for adoption
// after a restart).
func (s *Store) ListNodeCalls(ctx context.Context, node string) ([]routing.LiveCall, error) {
	all, err := s.ListCalls(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(c routing.LiveCall) bool { return c.Node != node }), nil
}

func callFromMap(m map[string]string) routing.LiveCall {
	c := routing.LiveCall{ID: m["id"], DID: m["did"], Node: m["node"], PBX: m["pbx"], Caller: m["caller"], State: m["state"],
		Bridge: m["bridge"], Target: m["target"], Record: m["recording"], Slot: m["slot"] == "true", Legs: strings.Fields(m["legs"])}
	if v, err := strconv.ParseInt(m["started"], 10, 64); err == nil {
		c.Started = time.UnixMilli(v).UTC()
	}
	if v, err := strconv.ParseInt(m["answered"], 10, 64); err == nil {
		c.Answered = time.UnixMilli(v).UTC()
	}
	return c
}

// RequestHangup asks the node that owns a live call to hang it up. It
// fails when the call is unknown or its node is not listening.
func (s *Store) RequestHangup(ctx context.Context, id string) (node string, err error) {
	c, err := s.GetCall(ctx, id)
	if err != nil {
		return "", err
	}
	n, err := s.rdb.Publish(ctx, nodeChannel(c.Node), "hangup "+id).Result()
	if err != nil {
		return c.Node, fmt.Errorf("hangup %s: %w: %w", id, ErrUnavailable, err)
	}
	if n == 0 {
		return c.Node, fmt.Errorf("hangup %s: node %s is not listening", id, c.Node)
	}
	return c.Node, nil
}

// SubscribeControl returns the control channel of a node (hang-up requests
// from vnumctl). Close the subscription when done.
func (s *Store) SubscribeControl(ctx context.Context, node string) *redis.PubSub {
	return s.rdb.Subscribe(ctx, nodeChannel(node))
}
