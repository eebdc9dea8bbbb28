package routing

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Voicemail message length limits: what a mailbox may ask the PBX to
// record at most.
const (
	DefaultMaxMessage = 2 * time.Minute
	MinMaxMessage     = time.Second
	MaxMaxMessage     = 10 * time.Minute
)

// Greeting sources. A mailbox's greeting is "" (the PBX's default
// "please leave a message after the tone"), GreetingSound+":"+NAME (one of
// the PBX's sounds) or GreetingFile+":"+NAME (a recording uploaded to the
// PBX's storage).
const (
	GreetingSound = "sound"
	GreetingFile  = "file"
)

// maxGreetingName bounds a greeting's NAME.
const maxGreetingName = 128

var (
	// ErrBadGreeting is returned (wrapped) for a greeting that does not parse.
	ErrBadGreeting = errors.New(`want "sound:NAME" or "file:NAME", NAME 1 to 128 letters, digits, '/', '_', '.' or '-', relative, without ".." or empty parts`)
	// ErrBadMaxMessage is returned (wrapped) for a message length out of range.
	ErrBadMaxMessage = errors.New("want whole seconds from 1s to 10m")
)

// Mailbox is one number's voicemail settings: what the caller hears before
// the beep and how long a message may last. The caller stops recording
// with '#', by silence, or by hanging up.
type Mailbox struct {
	// Greeting is "" for the default prompt, "sound:NAME" or "file:NAME".
	Greeting string `json:"greeting,omitempty"`
	// MaxMessage caps a message (whole seconds, MinMaxMessage..MaxMaxMessage).
	MaxMessage time.Duration `json:"max_message"`
}

// DefaultMailbox is the mailbox of a number that never set one.
func DefaultMailbox() Mailbox { return Mailbox{MaxMessage: DefaultMaxMessage} }

// Validate checks the greeting and the message length.
func (m Mailbox) Validate() error {
	if m.Greeting != "" {
		if _, _, err := ParseGreeting(m.Greeting); err != nil {
			return err
		}
	}
	return ValidateMaxMessage(m.MaxMessage)
}

// GreetingSource splits the greeting into its source (GreetingSound or
// GreetingFile) and name; both are "" for the default prompt or a greeting
// that does not parse.
func (m Mailbox) GreetingSource() (source, name string) {
	source, name, err := ParseGreeting(m.Greeting)
	if err != nil {
		return "", ""
	}
	return source, name
}

// ValidateMaxMessage checks a mailbox's maximum message length.
func ValidateMaxMessage(d time.Duration) error {
	if d < MinMaxMessage || d > MaxMaxMessage || d%time.Second != 0 {
		return fmt.Errorf("max message length %s: %w", d, ErrBadMaxMessage)
	}
	return nil
}

// ParseGreeting checks a greeting ("sound:NAME" or "file:NAME") and returns
// its source and name. Names reach PBX commands and file paths, so only a
// safe alphabet is accepted, and never a path leaving the PBX's sound or
// recording directory.
func ParseGreeting(s string) (source, name string, err error) {
	bad := func() (string, string, error) { return "", "", fmt.Errorf("greeting %q: %w", clip(s), ErrBadGreeting) }
	source, name, ok := strings.Cut(s, ":")
	if !ok || (source != GreetingSound && source != GreetingFile) {
		return bad()
	}
	if len(name) == 0 || len(name) > maxGreetingName {
		return bad()
	}
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '/', c == '_', c == '.', c == '-':
		default:
			return bad()
		}
	}
	for part := range strings.SplitSeq(name, "/") {
		if part == "" || part == "." || part == ".." {
			return bad()
		}
	}
	return source, name, nil
}
