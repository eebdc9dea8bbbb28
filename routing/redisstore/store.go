package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
)

var (
	// ErrUnavailable wraps every failure to reach Redis.
	ErrUnavailable = errors.New("routing store unavailable")
	// ErrNotFound: no such number, entry or call.
	ErrNotFound = errors.New("not found")
	// ErrExists: the number is already provisioned.
	ErrExists = errors.New("already exists")
	// ErrCorrupt: a stored value could not be read back.
	ErrCorrupt = errors.New("corrupt stored value")
)

// DefaultLease is how long a concurrency slot or live-call record lives
// without a refresh: a crashed node's slots free themselves after it.
const DefaultLease = 2 * time.Minute

// Options configure a Store.
type Options struct {
	Logger *slog.Logger
	// Lease of concurrency slots and live-call records (default DefaultLease).
	Lease time.Duration
	// SplitGlobal checks the global blocklist with its own request sent in
	// parallel with the number's script. It is forced on for a Cluster
	// client, where the global list lives on another slot.
	SplitGlobal bool
	// CDRMaxLen bounds the CDR stream (approximate trimming; default 1,000,000).
	CDRMaxLen int64
	// SpecCache bounds how many decoded number specs the store keeps
	// (checked by version on every decision, so never stale); default
	// 100,000, negative disables.
	SpecCache int
	// Velocity limits calls per caller (disabled when zero).
	Velocity Velocity
	// CDRRetention, when set, drops CDRs older than it as new ones are
	// written (instead of trimming by count).
	CDRRetention time.Duration
	// Retention of call recordings: files and metadata (default
	// DefaultRetention). The sweep (EnforceRetention) deletes them when
	// it ends; the metadata's own TTL is a backstop RetentionGrace later.
	Retention time.Duration
	// VoicemailRetention of voicemail messages (default: Retention).
	VoicemailRetention time.Duration
	// SMSRetention of SMS threads after their last message (default
	// DefaultRetention); see SMSThreadKey.
	SMSRetention time.Duration
	// Privacy is the deployment's caller-number policy. With hmac, the
	// velocity limits key callers, and block them, by the HMAC form: no
	// raw caller number is stored.
	Privacy routing.Privacy
	// ConsentCountries: where by-country recording consent applies (nil:
	// routing.DefaultConsentCountries).
	ConsentCountries []string
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Store is the routing state in Redis. It is safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	log    *slog.Logger
	lease  time.Duration
	split  bool
	maxCDR int64
	now    func() time.Time

	retention    time.Duration
	vmRetention  time.Duration
	smsRetention time.Duration
	cdrRetention time.Duration
	priv         routing.Privacy
	consent      []string
	vel          Velocity
	specs        *specCache
}

// New wraps a go-redis client.
func New(rdb redis.UniversalClient, opts Options) *Store {
	s := &Store{rdb: rdb, log: opts.Logger, lease: opts.Lease, split: opts.SplitGlobal, maxCDR: opts.CDRMaxLen, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.lease <= 0 {
		s.lease = DefaultLease
	}
	if _, ok := rdb.(*redis.ClusterClient); ok {
		s.split = true
	}
	if s.maxCDR <= 0 {
		s.maxCDR = 1_000_000
	}
	s.cdrRetention = opts.CDRRetention
	s.vel = opts.Velocity
	if s.retention = opts.Retention; s.retention <= 0 {
		s.retention = DefaultRetention
	}
	if s.vmRetention = opts.VoicemailRetention; s.vmRetention <= 0 {
		s.vmRetention = s.retention
	}
	if s.smsRetention = opts.SMSRetention; s.smsRetention <= 0 {
		s.smsRetention = DefaultRetention
	}
	s.priv, s.consent = opts.Privacy, opts.ConsentCountries
	if s.now == nil {
		s.now = time.Now
	}
	switch {
	case opts.SpecCache == 0:
		s.specs = newSpecCache(100_000)
	case opts.SpecCache > 0:
		s.specs = newSpecCache(opts.SpecCache)
	}
	return s
}

// Client returns the underlying client.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Ping checks the store is reachable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// Preload loads the Lua scripts so the first call runs by SHA.
func (s *Store) Preload(ctx context.Context) error {
	for _, sc := range []*redis.Script{decideScript, putNumberScript, addEntryScript} {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("load script: %w: %w", ErrUnavailable, err)
		}
	}
	return nil
}

// putNumberScript writes a number's hash atomically. ARGV: 1 mode
// ("add": fail if present, "update": fail if absent), 2.. field/value pairs.
var putNumberScript = redis.NewScript(`
local exists = redis.call('EXISTS', KEYS[1]) == 1
if ARGV[1] == 'add' and exists then return 'exists' end
if ARGV[1] == 'update' and not exists then return 'missing' end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
return 'ok'
`)

// AddNumber provisions a new number; ErrExists if it is already there.
func (s *Store) AddNumber(ctx context.Context, n routing.Number) error {
	return s.putNumber(ctx, n, "add")
}

// UpdateNumber replaces an existing number; ErrNotFound if it is not there.
func (s *Store) UpdateNumber(ctx context.Context, n routing.Number) error {
	return s.putNumber(ctx, n, "update")
}

func (s *Store) putNumber(ctx context.Context, n routing.Number, mode string) error {
	if err := n.Validate(); err != nil {
		return err
	}
	if n.Created.IsZero() {
		n.Created = s.now().UTC()
	}
	spec, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("number %s: %w", n.DID, err)
	}
	var expMS int64
	if n.ExpiresAt != nil {
		expMS = n.ExpiresAt.UnixMilli()
	}
	allow := "0"
	if n.AllowlistOnly {
		allow = "1"
	}
	sum := sha256.Sum256(spec)
	res, err := putNumberScript.Run(ctx, s.rdb, []string{numKey(n.DID)}, mode,
		"spec", spec, "ver", hex.EncodeToString(sum[:8]), "max_concurrent", n.Limits.MaxConcurrent, "daily_minutes", n.Limits.DailyMinutes,
		"allow_only", allow, "expires_ms", expMS, "state", string(n.State)).Text()
	if err != nil {
		return fmt.Errorf("number %s: %w: %w", n.DID, ErrUnavailable, err)
	}
	switch res {
	case "exists":
		return fmt.Errorf("number %s: %w", n.DID, ErrExists)
	case "missing":
		return fmt.Errorf("number %s: %w", n.DID, ErrNotFound)
	}
	return nil
}

// GetNumber reads one number.
func (s *Store) GetNumber(ctx context.Context, did string) (routing.Number, error) {
	spec, err := s.rdb.HGet(ctx, numKey(did), "spec").Result()
	if errorsIsNil(err) {
		return routing.Number{}, fmt.Errorf("number %s: %w", did, ErrNotFound)
	}
	if err != nil {
		return routing.Number{}, fmt.Errorf("number %s: %w: %w", did, ErrUnavailable, err)
	}
	var n routing.Number
	if err := json.Unmarshal([]byte(spec), &n); err != nil {
		return routing.Number{}, fmt.Errorf("number %s: %w: %w", did, ErrCorrupt, err)
	}
	return n, nil
}

// ListNumbers returns every provisioned number, sorted by DID. It scans
// (on every master of a Cluster): an admin operation, not a call path.
func (s *Store) ListNumbers(ctx context.Context) ([]routing.Number, error) {
	keys, err := s.scan(ctx, numPattern)
	if err != nil {
		return nil, err
	}
	slices.Sort(keys)
	out := make([]routing.Number, 0, len(keys))
	for chunk := range slices.Chunk(keys, 500) {
		cmds := make([]*redis.StringCmd, len(chunk))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, k := range chunk {
				cmds[i] = p.HGet(ctx, k, "spec")
			}
			return nil
		})
		if err != nil && !errorsIsNil(err) {
			return nil, fmt.Errorf("list numbers: %w: %w", ErrUnavailable, err)
		}
		for i, c := range cmds {
			spec, err := c.Result()
			if err != nil {
				continue // removed meanwhile
			}
			var n routing.Number
			if err := json.Unmarshal([]byte(spec), &n); err != nil {
				return nil, fmt.Errorf("number %s: %w: %w", didFromNumKey(chunk[i]), ErrCorrupt, err)
			}
			out = append(out, n)
		}
	}
	return out, nil
}

// RemoveNumber deletes a number with its lists, slots and counters.
func (s *Store) RemoveNumber(ctx context.Context, did string) error {
	n, err := s.rdb.Del(ctx, numKey(did), blockKey(did), allowKey(did), slotsKey(did), ivrKey(did)).Result()
	if err != nil {
		return fmt.Errorf("remove %s: %w: %w", did, ErrUnavailable, err)
	}
	if n == 0 {
		return fmt.Errorf("number %s: %w", did, ErrNotFound)
	}
	return nil
}

// AddMinutes counts forwarded call time against the number's daily cap.
func (s *Store) AddMinutes(ctx context.Context, did string, d time.Duration, at time.Time) error {
	k := minutesKey(did, at)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.IncrBy(ctx, k, int64(d.Round(time.Second)/time.Second))
		p.Expire(ctx, k, 48*time.Hour)
		return nil
	})
	if err != nil {
		return fmt.Errorf("minutes %s: %w: %w", did, ErrUnavailable, err)
	}
	return nil
}

// scan lists keys matching pattern, on every master of a Cluster.
func (s *Store) scan(ctx context.Context, pattern string) ([]string, error) {
	var keys []string
	scanOne := func(ctx context.Context, c redis.Cmdable) ([]string, error) {
		var out []string
		it := c.Scan(ctx, 0, pattern, 1000).Iterator()
		for it.Next(ctx) {
			out = append(out, it.Val())
		}
		return out, it.Err()
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		ch := make(chan []string, 64)
		var all []string
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ks := range ch {
				all = append(all, ks...)
			}
		}()
		err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			ks, err := scanOne(ctx, c)
			ch <- ks
			return err
		})
		close(ch)
		<-done
		if err != nil {
			return nil, fmt.Errorf("scan: %w: %w", ErrUnavailable, err)
		}
		return all, nil
	}
	keys, err := scanOne(ctx, s.rdb)
	if err != nil {
		return nil, fmt.Errorf("scan: %w: %w", ErrUnavailable, err)
	}
	return keys, nil
}

func ms(t *time.Time) string {
	if t == nil {
		return "0"
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}
