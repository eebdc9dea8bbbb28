package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/internal/webhook"
	"github.com/vnum/vnum/internal/webhook/webhooktest"
	"github.com/vnum/vnum/routing/redisstore"
)

const hookSecret = "s3cr3t-for-webhooks-0123"

// The dispatcher runs on the store as it is.
var _ webhook.Store = (*redisstore.Store)(nil)

func TestWebhookEndpoints(t *testing.T) {
	s, srv := newStore(t, redisstore.Options{})
	ctx := context.Background()
	rdb := srv.Client()
	// Invalid endpoints write nothing.
	for _, ep := range []webhook.Endpoint{
		{URL: "ftp://x/", Secret: hookSecret},
		{URL: "https://u:pw@x/", Secret: hookSecret},
		{URL: "https://x/", Secret: "short"},
		{URL: "https://x/", Secret: hookSecret, DID: "33187654321"},
		{URL: "https://x/", Secret: hookSecret, Events: []string{"nope"}},
	} {
		if _, err := s.AddWebhook(ctx, ep); err == nil {
			t.Fatalf("%+v accepted", ep)
		}
	}
	if keys := rdb.Keys(ctx, "*").Val(); len(keys) != 0 {
		t.Fatalf("refused endpoints wrote %v", keys)
	}
	g, err := s.AddWebhook(ctx, webhook.Endpoint{URL: "https://hooks.example.com/all", Secret: hookSecret})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	n, err := s.AddWebhook(ctx, webhook.Endpoint{URL: "https://hooks.example.com/n", DID: "+33187654321", Events: []string{"call.ended"}, Secret: hookSecret})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(g.ID, "wh_") || g.ID == n.ID || g.Created.IsZero() {
		t.Fatalf("ids %q %q created %v", g.ID, n.ID, g.Created)
	}
	eps, err := s.Webhooks(ctx)
	if err != nil || len(eps) != 2 {
		t.Fatalf("Webhooks: %v %v", eps, err)
	}
	if eps[0].ID != g.ID || eps[1].ID != n.ID || eps[1].DID != "+33187654321" || eps[1].Events[0] != "call.ended" ||
		eps[0].Secret != hookSecret || !eps[1].Created.Equal(n.Created) {
		t.Fatalf("read back %+v", eps)
	}
	// Status: counters add up; a removed endpoint's status is not revived.
	now := time.Now().UTC().Truncate(time.Millisecond)
	for range 2 {
		if err := s.RecordWebhookStatus(ctx, n.ID, webhook.StatusDelta{Delivered: 2, Failed: 1, Dropped: 3, LastError: "HTTP 500", LastErrorAt: now, LastSuccess: now}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.WebhookStatus(ctx, n.ID)
	if err != nil || st.Delivered != 4 || st.Failed != 2 || st.Dropped != 6 || st.LastError != "HTTP 500" || !st.LastErrorAt.Equal(now) || !st.LastSuccess.Equal(now) {
		t.Fatalf("status %+v %v", st, err)
	}
	if err := s.RemoveWebhook(ctx, n.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveWebhook(ctx, n.ID); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
	if err := s.RecordWebhookStatus(ctx, n.ID, webhook.StatusDelta{Delivered: 1}); err != nil {
		t.Fatal(err)
	}
	if keys := rdb.Keys(ctx, "*"+n.ID+"*").Val(); len(keys) != 0 {
		t.Fatalf("removed endpoint left %v", keys)
	}
	if eps, _ := s.Webhooks(ctx); len(eps) != 1 || eps[0].ID != g.ID {
		t.Fatalf("after remove %+v", eps)
	}
	// Releasing a number drops its endpoints, not the global ones.
	for range 2 {
		if _, err := s.AddWebhook(ctx, webhook.Endpoint{URL: "https://x.example/", DID: "+33187650000", Secret: hookSecret}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.RemoveWebhooksForDID(ctx, "+33187650000"); n != 2 || err != nil {
		t.Fatalf("RemoveWebhooksForDID: %d %v", n, err)
	}
	if eps, _ := s.Webhooks(ctx); len(eps) != 1 || eps[0].ID != g.ID {
		t.Fatalf("after RemoveWebhooksForDID %+v", eps)
	}
}

// End to end on a real Redis: an endpoint added to the store receives a
// per-number event and its counters land in the status record.
func TestWebhookDispatcherOnRedis(t *testing.T) {
	s, _ := newStore(t, redisstore.Options{})
	ctx := context.Background()
	rcv := webhooktest.New(t, hookSecret)
	other := webhooktest.New(t, hookSecret)
	ep, err := s.AddWebhook(ctx, webhook.Endpoint{URL: rcv.URL, DID: "+33187654321", Secret: hookSecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddWebhook(ctx, webhook.Endpoint{URL: other.URL, DID: "+33187650000", Secret: hookSecret}); err != nil {
		t.Fatal(err)
	}
	d, err := webhook.New(s, webhook.Options{StatusEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	d.Publish(webhook.Event{Type: webhook.VoicemailNew, DID: "+33187654321", CallID: "c1", Data: map[string]any{"duration_s": 12}})
	got := rcv.WaitDelivered(t, 1, 10*time.Second)
	if got[0].Verified != nil || got[0].Event.Type != "voicemail.new" {
		t.Fatalf("delivery %+v", got[0])
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := s.WebhookStatus(ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Delivered == 1 && !st.LastSuccess.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.Close()
	if n := len(other.Requests()); n != 0 {
		t.Fatalf("other number's endpoint got %d requests", n)
	}
}
