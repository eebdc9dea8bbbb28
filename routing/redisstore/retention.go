package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

// RetentionGrace is how long after its retention period a recording's
// metadata outlives the period by its own TTL: the sweep deletes the file
// and the metadata when the period ends, and the TTL is only the backstop
// for a deployment whose sweep stopped (then the file stays on the PBX).
const RetentionGrace = 7 * 24 * time.Hour

// deleteQueueKey holds the recording files to delete from the PBX: name
// -> when queued (ms). vnumctl cannot reach the PBX, so it queues; vnumd's
// sweep drains the queue (DrainDeletions).
const deleteQueueKey = "vnum:recs:delete"

// SMSThreadKey is the key of one SMS thread of a DID (SMS relaying does
// not exist yet; this is the naming rule it follows). Its TTL is the
// number's SMS retention (SMSRetention), set again on every message, so
// a thread disappears that long after its last message. Keys of one
// thread that need more than one key append ":" and a suffix.
func SMSThreadKey(did, thread string) string { return "vnum:{" + did + "}:sms:" + thread }

// Retention is the deployment's retention policy as the store applies it
// (a number's shorter periods override it: routing.Retention.Apply).
func (s *Store) Retention() routing.Retention {
	return routing.Retention{CDR: s.cdrRetention, Recordings: s.retention, Voicemail: s.vmRetention, SMS: s.smsRetention}
}

// SMSRetention is how long an SMS thread of n is kept after its last
// message: the TTL to give SMSThreadKey.
func (s *Store) SMSRetention(n routing.Number) time.Duration {
	return s.Retention().Apply(n.Retention).SMS
}

// Expired counts what a retention pass or a purge deleted.
type Expired struct {
	CDRs       int `json:"cdrs"`
	Recordings int `json:"recordings"` // recorded calls' metadata
	Voicemails int `json:"voicemails"` // voicemail messages' metadata
	// FilesQueued: recording and voicemail files queued for deletion from
	// the PBX (vnumd's sweep deletes them).
	FilesQueued int `json:"files_queued"`
}

func (e *Expired) add(o Expired) {
	e.CDRs += o.CDRs
	e.Recordings += o.Recordings
	e.Voicemails += o.Voicemails
	e.FilesQueued += o.FilesQueued
}

// EnforceRetention deletes, at time now, the records whose retention
// period has ended: CDRs (the deployment's CDR retention, or a number's
// shorter one), and recordings and voicemail messages (their metadata
// here, their files queued for DrainDeletions). vnumd runs it in its
// once-a-minute sweep. For numbers with a CDR retention shorter than the
// deployment's, each pass reads only the stretch of the stream that aged
// past their period since the previous pass (cdrMarksKey); a number new
// to it, or whose period changed, is read from the start once.
func (s *Store) EnforceRetention(ctx context.Context, now time.Time) (Expired, error) {
	var out Expired
	nums, err := s.ListNumbers(ctx)
	if err != nil {
		return out, err
	}
	deploy := s.Retention()
	per := make(map[string]routing.Retention, len(nums))
	short := map[string]time.Duration{}
	for _, n := range nums {
		r := deploy.Apply(n.Retention)
		per[n.DID] = r
		if r.CDR > 0 && (deploy.CDR == 0 || r.CDR < deploy.CDR) {
			short[n.DID] = r.CDR
		}
	}
	var errs []error
	if deploy.CDR > 0 {
		n, err := s.trimCDRs(ctx, now.Add(-deploy.CDR))
		out.CDRs += n
		if err != nil {
			errs = append(errs, err)
		}
	}
	// Numbers with a shorter CDR retention (run even with none, to drop
	// the marks of numbers that no longer have one).
	n, err := s.expireShortCDRs(ctx, now, short)
	out.CDRs += n
	if err != nil {
		errs = append(errs, err)
	}
	idx, err := s.scan(ctx, "vnum:{*}:recs")
	if err != nil {
		return out, errors.Join(append(errs, err)...)
	}
	for _, k := range idx {
		did := didFromRecIndexKey(k)
		r, ok := per[did]
		if !ok {
			r = deploy
		}
		e, err := s.expireRecordings(ctx, did, now.Add(-r.Recordings), now.Add(-r.Voicemail))
		out.add(e)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// PurgeBefore deletes the CDRs and the recording and voicemail metadata
// of calls before t, of one DID or all (""), and queues the recordings'
// files for deletion by vnumd.
func (s *Store) PurgeBefore(ctx context.Context, t time.Time, did string) (Expired, error) {
	var out Expired
	var err error
	if did == "" {
		out.CDRs, err = s.trimCDRs(ctx, t)
	} else {
		out.CDRs, err = s.deleteCDRs(ctx, "-", map[string]int64{did: t.UnixMilli()})
	}
	if err != nil {
		return out, err
	}
	dids := []string{did}
	if did == "" {
		idx, err := s.scan(ctx, "vnum:{*}:recs")
		if err != nil {
			return out, err
		}
		dids = dids[:0]
		for _, k := range idx {
			dids = append(dids, didFromRecIndexKey(k))
		}
	}
	for _, d := range dids {
		e, err := s.expireRecordings(ctx, d, t, t)
		out.add(e)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// trimCDRs deletes every CDR written before t (stream ids are times).
func (s *Store) trimCDRs(ctx context.Context, t time.Time) (int, error) {
	n, err := s.rdb.XTrimMinID(ctx, cdrKey, strconv.FormatInt(t.UnixMilli(), 10)).Result()
	if err != nil {
		return int(n), fmt.Errorf("cdr retention: %w: %w", ErrUnavailable, err)
	}
	return int(n), nil
}

// cdrCutoffScript deletes, from one chunk of the CDR stream, the entries of
// the given DIDs written before each DID's cutoff. KEYS: the stream. ARGV:
// 1 start id, 2 chunk size, 3 end id (the latest cutoff), 4.. DID, cutoff
// (ms) pairs. Returns {entries read, entries deleted, last id read}.
var cdrCutoffScript = redis.NewScript(`
local res = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[3], 'COUNT', tonumber(ARGV[2]))
local cut = {}
for i = 4, #ARGV, 2 do cut[ARGV[i]] = tonumber(ARGV[i + 1]) end
local del = {}
for _, e in ipairs(res) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'did' then
      local c = cut[f[i + 1]]
      if c and tonumber(string.match(e[1], '^(%d+)')) < c then del[#del + 1] = e[1] end
      break
    end
  end
end
if #del > 0 then redis.call('XDEL', KEYS[1], unpack(del)) end
local last = ''
if #res > 0 then last = res[#res][1] end
return {#res, #del, last}
`)

// cdrMarksKey remembers, per number with a CDR retention shorter than the
// deployment's, "<retention ms>|<last pass ms>": the CDRs before last pass
// minus retention are already gone, so the next pass starts there. It
// lives an hour past the last pass; without it a pass reads from the start.
const cdrMarksKey = "vnum:retention:cdr"

// expireShortCDRs deletes the CDRs of numbers past their own (shorter)
// retention, short: DID -> retention. Numbers sharing a retention and a
// previous pass are done in one walk over the stretch that aged since.
func (s *Store) expireShortCDRs(ctx context.Context, now time.Time, short map[string]time.Duration) (int, error) {
	marks, err := s.rdb.HGetAll(ctx, cdrMarksKey).Result()
	if err != nil {
		return 0, fmt.Errorf("cdr retention: %w: %w", ErrUnavailable, err)
	}
	type group struct {
		r     time.Duration
		start int64 // ms; -1 for the stream's start
	}
	groups := map[group][]string{}
	for did, r := range short {
		g := group{r: r, start: -1}
		if rs, last, ok := strings.Cut(marks[did], "|"); ok && rs == strconv.FormatInt(r.Milliseconds(), 10) {
			if l, err := strconv.ParseInt(last, 10, 64); err == nil {
				g.start = l - r.Milliseconds()
			}
		}
		groups[g] = append(groups[g], did)
	}
	total := 0
	done := make([]any, 0, 2*len(short))
	var errs []error
	for g, dids := range groups {
		cut := now.Add(-g.r).UnixMilli()
		start := "-"
		if g.start >= 0 {
			start = strconv.FormatInt(min(g.start, cut), 10)
		}
		table := make(map[string]int64, len(dids))
		for _, d := range dids {
			table[d] = cut
		}
		n, err := s.deleteCDRs(ctx, start, table)
		total += n
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, d := range dids {
			done = append(done, d, strconv.FormatInt(g.r.Milliseconds(), 10)+"|"+strconv.FormatInt(now.UnixMilli(), 10))
		}
	}
	// The marks of this pass replace the previous ones (a number no longer
	// short, or whose walk failed, has none: read from the start next time).
	_, err = s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, cdrMarksKey)
		if len(done) > 0 {
			p.HSet(ctx, cdrMarksKey, done...)
			p.PExpire(ctx, cdrMarksKey, time.Hour)
		}
		return nil
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("cdr retention marks: %w: %w", ErrUnavailable, err))
	}
	return total, errors.Join(errs...)
}

// deleteCDRs deletes the CDRs of each DID written before its cutoff (ms),
// walking the stream from start (an id, or "-") server side, one chunk per
// call.
func (s *Store) deleteCDRs(ctx context.Context, start string, cutoff map[string]int64) (int, error) {
	var latest int64
	args := []any{"", cdrPurgeChunk, ""}
	for did, c := range cutoff {
		latest = max(latest, c)
		args = append(args, did, c)
	}
	if latest <= 0 {
		return 0, nil
	}
	// Ids of entries before the latest cutoff are below "<latest>-0".
	args[2] = "(" + strconv.FormatInt(latest, 10) + "-0"
	total := 0
	for {
		args[0] = start
		res, err := cdrCutoffScript.Run(ctx, s.rdb, []string{cdrKey}, args...).Slice()
		if err != nil || len(res) != 3 {
			return total, fmt.Errorf("cdr retention: %w: %v", ErrUnavailable, err)
		}
		read, _ := res[0].(int64)
		deleted, _ := res[1].(int64)
		last, _ := res[2].(string)
		total += int(deleted)
		if read < cdrPurgeChunk || last == "" {
			return total, nil
		}
		start = "(" + last
	}
}

// expireRecordings deletes the metadata of a DID's recorded calls started
// before recCut and voicemail messages before vmCut, queueing their files
// first (so a pass cut short never forgets a file). An index entry whose
// metadata is already gone is treated as a recording.
func (s *Store) expireRecordings(ctx context.Context, did string, recCut, vmCut time.Time) (Expired, error) {
	var out Expired
	fail := func(err error) (Expired, error) {
		return out, fmt.Errorf("recording retention %s: %w: %w", did, ErrUnavailable, err)
	}
	latest := max(recCut.UnixMilli(), vmCut.UnixMilli())
	zs, err := s.rdb.ZRangeByScoreWithScores(ctx, recIndexKey(did), &redis.ZRangeBy{
		Min: "-inf", Max: "(" + strconv.FormatInt(latest, 10)}).Result()
	if err != nil {
		return fail(err)
	}
	if len(zs) == 0 {
		return out, nil
	}
	kinds := make([]*redis.StringCmd, len(zs))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range zs {
			kinds[i] = p.HGet(ctx, recKey(z.Member.(string)), "kind")
		}
		return nil
	})
	if err != nil && !errorsIsNil(err) {
		return fail(err)
	}
	var names []string
	var vm []bool
	for i, z := range zs {
		started := int64(z.Score)
		isVM := kinds[i].Val() == "voicemail"
		cut := recCut.UnixMilli()
		if isVM {
			cut = vmCut.UnixMilli()
		}
		if started < cut {
			names = append(names, z.Member.(string))
			vm = append(vm, isVM)
		}
	}
	if len(names) == 0 {
		return out, nil
	}
	if err := s.QueueDeletions(ctx, names...); err != nil {
		return out, err
	}
	out.FilesQueued = len(names)
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, n := range names {
			p.Del(ctx, recKey(n))
		}
		members := make([]any, len(names))
		for i, n := range names {
			members[i] = n
		}
		p.ZRem(ctx, recIndexKey(did), members...)
		return nil
	})
	if err != nil {
		return fail(err)
	}
	for _, v := range vm {
		if v {
			out.Voicemails++
		} else {
			out.Recordings++
		}
	}
	return out, nil
}

func didFromRecIndexKey(k string) string {
	const pre, suf = "vnum:{", "}:recs"
	if len(k) <= len(pre)+len(suf) {
		return ""
	}
	return k[len(pre) : len(k)-len(suf)]
}

// QueueDeletions queues recording files for deletion from the PBX (a name
// already queued keeps its place).
func (s *Store) QueueDeletions(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		return nil
	}
	now := float64(s.now().UnixMilli())
	zs := make([]redis.Z, len(names))
	for i, n := range names {
		zs[i] = redis.Z{Score: now, Member: n}
	}
	if err := s.rdb.ZAddNX(ctx, deleteQueueKey, zs...).Err(); err != nil {
		return fmt.Errorf("queue recording deletion: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// QueuedDeletions lists the recording files waiting for deletion, oldest
// first.
func (s *Store) QueuedDeletions(ctx context.Context) ([]string, error) {
	names, err := s.rdb.ZRange(ctx, deleteQueueKey, 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("recording deletion queue: %w: %w", ErrUnavailable, err)
	}
	return names, nil
}

// RecordingDeleter deletes a recording file from the PBX; a recording
// already gone is not an error (callflow.PBX is one).
type RecordingDeleter interface {
	DeleteRecording(ctx context.Context, name string) error
}

// Drained says what DrainDeletions did.
type Drained struct {
	Deleted int // removed from the PBX (or already gone) and from the queue
	Failed  int // still queued: the PBX refused or could not be reached
	Left    int // queued after the pass (failures included)
	// Err is the last failure (nil when none).
	Err error
}

// DrainDeletions deletes up to limit queued recording files (oldest
// first) through del. A file leaves the queue only when it was deleted or
// was already gone (nil, or an error wrapping fs.ErrNotExist); any other
// failure keeps it queued for the next pass.
func (s *Store) DrainDeletions(ctx context.Context, del RecordingDeleter, limit int) (Drained, error) {
	var out Drained
	if limit <= 0 {
		limit = 1000
	}
	names, err := s.rdb.ZRange(ctx, deleteQueueKey, 0, int64(limit-1)).Result()
	if err != nil {
		return out, fmt.Errorf("recording deletion queue: %w: %w", ErrUnavailable, err)
	}
	for _, n := range names {
		if ctx.Err() != nil {
			break
		}
		err := del.DeleteRecording(ctx, n)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			out.Failed++
			out.Err = fmt.Errorf("delete recording %s: %w", n, err)
			continue
		}
		if err := s.rdb.ZRem(ctx, deleteQueueKey, n).Err(); err != nil {
			return out, fmt.Errorf("recording deletion queue: %w: %w", ErrUnavailable, err)
		}
		out.Deleted++
	}
	left, err := s.rdb.ZCard(ctx, deleteQueueKey).Result()
	if err != nil {
		return out, fmt.Errorf("recording deletion queue: %w: %w", ErrUnavailable, err)
	}
	out.Left = int(left)
	return out, nil
}

// KeyClass says how a family of keys is kept.
type KeyClass string

const (
	// KeyConfig: what an operator configured (numbers, lists, pools). It
	// lives until removed; no TTL.
	KeyConfig KeyClass = "config"
	// KeyRecord: kept records bounded otherwise than by a TTL (the CDR
	// stream, trimmed by count or age; the file deletion queue, drained
	// by the sweep). No TTL.
	KeyRecord KeyClass = "record"
	// KeyLive: live state and short-lived records. Every such key must
	// carry a TTL, so nothing about a call outlives its purpose if a
	// process dies: `vnumctl audit ttl` lists those without one.
	KeyLive KeyClass = "live"
)

// KeyFamily is one family of keys the store writes.
type KeyFamily struct {
	Name    string   `json:"name"`
	Pattern string   `json:"pattern"` // as the README's key schema writes it
	Class   KeyClass `json:"class"`
	Expiry  string   `json:"expiry"` // what bounds it
	re      *regexp.Regexp
}

func family(name, pattern string, class KeyClass, expiry, re string) KeyFamily {
	return KeyFamily{Name: name, Pattern: pattern, Class: class, Expiry: expiry, re: regexp.MustCompile(re)}
}

// KeyFamilies is every family of keys vnum writes in Redis, classified.
// Not keys, so not here: the nodes' control channels (pub/sub
// vnum:node:NAME:ctl) and the decoded-spec cache (in vnumd's memory).
// A key of a family missing here is reported by `vnumctl audit ttl` as
// unclassified: add its family when adding a key.
var KeyFamilies = []KeyFamily{
	family("number", "vnum:{DID}:num", KeyConfig, "none: until removed or released", `^vnum:\{[^}]+\}:num$`),
	family("blocklist", "vnum:{DID}:block, vnum:{global}:block", KeyConfig, "none (entries carry their own expiry)", `^vnum:\{[^}]+\}:block$`),
	family("allowlist", "vnum:{DID}:allow", KeyConfig, "none (entries carry their own expiry)", `^vnum:\{[^}]+\}:allow$`),
	family("mailbox", "vnum:{DID}:mailbox", KeyConfig, "none: until the number is removed", `^vnum:\{[^}]+\}:mailbox$`),
	family("ivr menu", "vnum:{DID}:ivr", KeyConfig, "none: until the number is removed", `^vnum:\{[^}]+\}:ivr$`),
	family("webhook endpoints", "vnum:{webhook}:endpoints", KeyConfig, "none: until removed", `^vnum:\{webhook\}:endpoints$`),
	family("webhook status", "vnum:{webhook}:status:ID", KeyConfig, "none: deleted with its endpoint", `^vnum:\{webhook\}:status:.+$`),
	family("session proxies", "vnum:pool:{NAME}:proxies", KeyConfig, "none: proxies are handed back by the sweep", `^vnum:pool:\{[^}]+\}:proxies$`),
	family("pool sessions", "vnum:pool:{NAME}:sessions", KeyRecord, "due sessions ended by the sweep", `^vnum:pool:\{[^}]+\}:sessions$`),
	family("session participants", "vnum:{PROXY}:sess", KeyLive, "the longest session's end + margin", `^vnum:\{[^}]+\}:sess$`),
	family("session", "vnum:session:{ID}", KeyLive, "its end + margin", `^vnum:session:\{.+\}$`),
	family("pool", "vnum:pool:{NAME}:meta|free|allocated|quarantine", KeyConfig, "none", `^vnum:pool:\{[^}]+\}:(meta|free|allocated|quarantine)$`),
	family("cdr stream", "vnum:cdr", KeyRecord, "trimmed by count, or by age (--cdr-retention, numbers' shorter ones) in the sweep", `^vnum:cdr$`),
	family("recording deletion queue", "vnum:recs:delete", KeyRecord, "drained by the sweep", `^vnum:recs:delete$`),
	family("concurrency slots", "vnum:{DID}:slots", KeyLive, "lease", `^vnum:\{[^}]+\}:slots$`),
	family("daily minutes", "vnum:{DID}:min:YYYYMMDD", KeyLive, "48 h", `^vnum:\{[^}]+\}:min:[0-9]{8}$`),
	family("live call", "vnum:call:{ID}", KeyLive, "lease, refreshed", `^vnum:call:\{.+\}$`),
	family("cdr written marker", "vnum:cdrdone:{ID}", KeyLive, "24 h", `^vnum:cdrdone:\{.+\}$`),
	family("recording metadata", "vnum:rec:{NAME}", KeyLive, "retention + grace (the sweep deletes it at retention)", `^vnum:rec:\{.+\}$`),
	family("recording index", "vnum:{DID}:recs", KeyLive, "retention + grace", `^vnum:\{[^}]+\}:recs$`),
	family("velocity", "vnum:vel:{CALLER}", KeyLive, "the velocity window", `^vnum:vel:\{.+\}$`),
	family("sms thread", "vnum:{DID}:sms:THREAD", KeyLive, "SMS retention, refreshed per message", `^vnum:\{[^}]+\}:sms:.+$`),
	family("cdr retention marks", "vnum:retention:cdr", KeyLive, "1 h, refreshed by every sweep", `^vnum:retention:cdr$`),
	family("sweep lock", "vnum:sweep:lock", KeyLive, "0.9 × the sweep interval", `^vnum:sweep:lock$`),
}

// ClassifyKey returns the family of a key; false for a key no family
// describes.
func ClassifyKey(key string) (KeyFamily, bool) {
	for _, f := range KeyFamilies {
		if f.re.MatchString(key) {
			return f, true
		}
	}
	return KeyFamily{}, false
}

// TTLFinding is a key that should have a TTL and has none.
type TTLFinding struct {
	Key    string `json:"key"`
	Family string `json:"family"` // "" for an unclassified key
}

// AuditTTL scans every vnum key (on every master of a Cluster) and returns
// the live-state keys without a TTL, and the unclassified vnum keys
// without one (a family missing from KeyFamilies is a finding too), sorted
// by key; scanned is how many keys were looked at.
func (s *Store) AuditTTL(ctx context.Context) (findings []TTLFinding, scanned int, err error) {
	keys, err := s.scan(ctx, "vnum:*")
	if err != nil {
		return nil, 0, err
	}
	slices.Sort(keys)
	var check []TTLFinding
	for _, k := range keys {
		f, ok := ClassifyKey(k)
		if ok && f.Class != KeyLive {
			continue
		}
		check = append(check, TTLFinding{Key: k, Family: f.Name})
	}
	for chunk := range slices.Chunk(check, 500) {
		ttls := make([]*redis.DurationCmd, len(chunk))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, f := range chunk {
				ttls[i] = p.PTTL(ctx, f.Key)
			}
			return nil
		})
		if err != nil {
			return nil, len(keys), fmt.Errorf("audit ttl: %w: %w", ErrUnavailable, err)
		}
		for i, c := range ttls {
			// -1: no TTL (-2: gone meanwhile).
			if c.Val() == -1 {
				findings = append(findings, chunk[i])
			}
		}
	}
	return findings, len(keys), nil
}
