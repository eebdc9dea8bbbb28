package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/internal/webhook"
)

// Webhook keys share the {webhook} hash tag, so an endpoint and its status
// change together on a Cluster too:
//
//	vnum:{webhook}:endpoints   hash  endpoint id -> endpoint JSON (secret included)
//	vnum:{webhook}:status:ID   hash  delivered, failed, dropped (HINCRBY), last_error, last_error_ms, last_success_ms
const webhooksKey = "vnum:{webhook}:endpoints"

func webhookStatusKey(id string) string { return "vnum:{webhook}:status:" + id }

// storedWebhook is an endpoint as stored (webhook.Endpoint never marshals
// its secret).
type storedWebhook struct {
	ID        string   `json:"id"`
	URL       string   `json:"url"`
	DID       string   `json:"did,omitempty"`
	Events    []string `json:"events,omitempty"`
	Secret    string   `json:"secret"`
	CreatedMS int64    `json:"created_ms"`
}

// AddWebhook validates ep and stores it under a new id (ep.ID and
// ep.Created are set by the store). Invalid input writes nothing.
func (s *Store) AddWebhook(ctx context.Context, ep webhook.Endpoint) (webhook.Endpoint, error) {
	if err := ep.Validate(); err != nil {
		return webhook.Endpoint{}, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	ep.ID = "wh_" + hex.EncodeToString(b[:])
	ep.Created = s.now().UTC().Truncate(time.Millisecond)
	raw, err := json.Marshal(storedWebhook{ID: ep.ID, URL: ep.URL, DID: ep.DID, Events: ep.Events, Secret: ep.Secret, CreatedMS: ep.Created.UnixMilli()})
	if err != nil {
		return webhook.Endpoint{}, fmt.Errorf("webhook %s: %w", ep.ID, err)
	}
	ok, err := s.rdb.HSetNX(ctx, webhooksKey, ep.ID, raw).Result()
	if err != nil {
		return webhook.Endpoint{}, fmt.Errorf("webhook %s: %w: %w", ep.ID, ErrUnavailable, err)
	}
	if !ok {
		return webhook.Endpoint{}, fmt.Errorf("webhook %s: %w", ep.ID, ErrExists)
	}
	return ep, nil
}

// RemoveWebhook deletes an endpoint and its status (ErrNotFound if none).
func (s *Store) RemoveWebhook(ctx context.Context, id string) error {
	var del *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		del = p.HDel(ctx, webhooksKey, id)
		p.Del(ctx, webhookStatusKey(id))
		return nil
	})
	if err != nil {
		return fmt.Errorf("webhook %s: %w: %w", id, ErrUnavailable, err)
	}
	if del.Val() == 0 {
		return fmt.Errorf("webhook %q: %w", id, ErrNotFound)
	}
	return nil
}

// Webhooks returns every endpoint, secrets included, oldest first.
func (s *Store) Webhooks(ctx context.Context) ([]webhook.Endpoint, error) {
	m, err := s.rdb.HGetAll(ctx, webhooksKey).Result()
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w: %w", ErrUnavailable, err)
	}
	out := make([]webhook.Endpoint, 0, len(m))
	for id, raw := range m {
		var w storedWebhook
		if err := json.Unmarshal([]byte(raw), &w); err != nil || w.ID != id {
			return nil, fmt.Errorf("webhook %s: %w", id, ErrCorrupt)
		}
		out = append(out, webhook.Endpoint{ID: w.ID, URL: w.URL, DID: w.DID, Events: w.Events, Secret: w.Secret,
			Created: time.UnixMilli(w.CreatedMS).UTC()})
	}
	slices.SortFunc(out, func(a, b webhook.Endpoint) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// recordWebhookStatus adds to an endpoint's status hash only while the
// endpoint exists (a removed endpoint's status is not brought back).
var recordWebhookStatus = redis.NewScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local k = KEYS[2]
if ARGV[2] ~= '0' then redis.call('HINCRBY', k, 'delivered', ARGV[2]) end
if ARGV[3] ~= '0' then redis.call('HINCRBY', k, 'failed', ARGV[3]) end
if ARGV[4] ~= '0' then redis.call('HINCRBY', k, 'dropped', ARGV[4]) end
if ARGV[6] ~= '0' then redis.call('HSET', k, 'last_error', ARGV[5], 'last_error_ms', ARGV[6]) end
if ARGV[7] ~= '0' then redis.call('HSET', k, 'last_success_ms', ARGV[7]) end
return 1
`)

// RecordWebhookStatus adds d to an endpoint's status; it writes nothing
// for an endpoint that no longer exists.
func (s *Store) RecordWebhookStatus(ctx context.Context, id string, d webhook.StatusDelta) error {
	ms := func(t time.Time) int64 {
		if t.IsZero() {
			return 0
		}
		return t.UnixMilli()
	}
	lastErr := d.LastError
	if len(lastErr) > 512 {
		lastErr = lastErr[:512]
	}
	err := recordWebhookStatus.Run(ctx, s.rdb, []string{webhooksKey, webhookStatusKey(id)}, id,
		d.Delivered, d.Failed, d.Dropped, lastErr, ms(d.LastErrorAt), ms(d.LastSuccess)).Err()
	if err != nil {
		return fmt.Errorf("webhook %s status: %w: %w", id, ErrUnavailable, err)
	}
	return nil
}

// WebhookStatus returns an endpoint's delivery counters (zero when vnumd
// has written none yet).
func (s *Store) WebhookStatus(ctx context.Context, id string) (webhook.Status, error) {
	m, err := s.rdb.HGetAll(ctx, webhookStatusKey(id)).Result()
	if err != nil {
		return webhook.Status{}, fmt.Errorf("webhook %s status: %w: %w", id, ErrUnavailable, err)
	}
	n := func(k string) int64 { v, _ := strconv.ParseInt(m[k], 10, 64); return v }
	t := func(k string) time.Time {
		if v := n(k); v > 0 {
			return time.UnixMilli(v).UTC()
		}
		return time.Time{}
	}
	return webhook.Status{ID: id, Delivered: n("delivered"), Failed: n("failed"), Dropped: n("dropped"),
		LastError: m["last_error"], LastErrorAt: t("last_error_ms"), LastSuccess: t("last_success_ms")}, nil
}

// RemoveWebhooksForDID deletes the endpoints bound to one number (and
// their status), returning how many: a released number's events must not
// reach its former owner once the number is reused.
func (s *Store) RemoveWebhooksForDID(ctx context.Context, did string) (int, error) {
	eps, err := s.Webhooks(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, ep := range eps {
		if ep.DID != did {
			continue
		}
		switch err := s.RemoveWebhook(ctx, ep.ID); {
		case err == nil:
			n++
		case !errors.Is(err, ErrNotFound):
			return n, err
		}
	}
	return n, nil
}
