package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

// Velocity limits calls per caller: more than PerDID calls to one number,
// or calls to more than DIDs numbers, within Window, and the caller is put
// on the global blocklist for Block with the reason logged. Zero values
// disable a limit.
type Velocity struct {
	PerDID int
	DIDs   int
	Window time.Duration
	Block  time.Duration
}

func (v Velocity) enabled() bool { return v.Window > 0 && (v.PerDID > 0 || v.DIDs > 0) }

// velocityKey is the key of a caller's recent attempts; caller is in its
// stored form (callerForm).
func velocityKey(caller string) string { return "vnum:vel:{" + caller + "}" }

// callerForm is how the store keys a caller in its own state (velocity
// attempts, velocity blocks): with the hmac privacy policy the HMAC form,
// so no raw caller number is stored; otherwise the number itself (last4
// cannot tell callers apart, so last4 deployments keep raw numbers in
// these short-lived keys).
func (s *Store) callerForm(caller string) string {
	if s.priv.Caller == routing.StoreHMAC && caller != routing.Anonymous && caller != "" {
		return s.priv.Record(caller)
	}
	return caller
}

// candidates are the list patterns that could match caller, most specific
// first: with the hmac policy the caller's HMAC form (what a velocity
// block is keyed by), then routing.Candidates.
func (s *Store) candidates(caller string) []string {
	cands := routing.Candidates(caller)
	if f := s.callerForm(caller); f != caller {
		cands = append([]string{f}, cands...)
	}
	return cands
}

// velocityScript records a call attempt of a caller and counts, within the
// window, the attempts to this DID and the distinct DIDs called.
// KEYS: 1 the caller's attempts (zset "DID|call id" -> ms). ARGV: 1 now
// (ms), 2 window (ms), 3 DID, 4 call id. Returns {calls to DID, DIDs}.
var velocityScript = redis.NewScript(`
local now, win = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - win)
redis.call('ZADD', KEYS[1], now, ARGV[3] .. '|' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], win)
local seen, dids, same = {}, 0, 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local d = string.match(m, '^(.*)|')
  if d == ARGV[3] then same = same + 1 end
  if d and not seen[d] then seen[d] = true; dids = dids + 1 end
end
return {same, dids}
`)

// velocity records the attempt and says whether the caller went over a
// limit (and blocks it globally for v.Block when so). It runs in parallel
// with the decision's own request (the caller's key lives on its own
// Cluster slot), so the wall time stays one round trip.
func (s *Store) velocity(ctx context.Context, c routing.Call) (string, error) {
	v := s.vel
	res, err := velocityScript.Run(ctx, s.rdb, []string{velocityKey(s.callerForm(c.Caller))}, c.At.UnixMilli(), v.Window.Milliseconds(), c.DID, c.ID).Int64Slice()
	if err != nil || len(res) != 2 {
		return "", fmt.Errorf("velocity: %w: %v", ErrUnavailable, err)
	}
	why := ""
	switch {
	case v.PerDID > 0 && res[0] > int64(v.PerDID):
		why = fmt.Sprintf("velocity: %d calls to %s within %s (limit %d)", res[0], c.DID, v.Window, v.PerDID)
	case v.DIDs > 0 && res[1] > int64(v.DIDs):
		why = fmt.Sprintf("velocity: calls to %d numbers within %s (limit %d)", res[1], v.Window, v.DIDs)
	}
	if why == "" {
		return "", nil
	}
	// Keyed by the caller's stored form: with hmac the raw number is not
	// kept, and the decision looks the HMAC form up first (candidates).
	e := routing.Entry{Pattern: routing.Pattern(s.callerForm(c.Caller)), Reason: why, Added: c.At.UTC()}
	if v.Block > 0 {
		until := c.At.Add(v.Block)
		e.ExpiresAt = &until
	}
	if err := s.AddEntry(ctx, Blocklist, "", e); err != nil {
		return why, err
	}
	s.log.Warn("caller blocked by velocity limit", "did", c.DID, "reason", why, "for", v.Block)
	return why, nil
}
