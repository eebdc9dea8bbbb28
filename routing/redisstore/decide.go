package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

// decideScript gathers everything a decision reads and takes the
// concurrency slot, atomically, in one round trip.
//
// KEYS: 1 num, 2 number blocklist, 3 allowlist, 4 slots, 5 minutes today,
// 6 the number's session map (a proxy number's participants), [7 global
// blocklist: absent when the caller checks it in parallel on another
// Cluster slot].
// ARGV: 1 now (ms), 2 call id, 3 lease (ms), 4 take a slot (1/0),
// 5 the caller (normalised), 6 the spec version the client has cached
// ("" for none), 7.. the patterns that could match the caller, most
// specific first (routing.Candidates: the exact number, then every prefix).
//
// Returns {0} for an unknown number, else {1, version, spec ("" when the
// client's cached version is current), number block hit, global block hit,
// allowlisted (1/0), seconds forwarded today, cap reached (1/0), calls in
// use, slot taken (1/0), the caller's session entry on a proxy number
// ("" for none)}.
var decideScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[1], 'ver', 'max_concurrent', 'daily_minutes', 'allow_only', 'expires_ms', 'state')
if not f[1] then return {0} end
local spec = ''
if f[1] ~= ARGV[6] then spec = redis.call('HGET', KEYS[1], 'spec') end
-- ARGV[7..]: the candidate patterns, most specific first (routing.Candidates).
local n = #ARGV - 6
local function first(key)
  if n <= 0 then return false end
  local vals = redis.call('HMGET', key, unpack(ARGV, 7))
  for i = 1, n do
    local v = vals[i]
    if v then
      local sep = string.find(v, '|', 1, true)
      local exp = sep and tonumber(string.sub(v, 1, sep - 1)) or 0
      if exp == 0 or exp > now then return v end
    end
  end
  return false
end
local nb = first(KEYS[2])
local gb = false
if #KEYS >= 7 then gb = first(KEYS[7]) end
local allowOnly = f[4] == '1'
local al = false
if allowOnly then al = first(KEYS[3]) end
local maxc = tonumber(f[2] or '0') or 0
local daily = tonumber(f[3] or '0') or 0
local exp = tonumber(f[5] or '0') or 0
local used = 0
if daily > 0 then used = tonumber(redis.call('GET', KEYS[5]) or '0') end
local live = f[6] == 'active' and (exp == 0 or exp > now)
local capped, inuse, taken = 0, 0, 0
if live and not nb and not gb and (not allowOnly or al) and maxc > 0 and not (daily > 0 and used >= daily * 60) then
  if ARGV[4] == '1' then
    inuse = redis.call('ZCARD', KEYS[4])
    if inuse >= maxc then
      -- At the cap: drop the slots of calls whose lease ran out (a
      -- crashed node's), then count again.
      redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
      inuse = redis.call('ZCARD', KEYS[4])
    end
    if inuse >= maxc then
      capped = 1
    else
      local lease = tonumber(ARGV[3])
      redis.call('ZADD', KEYS[4], now + lease, ARGV[2])
      -- A new key gets its TTL here; afterwards the live-call refresh
      -- (PutCall) extends it while calls hold slots.
      if inuse == 0 then redis.call('PEXPIRE', KEYS[4], lease) end
      inuse = inuse + 1
      taken = 1
    end
  else
    inuse = redis.call('ZCOUNT', KEYS[4], '(' .. now, '+inf')
    if inuse >= maxc then capped = 1 end
  end
end
-- A proxy number's calls are routed by the caller's session on it.
local sess = redis.call('HGET', KEYS[6], ARGV[5])
return {1, f[1], spec, nb or '', gb or '', al and 1 or 0, used, capped, inuse, taken, sess or ''}
`)

// Decide routes an inbound call: one round trip that reads the number,
// checks both blocklists and the limits, and takes a concurrency slot when
// the number has a cap. A decision with SlotHeld must be followed by
// Release when the call ends. When the store cannot be reached the
// decision is ActionUnavailable and err wraps ErrUnavailable.
func (s *Store) Decide(ctx context.Context, c routing.Call) (routing.Decision, error) {
	return s.decide(ctx, c, true)
}

// Simulate runs the same decision read-only: it takes no slot.
func (s *Store) Simulate(ctx context.Context, c routing.Call) (routing.Decision, error) {
	return s.decide(ctx, c, false)
}

func (s *Store) decide(ctx context.Context, c routing.Call, take bool) (routing.Decision, error) {
	if c.At.IsZero() {
		c.At = s.now()
	}
	var (
		velWhy string
		velErr error
		velOK  chan struct{}
	)
	if take && s.vel.enabled() && c.Caller != routing.Anonymous && c.Caller != "" {
		velOK = make(chan struct{})
		go func() {
			defer close(velOK)
			velWhy, velErr = s.velocity(ctx, c)
		}()
	}
	snap, err := s.snapshot(ctx, c, take)
	if velOK != nil {
		<-velOK
		if velErr != nil {
			s.log.Warn("velocity check", "did", c.DID, "err", velErr)
		}
	}
	if err != nil {
		snap.StoreFailure = err
	}
	snap.ConsentCountries = s.consent
	d := routing.Decide(c, snap)
	if velWhy != "" && err == nil && snap.Found && (d.Action == routing.ActionForward || d.Action == routing.ActionVoicemail || d.Action == routing.ActionIVR) {
		d = routing.Decision{Action: routing.ActionReject, Reason: routing.ReasonVelocity, Detail: velWhy,
			Reject: snap.Number.Reject, Trace: append(d.Trace, velWhy)}
		if d.Reject == "" {
			d.Reject = routing.RejectBusy
		}
	}
	if snap.SlotTaken && !d.SlotHeld {
		// Taken by the script but the decision does not forward (schedule,
		// destination country, global block on Cluster): give it back.
		if rerr := s.Release(ctx, c.DID, c.ID); rerr != nil {
			s.log.Warn("release unused slot", "did", c.DID, "call_id", c.ID, "err", rerr)
		}
	}
	if err != nil {
		return d, err
	}
	return d, nil
}

func (s *Store) snapshot(ctx context.Context, c routing.Call, take bool) (routing.Snapshot, error) {
	// Room for the global list's key without a second allocation.
	keys := append(make([]string, 0, 7), numKey(c.DID), blockKey(c.DID), allowKey(c.DID), slotsKey(c.DID), minutesKey(c.DID, c.At), sessKey(c.DID))
	if !s.split {
		keys = append(keys, globalBlockKey())
	}
	takeArg := "0"
	if take {
		takeArg = "1"
	}
	cached := s.specs.get(c.DID)
	ver := ""
	if cached != nil {
		ver = cached.ver
	}
	cands := s.candidates(c.Caller)
	args := make([]any, 0, 6+len(cands))
	args = append(args, c.At.UnixMilli(), c.ID, s.lease.Milliseconds(), takeArg, c.Caller, ver)
	for _, p := range cands {
		args = append(args, p)
	}

	var (
		global    string
		globalErr error
		wait      chan struct{}
	)
	if s.split {
		// Cluster: the global list lives on another slot. Ask for it in
		// parallel so the wall time stays one round trip.
		wait = make(chan struct{})
		go func() {
			defer close(wait)
			global, globalErr = s.firstLive(ctx, globalBlockKey(), cands, c.At)
		}()
	}
	res, err := decideScript.Run(ctx, s.rdb, keys, args...).Slice()
	if wait != nil {
		<-wait
	}
	if err != nil {
		return routing.Snapshot{}, fmt.Errorf("decide %s: %w: %w", c.DID, ErrUnavailable, err)
	}
	if globalErr != nil {
		if s.split && len(res) > 9 && res[9] == int64(1) {
			_ = s.Release(ctx, c.DID, c.ID)
		}
		return routing.Snapshot{}, fmt.Errorf("decide %s: global blocklist: %w: %w", c.DID, ErrUnavailable, globalErr)
	}
	return s.parseSnapshot(c.DID, res, cached, global)
}

// parseSnapshot reads the script's reply; the number's spec is decoded
// only when it changed since the cached copy.
func (s *Store) parseSnapshot(did string, res []any, cached *cachedSpec, splitGlobal string) (routing.Snapshot, error) {
	var snap routing.Snapshot
	if len(res) == 0 || res[0] == int64(0) {
		s.specs.drop(did)
		return snap, nil
	}
	if len(res) != 11 {
		return snap, fmt.Errorf("decide: script returned %d values: %w", len(res), ErrCorrupt)
	}
	ver, _ := res[1].(string)
	spec, _ := res[2].(string)
	switch {
	case spec == "" && cached != nil && cached.ver == ver:
		snap.Number = cached.n
	default:
		if err := json.Unmarshal([]byte(spec), &snap.Number); err != nil {
			return snap, fmt.Errorf("decide: number spec: %w: %w", ErrCorrupt, err)
		}
		s.specs.put(did, &cachedSpec{ver: ver, n: snap.Number})
	}
	snap.Found = true
	var err error
	if snap.NumberBlock, err = decodeEntry(res[3]); err != nil {
		return snap, err
	}
	g := res[4]
	if splitGlobal != "" {
		g = splitGlobal
	}
	if snap.GlobalBlock, err = decodeEntry(g); err != nil {
		return snap, err
	}
	snap.Allowlisted = res[5] == int64(1)
	used, _ := res[6].(int64)
	snap.MinutesUsed = int(used / 60)
	snap.CapReached = res[7] == int64(1)
	inUse, _ := res[8].(int64)
	snap.InUse = int(inUse)
	snap.SlotTaken = res[9] == int64(1)
	if snap.Session, err = decodeLeg(res[10]); err != nil {
		return snap, err
	}
	return snap, nil
}

// firstLive returns the first live entry among candidates in a list hash,
// encoded as stored, or "".
func (s *Store) firstLive(ctx context.Context, key string, cands []string, at time.Time) (string, error) {
	vals, err := s.rdb.HMGet(ctx, key, cands...).Result()
	if err != nil {
		return "", err
	}
	for _, v := range vals {
		str, ok := v.(string)
		if !ok {
			continue
		}
		if exp, _, ok := splitEntry(str); ok && (exp == 0 || exp > at.UnixMilli()) {
			return str, nil
		}
	}
	return "", nil
}

func decodeEntry(v any) (*routing.Entry, error) {
	str, _ := v.(string)
	if str == "" {
		return nil, nil
	}
	_, body, ok := splitEntry(str)
	if !ok {
		return nil, fmt.Errorf("list entry %q: %w", str, ErrCorrupt)
	}
	var e routing.Entry
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return nil, fmt.Errorf("list entry: %w: %w", ErrCorrupt, err)
	}
	return &e, nil
}

func splitEntry(s string) (int64, string, bool) {
	head, body, ok := strings.Cut(s, "|")
	if !ok {
		return 0, "", false
	}
	var exp int64
	for _, r := range head {
		if r < '0' || r > '9' {
			return 0, "", false
		}
		exp = exp*10 + int64(r-'0')
	}
	return exp, body, true
}

// Release gives back the concurrency slot of a call. It is idempotent.
func (s *Store) Release(ctx context.Context, did, callID string) error {
	if err := s.rdb.ZRem(ctx, slotsKey(did), callID).Err(); err != nil {
		return fmt.Errorf("release slot %s: %w: %w", did, ErrUnavailable, err)
	}
	return nil
}

// errorsIsNil reports a go-redis "no value" reply.
func errorsIsNil(err error) bool { return errors.Is(err, redis.Nil) }
