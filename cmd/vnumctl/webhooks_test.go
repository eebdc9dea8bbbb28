package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/internal/webhook"
	"github.com/vnum/vnum/internal/webhook/webhooktest"
	"github.com/vnum/vnum/routing/redisstore"
)

const hookSecret = "correct-horse-battery-staple-42"

func secretFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The operator's round: add a global and a per-number endpoint, list them,
// watch vnumd's deliveries in status, remove one. The secret never shows.
func TestWebhooksCommands(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	ok := webhooktest.New(t, hookSecret)
	broken := webhooktest.New(t, hookSecret)
	broken.FailNext(1000, http.StatusNotFound)
	sf := secretFile(t, hookSecret+"\n")

	r := vnumctl(t, url, "--json", "webhooks", "add", "--url", ok.URL, "--secret-file", sf)
	var added webhook.Endpoint
	if err := json.Unmarshal([]byte(r.stdout), &added); err != nil || r.code != 0 || !strings.HasPrefix(added.ID, "wh_") {
		t.Fatalf("add: %+v %v", r, err)
	}
	t.Setenv("VNUM_WEBHOOK_SECRET", hookSecret)
	r = vnumctl(t, url, "webhooks", "add", "--url", broken.URL, "--did", "+33 1 87 65 43 21", "--events", "call.ended,voicemail.new")
	if r.code != 0 || !strings.Contains(r.stdout, "+33187654321") || !strings.Contains(r.stdout, "events call.ended,voicemail.new") {
		t.Fatalf("add from env: %+v", r)
	}
	brokenID := strings.Fields(r.stdout)[1]

	r = vnumctl(t, url, "webhooks", "list")
	if r.code != 0 || !strings.Contains(r.stdout, added.ID) || !strings.Contains(r.stdout, brokenID) ||
		!strings.Contains(r.stdout, "all numbers") || !strings.Contains(r.stdout, broken.URL) {
		t.Fatalf("list: %+v", r)
	}
	outputs := r.stdout + vnumctl(t, url, "--json", "webhooks", "list").stdout

	// vnumd's dispatcher delivers two events: one to both endpoints.
	s := redisstore.New(srv.Client(), redisstore.Options{})
	d, err := webhook.New(s, webhook.Options{StatusEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	d.Publish(webhook.Event{Type: webhook.CallEnded, DID: "+33187654321", CallID: "c1"})
	d.Publish(webhook.Event{Type: webhook.CallStarted, DID: "+33187654321", CallID: "c2"})
	ok.WaitDelivered(t, 2, 10*time.Second)
	broken.WaitRequests(t, 1, 10*time.Second)
	var st []struct {
		ID        string `json:"id"`
		Delivered int64  `json:"delivered"`
		Failed    int64  `json:"failed"`
		LastError string `json:"last_error"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r = vnumctl(t, url, "--json", "webhooks", "status")
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || r.code != 0 || len(st) != 2 {
			t.Fatalf("status: %+v %v", r, err)
		}
		if st[0].Delivered == 2 && st[1].Failed == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed the deliveries: %+v", st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	d.Close()
	if st[0].ID != added.ID || st[1].ID != brokenID || !strings.Contains(st[1].LastError, "404") {
		t.Fatalf("status: %+v", st)
	}
	if n := len(broken.Requests()); n != 1 {
		t.Fatalf("per-number endpoint filtered to call.ended got %d requests", n)
	}
	r = vnumctl(t, url, "webhooks", "status")
	if r.code != 0 || !strings.Contains(r.stdout, "DELIVERED") || !strings.Contains(r.stdout, "404 Not Found (not retried)") {
		t.Fatalf("status text: %+v", r)
	}
	outputs += r.stdout + r.stderr

	r = vnumctl(t, url, "webhooks", "remove", brokenID)
	if r.code != 0 || !strings.Contains(r.stdout, brokenID) {
		t.Fatalf("remove: %+v", r)
	}
	r = vnumctl(t, url, "webhooks", "remove", brokenID)
	if r.code != 1 || !oneLine(r) || !strings.Contains(r.stderr, brokenID) {
		t.Fatalf("remove again: %+v", r)
	}
	r = vnumctl(t, url, "--json", "webhooks", "status")
	if r.code != 0 || strings.Contains(r.stdout, brokenID) {
		t.Fatalf("status after remove: %+v", r)
	}
	if keys := srv.Client().Keys(context.Background(), "*"+brokenID+"*").Val(); len(keys) != 0 {
		t.Fatalf("removed endpoint left %v", keys)
	}
	if strings.Contains(outputs+r.stdout, hookSecret) {
		t.Fatal("an output shows the secret")
	}
}

// Bad input: one line naming the bad value, exit 1, nothing in Redis; the
// secret and URL passwords are never echoed.
func TestWebhooksBadInputWritesNothing(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	good := secretFile(t, hookSecret)
	short := secretFile(t, "tiny-s3cret")
	empty := secretFile(t, "\n")
	missing := filepath.Join(t.TempDir(), "nope")
	cases := []struct {
		args []string
		env  string
		code int
		name string
	}{
		{[]string{"--url", "ftp://hooks.example.com/x", "--secret-file", good}, "", 1, "--url \"ftp://hooks.example.com/x\""},
		{[]string{"--url", "hooks.example.com/x", "--secret-file", good}, "", 1, "hooks.example.com/x"},
		{[]string{"--url", "https:///x", "--secret-file", good}, "", 1, "host"},
		{[]string{"--url", "https://admin:pa55word@hooks.example.com/x", "--secret-file", good}, "", 1, "userinfo"},
		{[]string{"--url", "https://hooks.example.com/x#top", "--secret-file", good}, "", 1, "fragment"},
		{[]string{"--url", "", "--secret-file", good}, "", 1, "--url"},
		{[]string{"--url", "https://hooks.example.com/x"}, "", 1, "--secret-file"},
		{[]string{"--url", "https://hooks.example.com/x", "--secret-file", short}, "", 1, short},
		{[]string{"--url", "https://hooks.example.com/x", "--secret-file", empty}, "", 1, "missing"},
		{[]string{"--url", "https://hooks.example.com/x", "--secret-file", missing}, "", 1, missing},
		{[]string{"--url", "https://hooks.example.com/x"}, "tiny-s3cret", 1, "VNUM_WEBHOOK_SECRET"},
		{[]string{"--url", "https://hooks.example.com/x", "--secret-file", good, "--events", "call.ended,call.exploded"}, "", 1, "call.exploded"},
		{[]string{"--url", "https://hooks.example.com/x", "--secret-file", good, "--did", "12ab"}, "", 1, "12ab"},
		{[]string{"--url", "https://hooks.example.com/x", "--secret-file", good, "--secret", hookSecret}, "", 2, "secret"},
		{[]string{"--secret-file", good}, "", 1, "url"},
	}
	for _, c := range cases {
		t.Setenv("VNUM_WEBHOOK_SECRET", c.env)
		r := vnumctl(t, url, append([]string{"webhooks", "add"}, c.args...)...)
		if r.code != c.code || !oneLine(r) || !strings.Contains(r.stderr, c.name) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want one line naming %q)", c.args, r.code, c.code, r.stderr, c.name)
		}
		for _, secret := range []string{hookSecret, "tiny-s3cret", "pa55word"} {
			if strings.Contains(r.stderr+r.stdout, secret) {
				t.Errorf("%v: output echoes a secret: %q", c.args, r.stderr)
			}
		}
	}
	if keys := srv.Client().Keys(context.Background(), "*").Val(); len(keys) != 0 {
		t.Fatalf("bad input wrote %v", keys)
	}
}
