package redisstore

// Number pools and the number lifecycle.
//
// A pool is a named set of DIDs the operator owns at the carrier and has
// not given to anyone yet. A number handed out from a pool carries the
// label pool=NAME (routing.LabelPool); when it is released (`vnumctl number
// release`, rotation, or its expiry found by Sweep) everything the store
// holds about it is purged and it waits in its pool's quarantine for the
// pool's cool-off (default 30 days) before Allocate may hand it out again.
//
//	active ──(ExpiresAt passed: Sweep; or release)──► quarantined ──(cool-off over: Sweep)──► free ──(Allocate)──► allocated
//
// Keys (every key of one pool carries the pool name as its hash tag, so
// allocation is one atomic script on one Cluster slot):
//
//	vnum:pool:{NAME}:meta        hash  created_ms, cooloff_ms (the pool exists while this key does)
//	vnum:pool:{NAME}:free        zset  "CC|AREA|DID" -> 0: free numbers; lexicographic ranges select a
//	                                   country (CC, ISO 3166, "" when none) or a country and area code
//	vnum:pool:{NAME}:allocated   set   DIDs handed out (each is a provisioned number labelled pool=NAME)
//	vnum:pool:{NAME}:quarantine  zset  DID -> the time (ms) its cool-off ends and it may go back to free
//
// No key is indexed by DID: pool add checks the other pools by scanning
// vnum:pool:{*}:meta (an admin operation). A released number leaves no
// trace but its quarantine entry: its number hash, lists, slots, minute
// counters, CDR stream entries and recording metadata are deleted.

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

var (
	// ErrPoolEmpty: the pool has no free number matching the request.
	ErrPoolEmpty = errors.New("pool empty")
	// ErrNoPool: the number was not allocated from a pool, so it cannot
	// be released into one.
	ErrNoPool = errors.New("not allocated from a pool")
)

func poolMetaKey(p string) string  { return "vnum:pool:{" + p + "}:meta" }
func poolFreeKey(p string) string  { return "vnum:pool:{" + p + "}:free" }
func poolAllocKey(p string) string { return "vnum:pool:{" + p + "}:allocated" }
func poolQuarKey(p string) string  { return "vnum:pool:{" + p + "}:quarantine" }

const poolMetaPattern = "vnum:pool:{*}:meta"

// poolMember is how a free DID is stored: country and area first, so a
// lexicographic range selects them.
func poolMember(did string) string {
	return routing.CountryOf(did) + "|" + routing.AreaCode(did) + "|" + did
}

func splitMember(m string) (did, country, area string) {
	parts := strings.SplitN(m, "|", 3)
	if len(parts) != 3 {
		return m, "", ""
	}
	return parts[2], parts[0], parts[1]
}

// Pool is a pool's summary.
type Pool struct {
	Name        string        `json:"name"`
	Created     time.Time     `json:"created"`
	CoolOff     time.Duration `json:"cool_off"`
	Free        int           `json:"free"`
	Allocated   int           `json:"allocated"`
	Quarantined int           `json:"quarantined"`
}

// PoolMember is one DID of a pool.
type PoolMember struct {
	DID     string `json:"did"`
	Country string `json:"country,omitempty"`
	Area    string `json:"area,omitempty"`
	// State is free, allocated or quarantined.
	State string `json:"state"`
	// FreeAt is when a quarantined number goes back to free.
	FreeAt time.Time `json:"free_at,omitzero"`
}

// PoolDetail is a pool with its members, sorted by DID.
type PoolDetail struct {
	Pool
	Members []PoolMember `json:"members"`
}

// poolAddScript creates the pool if needed and adds free DIDs that are not
// in it yet. KEYS: meta, free, allocated, quarantine. ARGV: 1 now (ms),
// 2 cool-off (ms; "" keeps the pool's, or the default for a new pool),
// 3 default cool-off (ms), 4.. DID, member pairs. Returns {added, already}.
var poolAddScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  local co = ARGV[2]
  if co == '' then co = ARGV[3] end
  redis.call('HSET', KEYS[1], 'created_ms', ARGV[1], 'cooloff_ms', co)
elseif ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'cooloff_ms', ARGV[2])
end
local added, already = 0, 0
for i = 4, #ARGV, 2 do
  local did, m = ARGV[i], ARGV[i + 1]
  if redis.call('ZSCORE', KEYS[2], m) or redis.call('SISMEMBER', KEYS[3], did) == 1 or redis.call('ZSCORE', KEYS[4], did) then
    already = already + 1
  else
    redis.call('ZADD', KEYS[2], 0, m)
    added = added + 1
  end
end
return {added, already}
`)

// AddToPool adds free DIDs to a pool, creating the pool if needed. coolOff
// sets the pool's quarantine period (0: keep it, or routing.DefaultCoolOff
// for a new pool). A DID already in this pool is counted in already; a DID
// in another pool or provisioned as a number is an error naming it, and
// then nothing is written.
func (s *Store) AddToPool(ctx context.Context, pool string, dids []string, coolOff time.Duration) (added, already int, err error) {
	if _, err := routing.ParsePoolName(pool); err != nil {
		return 0, 0, err
	}
	if coolOff < 0 {
		return 0, 0, fmt.Errorf("pool %s: cool-off %s: must not be negative", pool, coolOff)
	}
	var uniq []string
	for _, d := range dids {
		if _, err := routing.ParseE164(d, ""); err != nil || !strings.HasPrefix(d, "+") {
			return 0, 0, fmt.Errorf("did %q: %w", d, routing.ErrBadNumber)
		}
		if !slices.Contains(uniq, d) {
			uniq = append(uniq, d)
		}
	}
	if len(uniq) == 0 {
		return 0, 0, fmt.Errorf("pool %s: no DID to add", pool)
	}
	if err := s.checkFreeToPool(ctx, pool, uniq); err != nil {
		return 0, 0, err
	}
	args := []any{s.now().UnixMilli(), "", routing.DefaultCoolOff.Milliseconds()}
	if coolOff > 0 {
		args[1] = coolOff.Milliseconds()
	}
	for _, d := range uniq {
		args = append(args, d, poolMember(d))
	}
	res, err := poolAddScript.Run(ctx, s.rdb, []string{poolMetaKey(pool), poolFreeKey(pool), poolAllocKey(pool), poolQuarKey(pool)}, args...).Int64Slice()
	if err != nil || len(res) != 2 {
		return 0, 0, fmt.Errorf("pool %s: add: %w: %v", pool, ErrUnavailable, err)
	}
	return int(res[0]), int(res[1]), nil
}

// checkFreeToPool refuses DIDs that belong to another pool, or that are
// provisioned as numbers without being this pool's allocated members.
func (s *Store) checkFreeToPool(ctx context.Context, pool string, dids []string) error {
	pools, err := s.poolNames(ctx)
	if err != nil {
		return err
	}
	type check struct {
		did, pool string
		hits      []redis.Cmder
	}
	var checks []check
	var numCmds []*redis.IntCmd
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, d := range dids {
			numCmds = append(numCmds, p.Exists(ctx, numKey(d)))
			for _, other := range pools {
				checks = append(checks, check{did: d, pool: other, hits: []redis.Cmder{
					p.ZScore(ctx, poolFreeKey(other), poolMember(d)),
					p.SIsMember(ctx, poolAllocKey(other), d),
					p.ZScore(ctx, poolQuarKey(other), d),
				}})
			}
		}
		return nil
	})
	if err != nil && !errorsIsNil(err) {
		return fmt.Errorf("pool %s: check members: %w: %w", pool, ErrUnavailable, err)
	}
	inThis := map[string]bool{}
	for _, c := range checks {
		hit := false
		for _, cmd := range c.hits {
			switch cmd := cmd.(type) {
			case *redis.FloatCmd:
				hit = hit || cmd.Err() == nil
			case *redis.BoolCmd:
				hit = hit || cmd.Val()
			}
		}
		if !hit {
			continue
		}
		if c.pool != pool {
			return fmt.Errorf("did %s: already in pool %s: %w", c.did, c.pool, ErrExists)
		}
		inThis[c.did] = true
	}
	for i, d := range dids {
		if numCmds[i].Val() == 1 && !inThis[d] {
			return fmt.Errorf("did %s: provisioned as a number: %w", d, ErrExists)
		}
	}
	return nil
}

// poolNames lists every pool, sorted.
func (s *Store) poolNames(ctx context.Context) ([]string, error) {
	keys, err := s.scan(ctx, poolMetaPattern)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		n := strings.TrimSuffix(strings.TrimPrefix(k, "vnum:pool:{"), "}:meta")
		if n != k {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// ListPools returns every pool with its counts, sorted by name.
func (s *Store) ListPools(ctx context.Context) ([]Pool, error) {
	names, err := s.poolNames(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Pool, 0, len(names))
	for _, n := range names {
		p, err := s.poolSummary(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func (s *Store) poolSummary(ctx context.Context, name string) (Pool, error) {
	var meta *redis.MapStringStringCmd
	var free, alloc, quar *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		meta = p.HGetAll(ctx, poolMetaKey(name))
		free = p.ZCard(ctx, poolFreeKey(name))
		alloc = p.SCard(ctx, poolAllocKey(name))
		quar = p.ZCard(ctx, poolQuarKey(name))
		return nil
	})
	if err != nil {
		return Pool{}, fmt.Errorf("pool %s: %w: %w", name, ErrUnavailable, err)
	}
	m := meta.Val()
	if len(m) == 0 {
		return Pool{}, fmt.Errorf("pool %s: %w", name, ErrNotFound)
	}
	created, _ := strconv.ParseInt(m["created_ms"], 10, 64)
	co, _ := strconv.ParseInt(m["cooloff_ms"], 10, 64)
	return Pool{Name: name, Created: time.UnixMilli(created).UTC(), CoolOff: time.Duration(co) * time.Millisecond,
		Free: int(free.Val()), Allocated: int(alloc.Val()), Quarantined: int(quar.Val())}, nil
}

// GetPool returns a pool with its members; ErrNotFound for no such pool.
func (s *Store) GetPool(ctx context.Context, name string) (PoolDetail, error) {
	if _, err := routing.ParsePoolName(name); err != nil {
		return PoolDetail{}, err
	}
	p, err := s.poolSummary(ctx, name)
	if err != nil {
		return PoolDetail{}, err
	}
	var free *redis.StringSliceCmd
	var alloc *redis.StringSliceCmd
	var quar *redis.ZSliceCmd
	_, err = s.rdb.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		free = pl.ZRange(ctx, poolFreeKey(name), 0, -1)
		alloc = pl.SMembers(ctx, poolAllocKey(name))
		quar = pl.ZRangeWithScores(ctx, poolQuarKey(name), 0, -1)
		return nil
	})
	if err != nil {
		return PoolDetail{}, fmt.Errorf("pool %s: members: %w: %w", name, ErrUnavailable, err)
	}
	d := PoolDetail{Pool: p, Members: []PoolMember{}}
	for _, m := range free.Val() {
		did, cc, area := splitMember(m)
		d.Members = append(d.Members, PoolMember{DID: did, Country: cc, Area: area, State: "free"})
	}
	for _, did := range alloc.Val() {
		d.Members = append(d.Members, PoolMember{DID: did, Country: routing.CountryOf(did), Area: routing.AreaCode(did), State: "allocated"})
	}
	for _, z := range quar.Val() {
		did, _ := z.Member.(string)
		d.Members = append(d.Members, PoolMember{DID: did, Country: routing.CountryOf(did), Area: routing.AreaCode(did),
			State: string(routing.StateQuarantined), FreeAt: time.UnixMilli(int64(z.Score)).UTC()})
	}
	slices.SortFunc(d.Members, func(a, b PoolMember) int { return strings.Compare(a.DID, b.DID) })
	return d, nil
}

// allocateScript takes one free DID, at random among those whose member
// starts with ARGV[1] ("" for any; "FR|" for a country; "FR|1|" for a
// country and area), and marks it allocated. KEYS: meta, free, allocated.
// ARGV: 1 prefix, 2 a random non-negative integer.
var allocateScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'nopool'} end
local min, max = '-', '+'
if ARGV[1] ~= '' then min = '[' .. ARGV[1]; max = '(' .. ARGV[1] .. '\255' end
local n = redis.call('ZLEXCOUNT', KEYS[2], min, max)
if n == 0 then return {'empty'} end
local idx = tonumber(ARGV[2]) % n
local m = redis.call('ZRANGEBYLEX', KEYS[2], min, max, 'LIMIT', idx, 1)[1]
redis.call('ZREM', KEYS[2], m)
local did = string.match(m, '[^|]*$')
redis.call('SADD', KEYS[3], did)
return {'ok', did}
`)

// Allocate takes a free DID from a pool, atomically: no DID is handed out
// twice, whatever the number of concurrent allocators. country (ISO 3166)
// and area (an area code, which needs a country) narrow the choice; ""
// means any. The DID is marked allocated: the caller provisions it as a
// number labelled pool=NAME (or gives it back with Unallocate).
// ErrPoolEmpty when no free DID matches; ErrNotFound for no such pool.
func (s *Store) Allocate(ctx context.Context, pool, country, area string) (string, error) {
	if _, err := routing.ParsePoolName(pool); err != nil {
		return "", err
	}
	country = strings.ToUpper(country)
	if country != "" && (len(country) != 2 || !isUpperAlpha(country)) {
		return "", fmt.Errorf("country %q: want an ISO 3166 two-letter code such as FR", country)
	}
	for _, r := range area {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("area code %q: want digits", area)
		}
	}
	if area != "" && country == "" {
		return "", fmt.Errorf("area code %s: a country is needed too", area)
	}
	prefix := ""
	switch {
	case area != "":
		prefix = country + "|" + area + "|"
	case country != "":
		prefix = country + "|"
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	r := binary.BigEndian.Uint64(rnd[:]) >> 12 // exact in a Lua double
	res, err := allocateScript.Run(ctx, s.rdb, []string{poolMetaKey(pool), poolFreeKey(pool), poolAllocKey(pool)}, prefix, r).StringSlice()
	if err != nil || len(res) == 0 {
		return "", fmt.Errorf("pool %s: allocate: %w: %v", pool, ErrUnavailable, err)
	}
	switch res[0] {
	case "nopool":
		return "", fmt.Errorf("pool %s: %w", pool, ErrNotFound)
	case "empty":
		what := ""
		if country != "" {
			what = " in " + country
			if area != "" {
				what += " area " + area
			}
		}
		return "", fmt.Errorf("pool %s: no free number%s: %w", pool, what, ErrPoolEmpty)
	}
	if len(res) != 2 {
		return "", fmt.Errorf("pool %s: allocate: %w", pool, ErrCorrupt)
	}
	return res[1], nil
}

// unallocateScript gives an allocated DID back to free. KEYS: allocated,
// free. ARGV: DID, member.
var unallocateScript = redis.NewScript(`
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then redis.call('ZADD', KEYS[2], 0, ARGV[2]) return 1 end
return 0
`)

// Unallocate gives back a DID that Allocate handed out but that was not
// provisioned after all. ErrNotFound when it is not allocated in the pool.
func (s *Store) Unallocate(ctx context.Context, pool, did string) error {
	n, err := unallocateScript.Run(ctx, s.rdb, []string{poolAllocKey(pool), poolFreeKey(pool)}, did, poolMember(did)).Int()
	if err != nil {
		return fmt.Errorf("pool %s: give back %s: %w: %w", pool, did, ErrUnavailable, err)
	}
	if n == 0 {
		return fmt.Errorf("pool %s: %s is not allocated: %w", pool, did, ErrNotFound)
	}
	return nil
}

func isUpperAlpha(s string) bool {
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
