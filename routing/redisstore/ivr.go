package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/ivr"
)

// ivrKey holds a number's IVR menu (JSON of the validated ivr.Menu), under
// the number's hash tag so it changes atomically with the number's spec,
// whose IVR flag tells the decision to run it: the decision's hot path
// never reads the menu.
func ivrKey(did string) string { return "vnum:{" + did + "}:ivr" }

// ivrTxRetries bounds the optimistic transactions of SetIVR and RemoveIVR
// when the number changes under them.
const ivrTxRetries = 5

// SetIVR gives a number its IVR menu (validated, as ivr.Parse returns it):
// calls the number would forward run the menu instead. The menu's forward
// targets must be in the number's allowed destination countries. An
// unknown number is ErrNotFound; nothing is written on error.
func (s *Store) SetIVR(ctx context.Context, did string, m *ivr.Menu) error {
	if m == nil {
		return fmt.Errorf("ivr %s: no menu: %w", did, ivr.ErrInvalid)
	}
	if err := m.Validate(""); err != nil {
		return fmt.Errorf("ivr %s: %w", did, err)
	}
	body, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("ivr %s: %w", did, err)
	}
	return s.changeIVR(ctx, did, func(n *routing.Number) error {
		if err := m.CheckCountries(n.Limits.AllowCountries); err != nil {
			return fmt.Errorf("ivr %s: %w", did, err)
		}
		n.IVR = true
		return nil
	}, func(p redis.Pipeliner) { p.Set(ctx, ivrKey(did), body, 0) })
}

// RemoveIVR takes a number's IVR away: its calls are forwarded again.
// ErrNotFound when it has none.
func (s *Store) RemoveIVR(ctx context.Context, did string) error {
	err := s.changeIVR(ctx, did, func(n *routing.Number) error {
		if !n.IVR {
			return fmt.Errorf("ivr %s: %w", did, ErrNotFound)
		}
		n.IVR = false
		return nil
	}, func(p redis.Pipeliner) { p.Del(ctx, ivrKey(did)) })
	if errors.Is(err, ErrNotFound) {
		// A menu left behind by a number removed meanwhile goes too.
		if derr := s.rdb.Del(ctx, ivrKey(did)).Err(); derr != nil {
			return fmt.Errorf("ivr %s: %w: %w", did, ErrUnavailable, derr)
		}
	}
	return err
}

// changeIVR rewrites the number's spec (with change) and the IVR key
// (with write) in one transaction, retried while the number changes
// under it.
func (s *Store) changeIVR(ctx context.Context, did string, change func(*routing.Number) error, write func(redis.Pipeliner)) error {
	k := numKey(did)
	tx := func(tx *redis.Tx) error {
		spec, err := tx.HGet(ctx, k, "spec").Result()
		if errorsIsNil(err) {
			return fmt.Errorf("number %s: %w", did, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("ivr %s: %w: %w", did, ErrUnavailable, err)
		}
		var n routing.Number
		if err := json.Unmarshal([]byte(spec), &n); err != nil {
			return fmt.Errorf("number %s: %w: %w", did, ErrCorrupt, err)
		}
		if err := change(&n); err != nil {
			return err
		}
		b, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("number %s: %w", did, err)
		}
		// The version as putNumber computes it: the decision's spec cache
		// sees the change on the next call.
		sum := sha256.Sum256(b)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, k, "spec", b, "ver", hex.EncodeToString(sum[:8]))
			write(p)
			return nil
		})
		return err
	}
	for range ivrTxRetries {
		err := s.rdb.Watch(ctx, tx, k)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ivr.ErrInvalid) && !errors.Is(err, ErrUnavailable) {
			return fmt.Errorf("ivr %s: %w: %w", did, ErrUnavailable, err)
		}
		return err
	}
	return fmt.Errorf("ivr %s: the number kept changing: %w", did, ErrUnavailable)
}

// GetIVR reads a number's IVR menu, validated, its forward targets
// limited to the number's allowed destination countries as they are now
// (a forward left without a target hangs up). The call flow reads it for
// a decision with Action routing.ActionIVR: one round trip. ErrNotFound
// when the number has no IVR.
func (s *Store) GetIVR(ctx context.Context, did string) (*ivr.Menu, error) {
	var body, spec *redis.StringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		body = p.Get(ctx, ivrKey(did))
		spec = p.HGet(ctx, numKey(did), "spec")
		return nil
	})
	if err != nil && !errorsIsNil(err) {
		return nil, fmt.Errorf("ivr %s: %w: %w", did, ErrUnavailable, err)
	}
	b, err := body.Bytes()
	if errorsIsNil(err) {
		return nil, fmt.Errorf("ivr %s: %w", did, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("ivr %s: %w: %w", did, ErrUnavailable, err)
	}
	var n routing.Number
	sb, err := spec.Bytes()
	switch {
	case errorsIsNil(err):
		return nil, fmt.Errorf("ivr %s: number %w", did, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("ivr %s: %w: %w", did, ErrUnavailable, err)
	}
	if err := json.Unmarshal(sb, &n); err != nil {
		return nil, fmt.Errorf("number %s: %w: %w", did, ErrCorrupt, err)
	}
	if !n.IVR {
		return nil, fmt.Errorf("ivr %s: %w", did, ErrNotFound)
	}
	var m ivr.Menu
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("ivr %s: %w: %w", did, ErrCorrupt, err)
	}
	if err := m.Validate(""); err != nil {
		return nil, fmt.Errorf("ivr %s: %w: %w", did, ErrCorrupt, err)
	}
	if changed := m.Restrict(n.Limits.AllowCountries); len(changed) > 0 {
		s.log.Warn("ivr targets outside the allowed countries dropped", "did", did, "options", changed)
	}
	return &m, nil
}
