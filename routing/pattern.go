package routing

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrBadPattern is returned (wrapped) for a block or allow pattern that does
// not parse.
var ErrBadPattern = errors.New("want an E.164 number, a prefix ending in *, or anonymous")

// Pattern matches callers: an exact E.164 number ("+33612345678"), a prefix
// ("+3361*"), or Anonymous (withheld callers). Its string form is its
// canonical spelling, the field name it is stored under.
type Pattern string

// ParsePattern reads a caller pattern. Exact numbers are normalised to
// E.164 with defaultRegion; a prefix must start with '+' and a country code
// digit and hold only digits before its '*'.
func ParsePattern(s, defaultRegion string) (Pattern, error) {
	t := strings.TrimSpace(s)
	if strings.EqualFold(t, Anonymous) {
		return Pattern(Anonymous), nil
	}
	if len(t) > 5 && strings.EqualFold(t[:5], "hmac:") {
		// A caller as hmac deployments record it (CDRs, velocity blocks):
		// blockable without ever knowing the number.
		h := strings.ToLower(t[5:])
		if len(h) != hmacRecordHex || strings.Trim(h, "0123456789abcdef") != "" {
			return "", fmt.Errorf("pattern %q: want hmac: and %d hex digits as records show it: %w", clip(s), hmacRecordHex, ErrBadPattern)
		}
		return Pattern("hmac:" + h), nil
	}
	if strings.HasSuffix(t, "*") {
		p := strings.TrimSuffix(t, "*")
		if strings.HasPrefix(p, "00") {
			p = "+" + p[2:]
		}
		if len(p) < 2 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
			return "", fmt.Errorf("pattern %q: %w", clip(s), ErrBadPattern)
		}
		for _, r := range p[1:] {
			if r < '0' || r > '9' {
				return "", fmt.Errorf("pattern %q: %w", clip(s), ErrBadPattern)
			}
		}
		return Pattern(p + "*"), nil
	}
	e, err := ParseE164(t, defaultRegion)
	if err != nil {
		return "", fmt.Errorf("pattern %q: %w", clip(s), ErrBadPattern)
	}
	return Pattern(e), nil
}

// Candidates lists every pattern that could match caller (already
// normalised by NormalizeCaller), most specific first: the exact number,
// then each of its prefixes from longest to "+d*". The decision looks them
// all up in one request.
func Candidates(caller string) []string {
	if caller == Anonymous {
		return []string{Anonymous}
	}
	if !strings.HasPrefix(caller, "+") {
		return []string{caller}
	}
	// One backing string holds every "prefix*" back to back, so the whole
	// list costs two allocations (this runs for every call).
	n := len(caller)
	var b strings.Builder
	b.Grow((n+1)*n/2 + n)
	for i := n; i >= 2; i-- {
		b.WriteString(caller[:i])
		b.WriteByte('*')
	}
	all := b.String()
	out := make([]string, 0, n)
	out = append(out, caller)
	off := 0
	for i := n; i >= 2; i-- {
		out = append(out, all[off:off+i+1])
		off += i + 1
	}
	return out
}

// Entry is one blocklist or allowlist entry.
type Entry struct {
	Pattern   Pattern    `json:"pattern"`
	Reason    string     `json:"reason,omitempty"`
	Added     time.Time  `json:"added"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Live reports whether the entry is in force at t.
func (e Entry) Live(t time.Time) bool {
	return e.ExpiresAt == nil || t.Before(*e.ExpiresAt)
}

// CheckReason refuses reasons that would make a record unreadable.
func CheckReason(s string) error {
	if len(s) > maxInput {
		return fmt.Errorf("reason %q: longer than %d bytes", clip(s), maxInput)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("reason %q: control character %q", clip(s), r)
		}
	}
	return nil
}
