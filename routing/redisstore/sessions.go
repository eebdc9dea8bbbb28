package redisstore

// Masked sessions through pooled proxy numbers.
//
// A session joins two or more participants through a proxy number taken
// from a pool. One proxy number P serves several sessions at once as long
// as their participants differ, because a call is routed by (P, caller):
// the decision script reads vnum:{P}:sess[caller] in its round trip.
//
// Creating a session prefers a number already serving sessions of the pool
// (vnum:pool:{NAME}:proxies) and takes a free one (Allocate) only when none
// fits; the number is then provisioned as a Number labelled pool=NAME,
// proxy=1, with no route. Adding the participants to P is one script on
// P's hash tag that fails when any of them is already in an open session
// on P, or when P is being handed back.
//
// When P's last session closes (CloseSession or Sweep), P goes back to
// its pool's free numbers (no quarantine: nobody owned it). The hand-back
// cannot race a new session on P: the script that finds P empty marks it
// closing (the add script refuses a closing or unprovisioned P), the
// marker's token makes exactly one closer remove the number and give the
// DID back, and the number is removed before the DID is free again.
//
//	vnum:{P}:sess              participant -> SessionLeg.Encode(), "!closing" -> token
//	vnum:session:{ID}          the session record (TTL: its end + sessionMargin)
//	vnum:pool:{NAME}:sessions  open sessions by end (ms), for Sweep and list
//	vnum:pool:{NAME}:proxies   numbers serving sessions

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

// sessionMargin is how long session keys outlive the session's end, so
// Sweep finds them after it.
const sessionMargin = time.Hour

// closingTTL bounds the life of a hand-back marker left by a closer that
// died (Sweep normally finishes the hand-back long before).
const closingTTL = 7 * 24 * time.Hour

// createTries bounds the rounds of CreateSession under contention.
const createTries = 8

func sessionKey(id string) string        { return "vnum:session:{" + id + "}" }
func poolSessionsKey(pool string) string { return "vnum:pool:{" + pool + "}:sessions" }
func poolProxiesKey(pool string) string  { return "vnum:pool:{" + pool + "}:proxies" }
func randomToken() string                { return routing.NewSessionID() }
func msString(t time.Time) string        { return strconv.FormatInt(t.UnixMilli(), 10) }
func decodeLeg(v any) (*routing.SessionLeg, error) {
	str, _ := v.(string)
	if str == "" {
		return nil, nil
	}
	l, err := routing.ParseSessionLeg(str)
	if err != nil {
		return nil, fmt.Errorf("decide: %w: %w", ErrCorrupt, err)
	}
	return l, nil
}

// attachScript adds a session's participants to a proxy number, unless
// one of them is in an open session there already, the number is being
// handed back, or it is not provisioned (any more).
// KEYS: 1 sess, 2 num. ARGV: 1 now (ms), 2 key TTL (ms), 3 the entry,
// 4.. participants. Returns {'ok'} | {'taken', participant} | {'closing'} |
// {'gone'}.
var attachScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2]) == 0 then return {'gone'} end
if redis.call('HEXISTS', KEYS[1], '!closing') == 1 then return {'closing'} end
local now = tonumber(ARGV[1])
for i = 4, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and (tonumber(string.match(v, '^(%d+)|')) or 0) > now then return {'taken', ARGV[i]} end
end
for i = 4, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], ARGV[3]) end
local ttl = tonumber(ARGV[2])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return {'ok'}
`)

// detachScript removes a session's participants from a proxy number (only
// those still mapped to that session), drops expired entries, and when no
// open session is left marks the number closing.
// KEYS: 1 sess, 2 num. ARGV: 1 now (ms), 2 session id ("" for none),
// 3 a new token, 4 marker TTL (ms), 5.. participants.
// Returns {'busy', open entries} | {'closing', token} | {'gone', ”}.
var detachScript = redis.NewScript(`
local now = tonumber(ARGV[1])
for i = 5, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and ARGV[2] ~= '' and string.match(v, '^%d+|([^|]*)|') == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
local all = redis.call('HGETALL', KEYS[1])
local live, closing = 0, false
for i = 1, #all, 2 do
  local f, v = all[i], all[i + 1]
  if f == '!closing' then
    closing = v
  elseif (tonumber(string.match(v, '^(%d+)|')) or 0) > now then
    live = live + 1
  else
    redis.call('HDEL', KEYS[1], f)
  end
end
if live > 0 then return {'busy', live} end
if closing then return {'closing', closing} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'gone', ''} end
redis.call('HSET', KEYS[1], '!closing', ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return {'closing', ARGV[3]}
`)

// dropScript removes a closing proxy number (its number, lists, slots and
// session map), only for the closer holding the marker's token.
// KEYS: 1 sess, 2 num, 3 block, 4 allow, 5 slots. ARGV: 1 token.
// Returns 1 when it removed them.
var dropScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], '!closing') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return 1
`)

// CreateSession opens a masked session: it finds a proxy number of the
// pool on which none of the participants is in an open session (reusing
// a number that already serves sessions when one fits, else taking a free
// one), maps the participants on it and records the session. Bad specs
// wrap routing.ErrBadSession (or routing.ErrBadPoolName); ErrNotFound for
// no such pool; ErrPoolEmpty when no number of the pool can serve these
// participants. Nothing is written when it fails.
func (s *Store) CreateSession(ctx context.Context, spec routing.SessionSpec) (routing.Session, error) {
	if err := spec.Validate(); err != nil {
		return routing.Session{}, err
	}
	pool := spec.Pool
	n, err := s.rdb.Exists(ctx, poolMetaKey(pool)).Result()
	if err != nil {
		return routing.Session{}, fmt.Errorf("session: pool %s: %w: %w", pool, ErrUnavailable, err)
	}
	if n == 0 {
		return routing.Session{}, fmt.Errorf("session: pool %s: %w", pool, ErrNotFound)
	}
	var cc, area string
	switch first := spec.Participants[0]; spec.Match {
	case routing.MatchCountry:
		cc = routing.CountryOf(first)
	case routing.MatchArea:
		cc, area = routing.CountryOf(first), routing.AreaCode(first)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	sess := routing.Session{ID: routing.NewSessionID(), Pool: pool, Participants: slices.Clone(spec.Participants),
		Created: now, ExpiresAt: now.Add(spec.TTL).Truncate(time.Millisecond), Confirm: spec.Confirm}
	tried := map[string]bool{}
	for range createTries {
		proxies, err := s.rdb.SMembers(ctx, poolProxiesKey(pool)).Result()
		if err != nil {
			return routing.Session{}, fmt.Errorf("session: pool %s: proxy numbers: %w: %w", pool, ErrUnavailable, err)
		}
		slices.Sort(proxies)
		for _, p := range proxies {
			if tried[p] || cc != "" && routing.CountryOf(p) != cc || area != "" && routing.AreaCode(p) != area {
				continue
			}
			ok, err := s.attach(ctx, p, sess, now)
			if err != nil {
				return routing.Session{}, err
			}
			if ok {
				return s.record(ctx, sess, p, now)
			}
			tried[p] = true
		}
		p, err := s.Allocate(ctx, pool, cc, area)
		if errors.Is(err, ErrPoolEmpty) {
			return routing.Session{}, fmt.Errorf("session: pool %s: no proxy number free for %s%s: %w",
				pool, strings.Join(spec.Participants, ", "), matchNote(cc, area), ErrPoolEmpty)
		}
		if err != nil {
			return routing.Session{}, fmt.Errorf("session: %w", err)
		}
		if err := s.provisionProxy(ctx, pool, p); err != nil {
			return routing.Session{}, err
		}
		ok, err := s.attach(ctx, p, sess, now)
		if err != nil {
			return routing.Session{}, err
		}
		if ok {
			return s.record(ctx, sess, p, now)
		}
		// Another session took it first, or Sweep found it idle and is
		// handing it back: try again.
		tried[p] = true
	}
	return routing.Session{}, fmt.Errorf("session: pool %s: no proxy number after %d tries (contention): %w", pool, createTries, ErrUnavailable)
}

func matchNote(cc, area string) string {
	switch {
	case area != "":
		return " in " + cc + " area " + area
	case cc != "":
		return " in " + cc
	}
	return ""
}

// provisionProxy makes a freshly allocated DID a proxy number.
func (s *Store) provisionProxy(ctx context.Context, pool, did string) error {
	n := routing.Number{DID: did, Owner: "sessions", Labels: map[string]string{routing.LabelPool: pool, routing.LabelProxy: "1"},
		Route: routing.Route{Action: routing.RouteReject}, Reject: routing.RejectNotInService}
	if err := s.AddNumber(ctx, n); err != nil {
		if uerr := s.Unallocate(ctx, pool, did); uerr != nil {
			s.log.Warn("give back an unused pool number", "did", did, "pool", pool, "err", uerr)
		}
		return fmt.Errorf("session: proxy number: %w", err)
	}
	if err := s.rdb.SAdd(ctx, poolProxiesKey(pool), did).Err(); err != nil {
		// Not reusable for other sessions, but it works: the number is
		// provisioned and handed back when its sessions close.
		s.log.Warn("record proxy number", "did", did, "pool", pool, "err", err)
	}
	return nil
}

// attach maps the session's participants on proxy p; false when p cannot
// take them.
func (s *Store) attach(ctx context.Context, p string, sess routing.Session, now time.Time) (bool, error) {
	leg := routing.SessionLeg{ID: sess.ID, ExpiresAt: sess.ExpiresAt, Confirm: sess.Confirm, Participants: sess.Participants}
	args := make([]any, 0, 3+len(sess.Participants))
	args = append(args, now.UnixMilli(), sess.ExpiresAt.Sub(now).Milliseconds()+sessionMargin.Milliseconds(), leg.Encode())
	for _, x := range sess.Participants {
		args = append(args, x)
	}
	res, err := attachScript.Run(ctx, s.rdb, []string{sessKey(p), numKey(p)}, args...).StringSlice()
	if err != nil || len(res) == 0 {
		return false, fmt.Errorf("session: proxy %s: %w: %v", p, ErrUnavailable, err)
	}
	return res[0] == "ok", nil
}

// record writes the session record and its index entry.
func (s *Store) record(ctx context.Context, sess routing.Session, p string, now time.Time) (routing.Session, error) {
	sess.Proxy = p
	confirm := "0"
	if sess.Confirm {
		confirm = "1"
	}
	_, err := s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		k := sessionKey(sess.ID)
		pl.HSet(ctx, k, "pool", sess.Pool, "proxy", p, "participants", strings.Join(sess.Participants, ","),
			"created_ms", msString(sess.Created), "expires_ms", msString(sess.ExpiresAt), "confirm", confirm)
		pl.PExpireAt(ctx, k, sess.ExpiresAt.Add(sessionMargin))
		pl.ZAdd(ctx, poolSessionsKey(sess.Pool), redis.Z{Score: float64(sess.ExpiresAt.UnixMilli()), Member: sess.ID})
		return nil
	})
	if err != nil {
		// Undo the mapping so the participants are not held on p.
		if _, derr := s.closeSession(ctx, sess, now); derr != nil {
			s.log.Warn("undo a session not recorded", "session", sess.ID, "proxy", p, "err", derr)
		}
		return routing.Session{}, fmt.Errorf("session: record %s: %w: %w", sess.ID, ErrUnavailable, err)
	}
	s.log.Info("session opened", "session", sess.ID, "pool", sess.Pool, "did", p, "participants", len(sess.Participants),
		"expires", sess.ExpiresAt)
	return sess, nil
}

// GetSession reads a session; ErrNotFound when there is none with that id
// (never created, closed, or swept). A session past its end that Sweep
// has not closed yet is returned: Session.Open says it routes no call.
func (s *Store) GetSession(ctx context.Context, id string) (routing.Session, error) {
	m, err := s.rdb.HGetAll(ctx, sessionKey(id)).Result()
	if err != nil {
		return routing.Session{}, fmt.Errorf("session %s: %w: %w", id, ErrUnavailable, err)
	}
	if len(m) == 0 {
		return routing.Session{}, fmt.Errorf("session %s: %w", id, ErrNotFound)
	}
	return parseSession(id, m)
}

func parseSession(id string, m map[string]string) (routing.Session, error) {
	created, err1 := strconv.ParseInt(m["created_ms"], 10, 64)
	expires, err2 := strconv.ParseInt(m["expires_ms"], 10, 64)
	ps := strings.Split(m["participants"], ",")
	if err1 != nil || err2 != nil || m["pool"] == "" || m["proxy"] == "" || len(ps) < 2 {
		return routing.Session{}, fmt.Errorf("session %s: %w", id, ErrCorrupt)
	}
	return routing.Session{ID: id, Pool: m["pool"], Proxy: m["proxy"], Participants: ps,
		Created: time.UnixMilli(created).UTC(), ExpiresAt: time.UnixMilli(expires).UTC(), Confirm: m["confirm"] == "1"}, nil
}

// ListSessions returns the sessions of a pool ("" for every pool) that
// are open or due for Sweep, soonest end first. ErrNotFound for no such
// pool.
func (s *Store) ListSessions(ctx context.Context, pool string) ([]routing.Session, error) {
	pools := []string{pool}
	if pool == "" {
		var err error
		if pools, err = s.poolNames(ctx); err != nil {
			return nil, err
		}
	} else {
		if _, err := routing.ParsePoolName(pool); err != nil {
			return nil, err
		}
		n, err := s.rdb.Exists(ctx, poolMetaKey(pool)).Result()
		if err != nil {
			return nil, fmt.Errorf("sessions: pool %s: %w: %w", pool, ErrUnavailable, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("sessions: pool %s: %w", pool, ErrNotFound)
		}
	}
	out := []routing.Session{}
	for _, p := range pools {
		ids, err := s.rdb.ZRange(ctx, poolSessionsKey(p), 0, -1).Result()
		if err != nil {
			return nil, fmt.Errorf("sessions: pool %s: %w: %w", p, ErrUnavailable, err)
		}
		cmds := make([]*redis.MapStringStringCmd, len(ids))
		_, err = s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for i, id := range ids {
				cmds[i] = pl.HGetAll(ctx, sessionKey(id))
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("sessions: pool %s: %w: %w", p, ErrUnavailable, err)
		}
		for i, c := range cmds {
			if len(c.Val()) == 0 {
				continue // closed meanwhile
			}
			sess, err := parseSession(ids[i], c.Val())
			if err != nil {
				return nil, err
			}
			out = append(out, sess)
		}
	}
	slices.SortStableFunc(out, func(a, b routing.Session) int { return a.ExpiresAt.Compare(b.ExpiresAt) })
	return out, nil
}

// CloseSession closes a session now: its participants' calls to the
// proxy number stop being connected, and the proxy number goes back to
// its pool when no other session uses it. ErrNotFound when there is no
// such session.
func (s *Store) CloseSession(ctx context.Context, id string) error {
	sess, err := s.GetSession(ctx, id)
	if err != nil {
		return err
	}
	_, err = s.closeSession(ctx, sess, s.now())
	return err
}

// closeSession unmaps the session's participants, deletes its record and
// hands the proxy number back when it is left without a session. It
// reports whether the proxy number went back to the pool.
func (s *Store) closeSession(ctx context.Context, sess routing.Session, now time.Time) (bool, error) {
	st, token, err := s.detach(ctx, sess.Proxy, sess.ID, sess.Participants, now)
	if err != nil {
		return false, err
	}
	_, err = s.rdb.Pipelined(ctx, func(pl redis.Pipeliner) error {
		pl.Del(ctx, sessionKey(sess.ID))
		pl.ZRem(ctx, poolSessionsKey(sess.Pool), sess.ID)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("session %s: close: %w: %w", sess.ID, ErrUnavailable, err)
	}
	s.log.Info("session closed", "session", sess.ID, "pool", sess.Pool, "did", sess.Proxy)
	if st != "closing" {
		return false, nil
	}
	return s.handBack(ctx, sess.Pool, sess.Proxy, token)
}

// detach runs detachScript on proxy p.
func (s *Store) detach(ctx context.Context, p, id string, participants []string, now time.Time) (status, token string, err error) {
	args := make([]any, 0, 4+len(participants))
	args = append(args, now.UnixMilli(), id, randomToken(), closingTTL.Milliseconds())
	for _, x := range participants {
		args = append(args, x)
	}
	res, err := detachScript.Run(ctx, s.rdb, []string{sessKey(p), numKey(p)}, args...).Slice()
	if err != nil || len(res) != 2 {
		return "", "", fmt.Errorf("session: proxy %s: detach: %w: %v", p, ErrUnavailable, err)
	}
	status, _ = res[0].(string)
	token, _ = res[1].(string)
	return status, token, nil
}

// handBack gives a proxy number marked closing (with token) back to its
// pool: it stops being offered for reuse, its number is removed, and its
// DID is free again. Only the closer holding the marker's token removes
// the number and frees the DID, so it is freed once, and never while a
// session is on it.
func (s *Store) handBack(ctx context.Context, pool, p, token string) (bool, error) {
	if err := s.rdb.SRem(ctx, poolProxiesKey(pool), p).Err(); err != nil {
		return false, fmt.Errorf("session: proxy %s: hand back: %w: %w", p, ErrUnavailable, err)
	}
	n, err := dropScript.Run(ctx, s.rdb, []string{sessKey(p), numKey(p), blockKey(p), allowKey(p), slotsKey(p)}, token).Int()
	if err != nil {
		return false, fmt.Errorf("session: proxy %s: hand back: %w: %w", p, ErrUnavailable, err)
	}
	if s.specs != nil {
		s.specs.drop(p)
	}
	if n == 0 {
		return false, nil // another closer holds it
	}
	if err := s.Unallocate(ctx, pool, p); err != nil {
		return false, fmt.Errorf("session: proxy %s: %w", p, err)
	}
	s.log.Info("proxy number back in its pool", "did", p, "pool", pool)
	return true, nil
}

// SweptSessions says what one SweepSessions did.
type SweptSessions struct {
	// Closed: sessions whose end had passed.
	Closed []string `json:"closed"`
	// Returned: proxy numbers back among their pool's free numbers.
	Returned []string `json:"returned"`
}

// SweepSessions closes the sessions whose end is at or before now (their
// calls were already refused since then) and hands back every proxy
// number left without an open session (including one a closer that died
// half-way left behind). Sweep runs it. Errors on one session do not stop
// the others; they are returned joined.
func (s *Store) SweepSessions(ctx context.Context, now time.Time) (SweptSessions, error) {
	out := SweptSessions{Closed: []string{}, Returned: []string{}}
	pools, err := s.poolNames(ctx)
	if err != nil {
		return out, err
	}
	var errs []error
	for _, pool := range pools {
		due, err := s.rdb.ZRangeByScore(ctx, poolSessionsKey(pool), &redis.ZRangeBy{Min: "-inf", Max: msString(now)}).Result()
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep sessions of pool %s: %w: %w", pool, ErrUnavailable, err))
			continue
		}
		for _, id := range due {
			sess, err := s.GetSession(ctx, id)
			if errors.Is(err, ErrNotFound) {
				// Its record outlived the sweep's absence (TTL): only the
				// index entry is left; the proxy pass below cleans its
				// number.
				if err := s.rdb.ZRem(ctx, poolSessionsKey(pool), id).Err(); err != nil {
					errs = append(errs, fmt.Errorf("sweep session %s: %w: %w", id, ErrUnavailable, err))
				}
				continue
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
			back, err := s.closeSession(ctx, sess, now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out.Closed = append(out.Closed, id)
			if back {
				out.Returned = append(out.Returned, sess.Proxy)
			}
		}
		proxies, err := s.rdb.SMembers(ctx, poolProxiesKey(pool)).Result()
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep proxy numbers of pool %s: %w: %w", pool, ErrUnavailable, err))
			continue
		}
		slices.Sort(proxies)
		for _, p := range proxies {
			st, token, err := s.detach(ctx, p, "", nil, now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if st != "closing" {
				continue
			}
			back, err := s.handBack(ctx, pool, p, token)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if back {
				out.Returned = append(out.Returned, p)
			}
		}
	}
	return out, errors.Join(errs...)
}
