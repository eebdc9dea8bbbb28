package webhook_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/vnum/vnum/internal/webhook"
)

func TestValidateURL(t *testing.T) {
	good := []string{"https://hooks.example.com/vnum", "http://127.0.0.1:8080/x?token=abc", "https://[::1]:9000/", "HTTPS://Example.com"}
	for _, u := range good {
		if err := webhook.ValidateURL(u); err != nil {
			t.Errorf("%q refused: %v", u, err)
		}
	}
	bad := []struct{ url, why string }{
		{"", "missing"},
		{"ftp://example.com/x", "scheme"},
		{"example.com/hook", "scheme"},
		{"/hook", "scheme"},
		{"https:///path", "host"},
		{"https://:443/path", "host"},
		{"https://user:hunter2@example.com/x", "userinfo"},
		{"https://tok3n@example.com/x", "userinfo"},
		{"https://example.com/x#frag", "fragment"},
		{"https://example.com/x#", "fragment"},
		{"https://exa mple.com/", "spaces"},
		{"https://example.com/\n", "control"},
		{"https:example.com", "absolute"},
		{"javascript:alert(1)", "scheme"},
		{"https://example.com/" + strings.Repeat("a", 3000), "longer"},
	}
	for _, c := range bad {
		err := webhook.ValidateURL(c.url)
		if !errors.Is(err, webhook.ErrBadURL) || !strings.Contains(err.Error(), c.why) || !strings.HasPrefix(err.Error(), "url") {
			t.Errorf("%q: %v (want ErrBadURL saying %q)", c.url, err, c.why)
		}
		if err != nil && (strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "tok3n")) {
			t.Errorf("%q: error echoes the userinfo: %v", c.url, err)
		}
	}
}

func TestValidateEndpoint(t *testing.T) {
	ok := webhook.Endpoint{URL: "https://example.com/h", DID: "+33187654321", Events: []string{"call.ended"}, Secret: secret}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		mod  func(*webhook.Endpoint)
		want error
		name string
	}{
		{func(e *webhook.Endpoint) { e.Secret = "" }, webhook.ErrBadSecret, "secret"},
		{func(e *webhook.Endpoint) { e.Secret = "short-secret" }, webhook.ErrBadSecret, "12 bytes"},
		{func(e *webhook.Endpoint) { e.DID = "0187654321" }, webhook.ErrBadDID, "0187654321"},
		{func(e *webhook.Endpoint) { e.Events = []string{"call.exploded"} }, webhook.ErrBadEvent, "call.exploded"},
		{func(e *webhook.Endpoint) { e.URL = "gopher://x" }, webhook.ErrBadURL, "gopher://x"},
	}
	for _, c := range cases {
		e := ok
		c.mod(&e)
		err := e.Validate()
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	ev, err := webhook.ParseEvents(" call.ended,voicemail.new,call.ended ")
	if err != nil || strings.Join(ev, ",") != "call.ended,voicemail.new" {
		t.Fatalf("ParseEvents: %v %v", ev, err)
	}
	if ev, err := webhook.ParseEvents("all"); ev != nil || err != nil {
		t.Fatalf("all: %v %v", ev, err)
	}
	if _, err := webhook.ParseEvents("call.ended,,"); !errors.Is(err, webhook.ErrBadEvent) {
		t.Fatalf("empty element: %v", err)
	}
}

// FuzzValidateURL: accepted URLs are absolute http(s) with a host and no
// userinfo or fragment; a refusal never echoes the userinfo's password.
func FuzzValidateURL(f *testing.F) {
	for _, s := range []string{"https://example.com/x", "http://a:b@c/", "https://h/#", "ftp://x", "https://[::1]:80/", "http://%41/", "https://a@b@c/", "HTTP://x/", "http://x:99999/", "https://\x00/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		err := webhook.ValidateURL(raw)
		if err != nil {
			if !errors.Is(err, webhook.ErrBadURL) {
				t.Fatalf("%q: %v wraps no ErrBadURL", raw, err)
			}
			if u, perr := url.Parse(raw); perr == nil && u.User != nil {
				if p, ok := u.User.Password(); ok && len(p) > 3 && strings.Contains(err.Error(), p) {
					t.Fatalf("%q: error echoes the password: %v", raw, err)
				}
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || u.Fragment != "" || strings.Contains(raw, "#") {
			t.Fatalf("accepted %q", raw)
		}
	})
}
