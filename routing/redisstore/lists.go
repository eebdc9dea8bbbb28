package redisstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

// List names a caller list: the blocklist or the allowlist.
type List string

const (
	Blocklist List = "block"
	Allowlist List = "allow"
)

func listKey(l List, did string) (string, error) {
	switch {
	case l == Blocklist && did == "":
		return globalBlockKey(), nil
	case l == Blocklist:
		return blockKey(did), nil
	case l == Allowlist && did != "":
		return allowKey(did), nil
	case l == Allowlist:
		return "", fmt.Errorf("allowlist: a number is required (there is no global allowlist)")
	}
	return "", fmt.Errorf("list %q: unknown", l)
}

// addEntryScript adds a list entry; with KEYS[2] (the number) it refuses
// when the number does not exist, in the same atomic step.
var addEntryScript = redis.NewScript(`
if #KEYS >= 2 and redis.call('EXISTS', KEYS[2]) == 0 then return 'missing' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 'ok'
`)

// delIfScript deletes a hash field only if it still holds the value read.
var delIfScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
`)

// AddEntry adds or replaces an entry on a list; did "" is the global
// blocklist. A number-scoped entry needs the number to exist.
func (s *Store) AddEntry(ctx context.Context, l List, did string, e routing.Entry) error {
	if err := routing.CheckReason(e.Reason); err != nil {
		return err
	}
	key, err := listKey(l, did)
	if err != nil {
		return err
	}
	if e.Added.IsZero() {
		e.Added = s.now().UTC()
	}
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	keys := []string{key}
	if did != "" {
		keys = append(keys, numKey(did))
	}
	res, err := addEntryScript.Run(ctx, s.rdb, keys, string(e.Pattern), ms(e.ExpiresAt)+"|"+string(body)).Text()
	if err != nil {
		return fmt.Errorf("%slist add %s: %w: %w", l, e.Pattern, ErrUnavailable, err)
	}
	if res == "missing" {
		return fmt.Errorf("number %s: %w", did, ErrNotFound)
	}
	return nil
}

// RemoveEntry deletes an entry; ErrNotFound when it was not there.
func (s *Store) RemoveEntry(ctx context.Context, l List, did string, p routing.Pattern) error {
	key, err := listKey(l, did)
	if err != nil {
		return err
	}
	n, err := s.rdb.HDel(ctx, key, string(p)).Result()
	if err != nil {
		return fmt.Errorf("%slist remove %s: %w: %w", l, p, ErrUnavailable, err)
	}
	if n == 0 {
		return fmt.Errorf("%slist entry %s: %w", l, p, ErrNotFound)
	}
	return nil
}

// ListEntries returns the live entries of a list, sorted by pattern, and
// deletes the expired ones it meets.
func (s *Store) ListEntries(ctx context.Context, l List, did string) ([]routing.Entry, error) {
	key, err := listKey(l, did)
	if err != nil {
		return nil, err
	}
	all, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("%slist: %w: %w", l, ErrUnavailable, err)
	}
	now := s.now()
	var out []routing.Entry
	var expired []string
	for p, v := range all {
		e, err := decodeEntry(v)
		if err != nil {
			return nil, err
		}
		if !e.Live(now) {
			expired = append(expired, p)
			continue
		}
		out = append(out, *e)
	}
	for _, p := range expired {
		// Only if unchanged: an entry re-added meanwhile stays.
		if err := delIfScript.Run(ctx, s.rdb, []string{key}, p, all[p]).Err(); err != nil {
			s.log.Warn("drop expired list entry", "err", err)
		}
	}
	slices.SortFunc(out, func(a, b routing.Entry) int { return strings.Compare(string(a.Pattern), string(b.Pattern)) })
	return out, nil
}
