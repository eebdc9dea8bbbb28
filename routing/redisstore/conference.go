package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

// Conference rooms. Every key of a room carries its name as the hash tag
// (one Cluster slot, so the scripts below are atomic):
//
//	vnum:conf:{NAME}         hash    spec (settings JSON), max, locked (1/0), seq (last member id)
//	vnum:conf:{NAME}:roster  hash    member id -> member JSON; "<id>:muted", "<id>:kick" (vnumctl's
//	                                 intents), "<id>:joined" (ms; absent while waiting for the moderator)
//	vnum:conf:{NAME}:live    zset    member id -> deadline (ms): a member not refreshed by its call is
//	                                 dropped from the roster after it (its node died); key TTL refreshed
//	vnum:conf:{NAME}:node    string  the node hosting the room; TTL refreshed while it lives

func roomKey(name string) string   { return "vnum:conf:{" + name + "}" }
func rosterKey(name string) string { return "vnum:conf:{" + name + "}:roster" }
func liveKey(name string) string   { return "vnum:conf:{" + name + "}:live" }
func roomNodeKey(name string) string {
	return "vnum:conf:{" + name + "}:node"
}

const roomPattern = "vnum:conf:{*}"

// The room key families join KeyFamilies (the TTL audit) from here, next
// to the keys they describe.
func init() {
	KeyFamilies = append(KeyFamilies,
		family("conference room", "vnum:conf:{NAME}", KeyConfig, "none: until removed", `^vnum:conf:\{[^}]+\}$`),
		family("conference roster", "vnum:conf:{NAME}:roster|live", KeyLive, "member lease, refreshed by the members' calls", `^vnum:conf:\{[^}]+\}:(roster|live)$`),
		family("conference host", "vnum:conf:{NAME}:node", KeyLive, "room lease, refreshed while the room lives", `^vnum:conf:\{[^}]+\}:node$`),
	)
}

// putRoomScript creates (ARGV[3] = "add") or replaces ("update") a
// room's settings, keeping its lock state and member sequence.
var putRoomScript = redis.NewScript(`
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[3] == 'add' and exists then return 'exists' end
if ARGV[3] == 'update' and not exists then return 'missing' end
redis.call('HSET', KEYS[1], 'spec', ARGV[1], 'max', ARGV[2])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'locked', ARGV[4]) end
return 'ok'
`)

// pruneLua drops the members whose deadline passed (KEYS[2] roster,
// KEYS[3] live; now in the local now).
const pruneLua = `
local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)
for _, id in ipairs(dead) do
  redis.call('HDEL', KEYS[2], id, id .. ':muted', id .. ':kick', id .. ':joined')
end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now) end
`

// joinScript adds a member: the lock and size checks and the id are one
// atomic step. KEYS: room, roster, live. ARGV: member JSON (id
// "__ID__"), now ms, ttl ms, moderator 1/0.
var joinScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'gone' end
local now = tonumber(ARGV[2])
` + pruneLua + `
if ARGV[4] ~= '1' and redis.call('HGET', KEYS[1], 'locked') == '1' then return 'locked' end
local max = tonumber(redis.call('HGET', KEYS[1], 'max') or '100')
if redis.call('ZCARD', KEYS[3]) >= max then return 'full' end
local id = tostring(redis.call('HINCRBY', KEYS[1], 'seq', 1))
local m = (string.gsub(ARGV[1], '"__ID__"', '"' .. id .. '"', 1))
redis.call('HSET', KEYS[2], id, m)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), id)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 'ok:' .. id
`)

// touchScript refreshes a member (and records when it joined the PBX
// room). KEYS: roster, live. ARGV: id, deadline ms, ttl ms, joined ms
// ("" to leave). It returns 0 when the member is gone from the roster.
var touchScript = redis.NewScript(`
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[1])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], ARGV[1] .. ':joined', ARGV[4]) end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`)

// restoreScript puts a member back in the roster as it was (after a
// store outage or failover lost it). KEYS: roster, live. ARGV: id, member
// JSON, deadline ms, ttl ms, joined ms ("" while waiting), muted 1/"".
var restoreScript = redis.NewScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], ARGV[1] .. ':joined', ARGV[5]) end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], ARGV[1] .. ':muted', ARGV[6]) end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
`)

// leaveScript removes a member and, when the roster is then empty,
// frees the room's node lock if this node holds it. KEYS: roster, live,
// node lock. ARGV: id, node, now ms. It returns the members left.
var leaveScript = redis.NewScript(`
local id = ARGV[1]
local now = tonumber(ARGV[3])
redis.call('HDEL', KEYS[1], id, id .. ':muted', id .. ':kick', id .. ':joined')
redis.call('ZREM', KEYS[2], id)
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
for _, d in ipairs(dead) do
  redis.call('HDEL', KEYS[1], d, d .. ':muted', d .. ':kick', d .. ':joined')
end
if #dead > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now) end
local n = redis.call('ZCARD', KEYS[2])
if n == 0 and redis.call('GET', KEYS[3]) == ARGV[2] then redis.call('DEL', KEYS[3]) end
return n
`)

// claimScript takes or refreshes the room's node lock. KEYS: node lock,
// live. ARGV: node, ttl ms, now ms. It returns the owner: this node, or
// the one that holds the room. A lock whose room has no live member left
// is stale (its node let the room go without saying) and is taken over.
var claimScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and cur ~= ARGV[1] and redis.call('ZCOUNT', KEYS[2], ARGV[3], '+inf') > 0 then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ARGV[1]
`)

// intentScript sets (ARGV[3] "1") or clears ("") a member's intent field
// (ARGV[2]: muted, kick), only while the member is in the roster.
var intentScript = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1] .. ':' .. ARGV[2])
else redis.call('HSET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], ARGV[3]) end
return 1
`)

var lockScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'locked', ARGV[1])
return 1
`)

// AddRoom creates a conference room. Invalid settings are refused (the
// error names the field, wraps routing.ErrBadRoom) and nothing is
// written; an existing room is ErrExists.
func (s *Store) AddRoom(ctx context.Context, r routing.Room) error {
	return s.putRoom(ctx, r, "add")
}

// UpdateRoom replaces a room's settings (its lock state and live roster
// stay). A missing room is ErrNotFound.
func (s *Store) UpdateRoom(ctx context.Context, r routing.Room) error {
	return s.putRoom(ctx, r, "update")
}

func (s *Store) putRoom(ctx context.Context, r routing.Room, mode string) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("room: %w", err)
	}
	locked := ""
	if mode == "add" {
		locked = "0"
		if r.Locked {
			locked = "1"
		}
	}
	r.Locked = false // kept in its own field (vnumctl conference lock)
	spec, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("room %s: %w", r.Name, err)
	}
	res, err := putRoomScript.Run(ctx, s.rdb, []string{roomKey(r.Name)}, spec, r.MaxParticipants, mode, locked).Text()
	if err != nil {
		return fmt.Errorf("room %s: %w: %w", r.Name, ErrUnavailable, err)
	}
	switch res {
	case "exists":
		return fmt.Errorf("room %s: %w", r.Name, ErrExists)
	case "missing":
		return fmt.Errorf("room %s: %w", r.Name, ErrNotFound)
	}
	return nil
}

// GetRoom reads a room's settings (Locked included).
func (s *Store) GetRoom(ctx context.Context, name string) (routing.Room, error) {
	if err := routing.ValidateRoomName(name); err != nil {
		return routing.Room{}, fmt.Errorf("room: %w", err)
	}
	m, err := s.rdb.HMGet(ctx, roomKey(name), "spec", "locked").Result()
	if err != nil {
		return routing.Room{}, fmt.Errorf("room %s: %w: %w", name, ErrUnavailable, err)
	}
	spec, _ := m[0].(string)
	if spec == "" {
		return routing.Room{}, fmt.Errorf("room %s: %w: %w", name, ErrNotFound, routing.ErrNoSuchRoom)
	}
	var r routing.Room
	if err := json.Unmarshal([]byte(spec), &r); err != nil {
		return routing.Room{}, fmt.Errorf("room %s: %w: %w", name, ErrCorrupt, err)
	}
	r.Locked = m[1] == "1"
	return r, nil
}

// ListRooms returns every room's settings, by name.
func (s *Store) ListRooms(ctx context.Context) ([]routing.Room, error) {
	keys, err := s.scan(ctx, roomPattern)
	if err != nil {
		return nil, err
	}
	out := make([]routing.Room, 0, len(keys))
	for _, k := range keys {
		name := strings.TrimSuffix(strings.TrimPrefix(k, "vnum:conf:{"), "}")
		r, err := s.GetRoom(ctx, name)
		if errors.Is(err, ErrNotFound) || errors.Is(err, routing.ErrBadRoom) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b routing.Room) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// RemoveRoom deletes a room's settings: nobody new can join; callers in
// it now stay until they leave.
func (s *Store) RemoveRoom(ctx context.Context, name string) error {
	if err := routing.ValidateRoomName(name); err != nil {
		return fmt.Errorf("room: %w", err)
	}
	n, err := s.rdb.Del(ctx, roomKey(name)).Result()
	if err != nil {
		return fmt.Errorf("room %s: %w: %w", name, ErrUnavailable, err)
	}
	if n == 0 {
		return fmt.Errorf("room %s: %w", name, ErrNotFound)
	}
	return nil
}

// LockRoom locks (only moderators may enter) or unlocks a room.
func (s *Store) LockRoom(ctx context.Context, name string, locked bool) error {
	if err := routing.ValidateRoomName(name); err != nil {
		return fmt.Errorf("room: %w", err)
	}
	v := "0"
	if locked {
		v = "1"
	}
	n, err := lockScript.Run(ctx, s.rdb, []string{roomKey(name)}, v).Int()
	if err != nil {
		return fmt.Errorf("room %s: %w: %w", name, ErrUnavailable, err)
	}
	if n == 0 {
		return fmt.Errorf("room %s: %w", name, ErrNotFound)
	}
	return nil
}

// ClaimRoom makes node the room's host for ttl (or refreshes its claim).
// It returns the host: node, or the node that hosts the room now.
func (s *Store) ClaimRoom(ctx context.Context, name, node string, ttl time.Duration) (string, error) {
	owner, err := claimScript.Run(ctx, s.rdb, []string{roomNodeKey(name), liveKey(name)}, node, ttl.Milliseconds(), s.now().UnixMilli()).Text()
	if err != nil {
		return "", fmt.Errorf("room %s: claim: %w: %w", name, ErrUnavailable, err)
	}
	return owner, nil
}

// RoomHost returns the node hosting a room now ("" when none).
func (s *Store) RoomHost(ctx context.Context, name string) (string, error) {
	v, err := s.rdb.Get(ctx, roomNodeKey(name)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("room %s: host: %w: %w", name, ErrUnavailable, err)
	}
	return v, nil
}

// JoinRoom adds a member to a room's roster, atomically checking the lock
// (moderators may enter a locked room) and the size: routing.ErrRoomLocked,
// routing.ErrRoomFull, or ErrNotFound for a room removed meanwhile. The
// member is dropped after ttl unless TouchMember refreshes it.
func (s *Store) JoinRoom(ctx context.Context, name string, m routing.RoomMember, ttl time.Duration) (routing.RoomMember, error) {
	m.ID, m.Muted, m.Kicked, m.Joined = "__ID__", false, false, time.Time{}
	b, err := json.Marshal(m)
	if err != nil {
		return m, fmt.Errorf("room %s: %w", name, err)
	}
	mod := "0"
	if m.Moderator {
		mod = "1"
	}
	res, err := joinScript.Run(ctx, s.rdb, []string{roomKey(name), rosterKey(name), liveKey(name)},
		b, s.now().UnixMilli(), ttl.Milliseconds(), mod).Text()
	if err != nil {
		return m, fmt.Errorf("room %s: join: %w: %w", name, ErrUnavailable, err)
	}
	switch {
	case res == "gone":
		return m, fmt.Errorf("room %s: %w: %w", name, ErrNotFound, routing.ErrNoSuchRoom)
	case res == "locked":
		return m, fmt.Errorf("room %s: %w", name, routing.ErrRoomLocked)
	case res == "full":
		return m, fmt.Errorf("room %s: %w", name, routing.ErrRoomFull)
	case strings.HasPrefix(res, "ok:"):
		m.ID = res[3:]
		return m, nil
	}
	return m, fmt.Errorf("room %s: join: %w: reply %q", name, ErrCorrupt, res)
}

// TouchMember refreshes a member for another ttl and, with joined set,
// records when it entered the PBX room. It returns false when the member
// is no longer in the roster.
func (s *Store) TouchMember(ctx context.Context, name, id string, joined time.Time, ttl time.Duration) (bool, error) {
	j := ""
	if !joined.IsZero() {
		j = strconv.FormatInt(joined.UnixMilli(), 10)
	}
	n, err := touchScript.Run(ctx, s.rdb, []string{rosterKey(name), liveKey(name)}, id,
		s.now().Add(ttl).UnixMilli(), ttl.Milliseconds(), j).Int()
	if err != nil {
		return false, fmt.Errorf("room %s: refresh member %s: %w: %w", name, id, ErrUnavailable, err)
	}
	return n == 1, nil
}

// RestoreMember puts a live member back in the roster with its id (its
// call found it missing: the store lost it in an outage or a failover).
// No size or lock check: the caller is in the room already. m.Muted is
// kept (as applied on the PBX); m.Kicked is not.
func (s *Store) RestoreMember(ctx context.Context, name string, m routing.RoomMember, ttl time.Duration) error {
	id, joined, muted := m.ID, "", ""
	if !m.Joined.IsZero() {
		joined = strconv.FormatInt(m.Joined.UnixMilli(), 10)
	}
	if m.Muted {
		muted = "1"
	}
	m.Muted, m.Kicked, m.Joined = false, false, time.Time{}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("room %s: %w", name, err)
	}
	if err := restoreScript.Run(ctx, s.rdb, []string{rosterKey(name), liveKey(name)}, id, b,
		s.now().Add(ttl).UnixMilli(), ttl.Milliseconds(), joined, muted).Err(); err != nil {
		return fmt.Errorf("room %s: restore member %s: %w: %w", name, id, ErrUnavailable, err)
	}
	return nil
}

// LeaveRoom removes a member; when nobody is left, the room's node lock
// is freed (if node holds it). It returns how many members are left.
func (s *Store) LeaveRoom(ctx context.Context, name, id, node string) (int, error) {
	n, err := leaveScript.Run(ctx, s.rdb, []string{rosterKey(name), liveKey(name), roomNodeKey(name)}, id, node, s.now().UnixMilli()).Int()
	if err != nil {
		return 0, fmt.Errorf("room %s: leave %s: %w: %w", name, id, ErrUnavailable, err)
	}
	return n, nil
}

// Roster lists a room's live members, by id.
func (s *Store) Roster(ctx context.Context, name string) ([]routing.RoomMember, error) {
	var all *redis.MapStringStringCmd
	var live *redis.ZSliceCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		all = p.HGetAll(ctx, rosterKey(name))
		live = p.ZRangeByScoreWithScores(ctx, liveKey(name), &redis.ZRangeBy{Min: strconv.FormatInt(s.now().UnixMilli()+1, 10), Max: "+inf"})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("room %s: roster: %w: %w", name, ErrUnavailable, err)
	}
	m := all.Val()
	out := make([]routing.RoomMember, 0, len(live.Val()))
	for _, z := range live.Val() {
		id, _ := z.Member.(string)
		raw, ok := m[id]
		if !ok {
			continue
		}
		var rm routing.RoomMember
		if err := json.Unmarshal([]byte(raw), &rm); err != nil {
			continue
		}
		rm.ID = id
		rm.Muted = m[id+":muted"] == "1"
		rm.Kicked = m[id+":kick"] == "1"
		if ms, err := strconv.ParseInt(m[id+":joined"], 10, 64); err == nil {
			rm.Joined = time.UnixMilli(ms).UTC()
		}
		out = append(out, rm)
	}
	slices.SortFunc(out, func(a, b routing.RoomMember) int {
		x, _ := strconv.Atoi(a.ID)
		y, _ := strconv.Atoi(b.ID)
		return x - y
	})
	return out, nil
}

// MuteMember asks for a member to be muted (on) or unmuted: the member's
// own call applies it within a fraction of a second, on its node.
func (s *Store) MuteMember(ctx context.Context, name, id string, on bool) error {
	v := ""
	if on {
		v = "1"
	}
	return s.intent(ctx, name, id, "muted", v)
}

// KickMember asks for a member to be hung up (by its own call, on its
// node).
func (s *Store) KickMember(ctx context.Context, name, id string) error {
	return s.intent(ctx, name, id, "kick", "1")
}

func (s *Store) intent(ctx context.Context, name, id, field, v string) error {
	if err := routing.ValidateRoomName(name); err != nil {
		return fmt.Errorf("room: %w", err)
	}
	if _, err := strconv.ParseUint(id, 10, 32); err != nil {
		return fmt.Errorf("room %s: member: want the number conference show lists: %w", name, ErrNotFound)
	}
	n, err := intentScript.Run(ctx, s.rdb, []string{rosterKey(name)}, id, field, v).Int()
	if err != nil {
		return fmt.Errorf("room %s: member %s: %w: %w", name, id, ErrUnavailable, err)
	}
	if n == 0 {
		return fmt.Errorf("room %s: member %s: %w", name, id, ErrNotFound)
	}
	return nil
}
