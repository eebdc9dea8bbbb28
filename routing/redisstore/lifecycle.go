package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

// Purged counts what a release deleted.
type Purged struct {
	Number         bool `json:"number"` // the number's record (route, owner, limits)
	BlockEntries   int  `json:"block_entries"`
	AllowEntries   int  `json:"allow_entries"`
	Slots          int  `json:"slots"`
	MinuteCounters int  `json:"minute_counters"`
	CDRs           int  `json:"cdrs"`
	Recordings     int  `json:"recordings"` // recording and voicemail metadata
	// FilesQueued: recording and voicemail files queued for deletion from
	// the PBX (vnumd's sweep deletes them: DrainDeletions).
	FilesQueued int `json:"files_queued"`
	SMSThreads  int `json:"sms_threads"`
	Webhooks    int `json:"webhooks"` // the number's own endpoints (they belong to its owner)
}

// Released says what happened to a released number.
type Released struct {
	DID    string    `json:"did"`
	Pool   string    `json:"pool"`
	FreeAt time.Time `json:"free_at"` // end of its quarantine
	Purged Purged    `json:"purged"`
}

// quarantineScript moves a DID from allocated to quarantine. KEYS: meta,
// allocated, quarantine. ARGV: 1 DID, 2 now (ms), 3 check only (1/0).
// A DID already in quarantine keeps its end (a retried release). Returns
// {status, free at (ms)}.
var quarantineScript = redis.NewScript(`
local co = redis.call('HGET', KEYS[1], 'cooloff_ms')
if not co then return {'nopool', 0} end
local q = redis.call('ZSCORE', KEYS[3], ARGV[1])
if q then return {'ok', tonumber(q)} end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 0 then return {'notmember', 0} end
local at = tonumber(ARGV[2]) + tonumber(co)
if ARGV[3] == '1' then return {'ok', at} end
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[3], at, ARGV[1])
return {'ok', at}
`)

// ReleaseNumber takes a number out of service now: it is marked quarantined (its
// calls stop at once), enters its pool's quarantine for the pool's
// cool-off, and everything the store holds about it is purged: the number
// (route, owner, limits), its block and allow lists, concurrency slots,
// minute counters, its CDR stream entries and its recording/voicemail
// metadata; the recording files are queued for deletion from the PBX
// (vnumd's sweep deletes them). A number not
// allocated from a pool gets ErrNoPool and is left untouched.
func (s *Store) ReleaseNumber(ctx context.Context, did string) (Released, error) {
	n, err := s.GetNumber(ctx, did)
	if err != nil {
		return Released{}, err
	}
	return s.release(ctx, n, s.now())
}

func (s *Store) release(ctx context.Context, n routing.Number, now time.Time) (Released, error) {
	pool := n.Labels[routing.LabelPool]
	quarantine := func(check bool) (time.Time, error) { return s.quarantine(ctx, n, pool, now, check) }
	// Check first, so a number that cannot go back to its pool is left
	// as it is.
	if _, err := quarantine(true); err != nil {
		return Released{}, err
	}
	// Calls stop now; a release interrupted after this point is finished
	// by the next Sweep (the number stays quarantined meanwhile).
	if n.State != routing.StateQuarantined {
		q := n
		q.State = routing.StateQuarantined
		if err := s.UpdateNumber(ctx, q); err != nil {
			return Released{}, err
		}
	}
	freeAt, err := quarantine(false)
	if err != nil {
		return Released{}, err
	}
	p, err := s.purge(ctx, n.DID)
	if err != nil {
		return Released{}, err
	}
	s.log.Info("number released", "did", n.DID, "pool", pool, "free_at", freeAt)
	return Released{DID: n.DID, Pool: pool, FreeAt: freeAt, Purged: p}, nil
}

// quarantine runs quarantineScript for n (check: only say whether it could).
func (s *Store) quarantine(ctx context.Context, n routing.Number, pool string, now time.Time, check bool) (time.Time, error) {
	if pool == "" {
		return time.Time{}, fmt.Errorf("number %s: %w (no %q label): remove it instead", n.DID, ErrNoPool, routing.LabelPool)
	}
	if _, err := routing.ParsePoolName(pool); err != nil {
		return time.Time{}, fmt.Errorf("number %s: %w", n.DID, err)
	}
	keys := []string{poolMetaKey(pool), poolAllocKey(pool), poolQuarKey(pool)}
	flag := "0"
	if check {
		flag = "1"
	}
	res, err := quarantineScript.Run(ctx, s.rdb, keys, n.DID, now.UnixMilli(), flag).Slice()
	if err != nil || len(res) != 2 {
		return time.Time{}, fmt.Errorf("release %s: %w: %v", n.DID, ErrUnavailable, err)
	}
	at, _ := res[1].(int64)
	switch res[0] {
	case "nopool":
		return time.Time{}, fmt.Errorf("number %s: pool %s: %w", n.DID, pool, ErrNotFound)
	case "notmember":
		return time.Time{}, fmt.Errorf("number %s: not allocated from pool %s: %w", n.DID, pool, ErrNoPool)
	}
	return time.UnixMilli(at).UTC(), nil
}

// cdrPurgeScript deletes, from one chunk of the CDR stream, the entries of
// one DID. KEYS: the stream. ARGV: 1 start id, 2 chunk size, 3 DID.
// Returns {entries read, entries deleted, last id read}.
var cdrPurgeScript = redis.NewScript(`
local res = redis.call('XRANGE', KEYS[1], ARGV[1], '+', 'COUNT', tonumber(ARGV[2]))
local del = {}
for _, e in ipairs(res) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'did' then
      if f[i + 1] == ARGV[3] then del[#del + 1] = e[1] end
      break
    end
  end
end
if #del > 0 then redis.call('XDEL', KEYS[1], unpack(del)) end
local last = ''
if #res > 0 then last = res[#res][1] end
return {#res, #del, last}
`)

const cdrPurgeChunk = 1000

// purge deletes every record of a DID. The number's hash goes last, so a
// purge cut short is detected (the number still exists) and redone.
func (s *Store) purge(ctx context.Context, did string) (Purged, error) {
	var p Purged
	fail := func(what string, err error) (Purged, error) {
		return p, fmt.Errorf("purge %s: %s: %w: %w", did, what, ErrUnavailable, err)
	}
	// CDRs: the stream is walked server side, one chunk per call.
	for start := "-"; ; {
		res, err := cdrPurgeScript.Run(ctx, s.rdb, []string{cdrKey}, start, cdrPurgeChunk, did).Slice()
		if err != nil || len(res) != 3 {
			return fail("cdrs", err)
		}
		read, _ := res[0].(int64)
		deleted, _ := res[1].(int64)
		last, _ := res[2].(string)
		p.CDRs += int(deleted)
		if read < cdrPurgeChunk || last == "" {
			break
		}
		start = "(" + last
	}
	// Recording and voicemail metadata.
	names, err := s.rdb.ZRange(ctx, recIndexKey(did), 0, -1).Result()
	if err != nil {
		return fail("recordings", err)
	}
	// The files first: a purge cut short never forgets one.
	if err := s.QueueDeletions(ctx, names...); err != nil {
		return p, err
	}
	p.FilesQueued = len(names)
	for _, name := range names {
		n, err := s.rdb.Del(ctx, recKey(name)).Result()
		if err != nil {
			return fail("recordings", err)
		}
		p.Recordings += int(n)
	}
	// Minute counters, one per day.
	mins, err := s.scan(ctx, "vnum:{"+did+"}:min:*")
	if err != nil {
		return p, err
	}
	var blockN, allowN, slotN *redis.IntCmd
	_, err = s.rdb.TxPipelined(ctx, func(pl redis.Pipeliner) error {
		blockN = pl.HLen(ctx, blockKey(did))
		allowN = pl.HLen(ctx, allowKey(did))
		slotN = pl.ZCard(ctx, slotsKey(did))
		pl.Del(ctx, append([]string{recIndexKey(did), blockKey(did), allowKey(did), slotsKey(did), ivrKey(did), mailboxKey(did)}, mins...)...)
		return nil
	})
	if err != nil {
		return fail("lists", err)
	}
	p.BlockEntries, p.AllowEntries, p.Slots, p.MinuteCounters = int(blockN.Val()), int(allowN.Val()), int(slotN.Val()), len(mins)
	if p.SMSThreads, err = s.PurgeSMSThreads(ctx, did); err != nil {
		return fail("sms threads", err)
	}
	if p.Webhooks, err = s.RemoveWebhooksForDID(ctx, did); err != nil {
		return fail("webhooks", err)
	}
	n, err := s.rdb.Del(ctx, numKey(did)).Result()
	if err != nil {
		return fail("number", err)
	}
	p.Number = n == 1
	s.specs.drop(did)
	return p, nil
}

// Swept says what one Sweep did.
type Swept struct {
	// Quarantined: expired (or half-released) numbers now in quarantine.
	Quarantined []Released `json:"quarantined"`
	// Freed: DIDs whose cool-off ended, back among their pool's free numbers.
	Freed []string `json:"freed"`
	// Sessions: masked sessions closed at their end, proxy numbers handed back.
	Sessions SweptSessions `json:"sessions"`
}

// freeScript moves a DID whose cool-off ended from quarantine to free.
// KEYS: quarantine, free. ARGV: DID, member, now (ms).
var freeScript = redis.NewScript(`
local q = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not q or tonumber(q) > tonumber(ARGV[3]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
return 1
`)

// Sweep runs the lifecycle at time now: numbers from a pool whose
// ExpiresAt has passed are released (quarantined and purged, as Release
// does, their cool-off counted from now), and quarantined DIDs whose
// cool-off has ended go back to their pool's free numbers. Expired
// numbers not from a pool are left alone (the decision already treats
// them as not in service). It scans every number and pool: run it from
// one place, every few minutes. Errors on one number do not stop the
// others; they are returned joined.
func (s *Store) Sweep(ctx context.Context, now time.Time) (Swept, error) {
	var out Swept
	var errs []error
	sessions, err := s.SweepSessions(ctx, now)
	out.Sessions = sessions
	if err != nil {
		errs = append(errs, err)
	}
	nums, err := s.ListNumbers(ctx)
	if err != nil {
		return out, err
	}
	for _, n := range nums {
		if n.Labels[routing.LabelPool] == "" {
			continue
		}
		expired := n.ExpiresAt != nil && !now.Before(*n.ExpiresAt)
		if !expired && n.State != routing.StateQuarantined {
			continue
		}
		r, err := s.release(ctx, n, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out.Quarantined = append(out.Quarantined, r)
	}
	pools, err := s.poolNames(ctx)
	if err != nil {
		return out, errors.Join(append(errs, err)...)
	}
	for _, pool := range pools {
		due, err := s.rdb.ZRangeByScore(ctx, poolQuarKey(pool), &redis.ZRangeBy{Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10)}).Result()
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep pool %s: %w: %w", pool, ErrUnavailable, err))
			continue
		}
		for _, did := range due {
			// A release cut short left the number behind (quarantined):
			// finish it first. A number provisioned again by hand during
			// the quarantine is left alone, and so is its DID.
			left, err := s.GetNumber(ctx, did)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				errs = append(errs, fmt.Errorf("sweep: %w", err))
				continue
			case left.State != routing.StateQuarantined:
				errs = append(errs, fmt.Errorf("sweep: %s is in quarantine in pool %s but provisioned as a number (%s): %w", did, pool, left.State, ErrExists))
				continue
			default:
				if _, err := s.purge(ctx, did); err != nil {
					errs = append(errs, err)
					continue
				}
			}
			ok, err := freeScript.Run(ctx, s.rdb, []string{poolQuarKey(pool), poolFreeKey(pool)}, did, poolMember(did), now.UnixMilli()).Int()
			if err != nil {
				errs = append(errs, fmt.Errorf("sweep %s: %w: %w", did, ErrUnavailable, err))
				continue
			}
			if ok == 1 {
				out.Freed = append(out.Freed, did)
				s.log.Info("number back in its pool", "did", did, "pool", pool)
			}
		}
	}
	return out, errors.Join(errs...)
}

// Rotation says what Rotate did.
type Rotation struct {
	Old      string   `json:"old"`
	New      string   `json:"new"`
	Released Released `json:"released"`
}

// Rotate gives a number's owner a fresh DID from the same pool (same
// country; same area code when one is free): the new number gets the old
// one's route, owner, limits, schedules, labels and block and allow lists,
// and the old one is released. On an error after the new number exists,
// Rotation.New is set.
func (s *Store) Rotate(ctx context.Context, did string) (Rotation, error) {
	old, err := s.GetNumber(ctx, did)
	if err != nil {
		return Rotation{}, err
	}
	pool := old.Labels[routing.LabelPool]
	if old.State == routing.StateQuarantined {
		return Rotation{}, fmt.Errorf("number %s: already released", did)
	}
	// The old number must be releasable before a new one is handed out.
	if _, err := s.quarantine(ctx, old, pool, s.now(), true); err != nil {
		return Rotation{}, fmt.Errorf("rotate %s: %w", did, err)
	}
	cc, area := routing.CountryOf(did), routing.AreaCode(did)
	fresh, err := s.Allocate(ctx, pool, cc, area)
	if errors.Is(err, ErrPoolEmpty) && area != "" {
		fresh, err = s.Allocate(ctx, pool, cc, "")
	}
	if err != nil {
		return Rotation{}, fmt.Errorf("rotate %s: %w", did, err)
	}
	n := old
	n.DID = fresh
	n.Created = time.Time{}
	n.IVR = false // the menu follows once the lists are copied (SetIVR)
	n.Labels = make(map[string]string, len(old.Labels))
	for k, v := range old.Labels {
		n.Labels[k] = v
	}
	if err := s.AddNumber(ctx, n); err != nil {
		if uerr := s.Unallocate(ctx, pool, fresh); uerr != nil {
			s.log.Warn("give back an unused pool number", "did", fresh, "pool", pool, "err", uerr)
		}
		return Rotation{}, fmt.Errorf("rotate %s: %w", did, err)
	}
	rot := Rotation{Old: did, New: fresh}
	for _, l := range []List{Blocklist, Allowlist} {
		entries, err := s.ListEntries(ctx, l, did)
		if err != nil {
			return rot, fmt.Errorf("rotate %s: %w", did, err)
		}
		for _, e := range entries {
			if err := s.AddEntry(ctx, l, fresh, e); err != nil {
				return rot, fmt.Errorf("rotate %s: %w", did, err)
			}
		}
	}
	if old.IVR {
		m, err := s.GetIVR(ctx, did)
		if err == nil {
			err = s.SetIVR(ctx, fresh, m)
		}
		if err != nil {
			return rot, fmt.Errorf("rotate %s: IVR: %w", did, err)
		}
	}
	// The owner's mailbox settings and webhook endpoints follow the owner
	// (release then removes the old number's).
	if mb, err := s.GetMailbox(ctx, did); err != nil {
		return rot, fmt.Errorf("rotate %s: mailbox: %w", did, err)
	} else if err := s.SetMailbox(ctx, fresh, mb); err != nil {
		return rot, fmt.Errorf("rotate %s: mailbox: %w", did, err)
	}
	eps, err := s.Webhooks(ctx)
	if err != nil {
		return rot, fmt.Errorf("rotate %s: webhooks: %w", did, err)
	}
	for _, ep := range eps {
		if ep.DID != did {
			continue
		}
		ep.DID = fresh
		if _, err := s.AddWebhook(ctx, ep); err != nil {
			return rot, fmt.Errorf("rotate %s: webhook %s: %w", did, ep.ID, err)
		}
	}
	rot.Released, err = s.release(ctx, old, s.now())
	if err != nil {
		return rot, fmt.Errorf("rotate %s: new number %s is live, the old one was not released: %w", did, fresh, err)
	}
	return rot, nil
}

// QuarantineOf finds a DID in the pools' quarantines: its pool and when it
// goes back to free. ErrNotFound when it is in none.
func (s *Store) QuarantineOf(ctx context.Context, did string) (pool string, freeAt time.Time, err error) {
	pools, err := s.poolNames(ctx)
	if err != nil {
		return "", time.Time{}, err
	}
	for _, p := range pools {
		sc, err := s.rdb.ZScore(ctx, poolQuarKey(p), did).Result()
		if errorsIsNil(err) {
			continue
		}
		if err != nil {
			return "", time.Time{}, fmt.Errorf("quarantine %s: %w: %w", did, ErrUnavailable, err)
		}
		return p, time.UnixMilli(int64(sc)).UTC(), nil
	}
	return "", time.Time{}, fmt.Errorf("quarantine %s: %w", did, ErrNotFound)
}
