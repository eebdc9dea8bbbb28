package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// LiveCall is one call in progress, as the registry shows it. Caller is
// already stored as the privacy policy says.
type LiveCall struct {
	ID       string    `json:"id"`
	DID      string    `json:"did"`
	Node     string    `json:"node"`
	PBX      string    `json:"pbx"`
	Caller   string    `json:"caller"`
	State    string    `json:"state"` // ringing, bridged, voicemail, ...
	Started  time.Time `json:"started"`
	Answered time.Time `json:"answered,omitzero"`
	// Legs are the PBX's channel ids of the call (inbound first), so a
	// restarted node can adopt it.
	Legs   []string `json:"legs,omitempty"`
	Bridge string   `json:"bridge,omitempty"`
	Target string   `json:"target,omitempty"`
	Record string   `json:"recording,omitempty"`
	Slot   bool     `json:"slot,omitempty"`
}

func (c LiveCall) fields() []any {
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
func (s *Store) PutCall(ctx context.Context, c LiveCall) error {
	now := s.now()
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, callKey(c.ID), c.fields()...)
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
func (s *Store) GetCall(ctx context.Context, id string) (LiveCall, error) {
	m, err := s.rdb.HGetAll(ctx, callKey(id)).Result()
	if err != nil {
		return LiveCall{}, fmt.Errorf("call %s: %w: %w", id, ErrUnavailable, err)
	}
	if len(m) == 0 {
		return LiveCall{}, fmt.Errorf("call %s: %w", id, ErrNotFound)
	}
	return callFromMap(m), nil
}

// ListCalls returns the live calls of every node, oldest first.
func (s *Store) ListCalls(ctx context.Context) ([]LiveCall, error) {
	keys, err := s.scan(ctx, callPattern)
	if err != nil {
		return nil, err
	}
	out := make([]LiveCall, 0, len(keys))
	for _, k := range keys {
		m, err := s.rdb.HGetAll(ctx, k).Result()
		if err != nil {
			return nil, fmt.Errorf("calls: %w: %w", ErrUnavailable, err)
		}
		if len(m) > 0 {
			out = append(out, callFromMap(m))
		}
	}
	slices.SortFunc(out, func(a, b LiveCall) int { return a.Started.Compare(b.Started) })
	return out, nil
}

// ListNodeCalls returns the live calls a node registered (for adoption
// after a restart).
func (s *Store) ListNodeCalls(ctx context.Context, node string) ([]LiveCall, error) {
	all, err := s.ListCalls(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(c LiveCall) bool { return c.Node != node }), nil
}

func callFromMap(m map[string]string) LiveCall {
	c := LiveCall{ID: m["id"], DID: m["did"], Node: m["node"], PBX: m["pbx"], Caller: m["caller"], State: m["state"],
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
