package webhook

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
)

var (
	// ErrBadURL: an endpoint URL is not an absolute http(s) URL with a
	// host, or carries userinfo or a fragment.
	ErrBadURL = errors.New("bad webhook URL")
	// ErrBadSecret: a signing secret is missing or too short.
	ErrBadSecret = errors.New("bad webhook secret")
	// ErrBadEvent: an event filter names an unknown event type.
	ErrBadEvent = errors.New("unknown webhook event type")
	// ErrBadDID: an endpoint's DID is not an E.164 number.
	ErrBadDID = errors.New("bad webhook DID")
)

// MinSecret is the shortest signing secret accepted, in bytes.
const MinSecret = 16

// maxURL bounds an endpoint URL.
const maxURL = 2048

// Endpoint is one HTTP endpoint receiving events.
type Endpoint struct {
	ID  string `json:"id"`
	URL string `json:"url"`
	// DID limits the endpoint to one number's events; empty means every
	// number's (a global endpoint).
	DID string `json:"did,omitempty"`
	// Events filters by type; empty means every type.
	Events []string `json:"events,omitempty"`
	// Secret signs deliveries. It is never marshalled to JSON, printed or
	// put in an error.
	Secret  string    `json:"-"`
	Created time.Time `json:"created"`
}

// Matches reports whether ev goes to this endpoint.
func (e *Endpoint) Matches(ev *Event) bool {
	if e.DID != "" && e.DID != ev.DID {
		return false
	}
	return len(e.Events) == 0 || slices.Contains(e.Events, ev.Type)
}

// Validate checks every field (not ID and Created, which the store sets).
// Errors name the field and the bad value, never the secret.
func (e *Endpoint) Validate() error {
	if err := ValidateURL(e.URL); err != nil {
		return err
	}
	if e.DID != "" && !isE164(e.DID) {
		return fmt.Errorf("did %q: %w: want +<digits>", clip(e.DID), ErrBadDID)
	}
	for _, t := range e.Events {
		if !KnownType(t) {
			return fmt.Errorf("event %q: %w (known: %s)", clip(t), ErrBadEvent, strings.Join(Types, ", "))
		}
	}
	return ValidateSecret(e.Secret)
}

// ValidateSecret checks a signing secret's length (the message never
// contains the secret).
func ValidateSecret(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("secret: %w: missing", ErrBadSecret)
	case len(s) < MinSecret:
		return fmt.Errorf("secret: %w: %d bytes, want at least %d", ErrBadSecret, len(s), MinSecret)
	case len(s) > 4096:
		return fmt.Errorf("secret: %w: longer than 4096 bytes", ErrBadSecret)
	}
	return nil
}

// ParseEvents reads a comma-separated event filter ("call.ended,voicemail.new");
// "" or "all" mean every type (nil). Duplicates are dropped.
func ParseEvents(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "all" {
		return nil, nil
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if !KnownType(t) {
			return nil, fmt.Errorf("event %q: %w (known: %s)", clip(t), ErrBadEvent, strings.Join(Types, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// ValidateURL accepts an absolute http or https URL with a host and
// without userinfo or fragment. The error quotes the URL with any userinfo
// masked.
func ValidateURL(raw string) error {
	bad := func(why string) error {
		return fmt.Errorf("url %q: %w: %s", redactURL(raw), ErrBadURL, why)
	}
	if raw == "" {
		return fmt.Errorf("url: %w: missing", ErrBadURL)
	}
	if len(raw) > maxURL {
		return bad(fmt.Sprintf("longer than %d bytes", maxURL))
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		return bad("contains spaces or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("scheme must be http or https")
	case u.Opaque != "":
		return bad("not an absolute URL (want scheme://host/...)")
	case u.User != nil || strings.Contains(u.Host, "@"):
		return bad("userinfo not allowed (sign with the secret instead)")
	case u.Hostname() == "":
		return bad("host required")
	case strings.Contains(raw, "#"):
		return bad("fragment not allowed")
	}
	return nil
}

// redactURL masks userinfo, which may hold a password or token, in a URL
// quoted by an error; clips long ones.
func redactURL(raw string) string {
	s := raw
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		end := strings.IndexAny(rest, "/?") // not "#": mask generously
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
			s = s[:i+3] + "xxxxx" + rest[at:]
		}
	} else if at := strings.LastIndex(s, "@"); at >= 0 {
		s = "xxxxx" + s[at:]
	}
	return clip(s)
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

func isE164(s string) bool {
	if len(s) < 2 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
