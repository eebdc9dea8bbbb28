package webhook_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/internal/webhook"
)

const secret = "whsec_0123456789abcdef"

func TestSignVerify(t *testing.T) {
	at := time.Unix(1_790_000_000, 0)
	body := []byte(`{"id":"evt_1","type":"call.ended"}`)
	h := webhook.Sign(secret, at, body)
	if !strings.HasPrefix(h, "t=1790000000,v1=") || len(h) != len("t=1790000000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	if err := webhook.Verify(secret, h, body, 5*time.Minute, at.Add(4*time.Minute)); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	// A receiver rotating secrets gets both signatures; either matches.
	other := webhook.Sign("another-secret-0123456789", at, body)
	rot := h + "," + other[strings.Index(other, "v1="):]
	if err := webhook.Verify("another-secret-0123456789", rot, body, time.Minute, at); err != nil {
		t.Fatalf("second v1 refused: %v", err)
	}
	cases := []struct {
		name   string
		secret string
		header string
		body   string
		now    time.Time
		want   error
	}{
		{"tampered body", secret, h, `{"id":"evt_1","type":"call.started"}`, at, webhook.ErrSignature},
		{"wrong secret", "not-the-secret-at-all", h, string(body), at, webhook.ErrSignature},
		{"empty secret", "", h, string(body), at, webhook.ErrSignature},
		{"too old (replay)", secret, h, string(body), at.Add(6 * time.Minute), webhook.ErrTimestamp},
		{"from the future", secret, h, string(body), at.Add(-6 * time.Minute), webhook.ErrTimestamp},
		{"timestamp changed", secret, strings.Replace(h, "t=1790000000", "t=1790000001", 1), string(body), at, webhook.ErrSignature},
		{"empty header", secret, "", string(body), at, webhook.ErrBadSignatureHeader},
		{"no timestamp", secret, h[strings.Index(h, "v1="):], string(body), at, webhook.ErrBadSignatureHeader},
		{"no v1", secret, "t=1790000000", string(body), at, webhook.ErrBadSignatureHeader},
		{"two timestamps", secret, "t=1," + h, string(body), at, webhook.ErrBadSignatureHeader},
		{"short v1", secret, "t=1790000000,v1=abcd", string(body), at, webhook.ErrBadSignatureHeader},
		{"signed timestamp", secret, "t=+1790000000" + h[12:], string(body), at, webhook.ErrBadSignatureHeader},
		{"garbage", secret, "hello", string(body), at, webhook.ErrBadSignatureHeader},
		{"huge", secret, h + strings.Repeat(",x=y", 2000), string(body), at, webhook.ErrBadSignatureHeader},
	}
	for _, c := range cases {
		err := webhook.Verify(c.secret, c.header, []byte(c.body), 5*time.Minute, c.now)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %q quotes the secret", c.name, err)
		}
	}
	// Unknown schemes are ignored (room for a v2).
	if err := webhook.Verify(secret, h+",v0=zz,scheme2=abc", body, time.Minute, at); err != nil {
		t.Fatalf("unknown element refused: %v", err)
	}
	// Tolerance 0 skips the time check.
	if err := webhook.Verify(secret, h, body, 0, at.Add(24*time.Hour)); err != nil {
		t.Fatalf("tolerance 0: %v", err)
	}
}

// FuzzVerify: the header parser never panics, and nothing but the right
// signature over the exact body is accepted.
func FuzzVerify(f *testing.F) {
	at := time.Unix(1_790_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	good := webhook.Sign(secret, at, body)
	for _, s := range []string{good, "", "t=", "v1=", "t=1,v1=00", "t=1790000000,v1=" + strings.Repeat("0", 64),
		good + "," + good, "t=1790000000 , v1=" + good[16:], "t=99999999999999999999,v1=aa", ",,,", "t=1790000000,v1=" + strings.Repeat("g", 64)} {
		f.Add(s, body)
	}
	f.Add(good, []byte(`{"id":"evt_2"}`))
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		err := webhook.Verify(secret, header, b, 0, at)
		if err != nil {
			if !errors.Is(err, webhook.ErrBadSignatureHeader) && !errors.Is(err, webhook.ErrSignature) && !errors.Is(err, webhook.ErrTimestamp) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		// Accepted: some element must be the true signature for its timestamp.
		var ts string
		for _, part := range strings.Split(header, ",") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(part), "t="); ok {
				ts = v
			}
		}
		var n int64
		for _, c := range ts {
			n = n*10 + int64(c-'0')
		}
		want := webhook.Sign(secret, time.Unix(n, 0), b)
		if !strings.Contains(strings.ToLower(strings.ReplaceAll(header, " ", "")), want[strings.Index(want, "v1="):]) {
			t.Fatalf("accepted %q for body %q", header, b)
		}
	})
}
