package routing_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
)

func TestParseGreeting(t *testing.T) {
	good := map[string][2]string{
		"sound:vm-intro":                   {"sound", "vm-intro"},
		"sound:custom/welcome_2.en":        {"sound", "custom/welcome_2.en"},
		"file:alice/greeting.wav":          {"file", "alice/greeting.wav"},
		"file:" + strings.Repeat("a", 128): {"file", strings.Repeat("a", 128)},
	}
	for in, w := range good {
		src, name, err := routing.ParseGreeting(in)
		if err != nil || src != w[0] || name != w[1] {
			t.Errorf("ParseGreeting(%q) = %q, %q, %v; want %q, %q", in, src, name, err, w[0], w[1])
		}
	}
	bad := []string{
		"", "vm-intro", "sound:", "file:", "tone:beep", "SOUND:x", ":x",
		"file:" + strings.Repeat("a", 129),
		"file:../../etc/passwd", "file:/etc/passwd", "file:a//b", "file:a/", "file:./a", "sound:a/../b",
		"sound:a b", "sound:a,b", "sound:a;b", "sound:a\nb", "file:a'b", "sound:a}b", "sound:é",
		"sound:a:b", "file:x|y", "sound:a\\b",
	}
	for _, in := range bad {
		_, _, err := routing.ParseGreeting(in)
		if !errors.Is(err, routing.ErrBadGreeting) {
			t.Errorf("ParseGreeting(%q) = %v, want ErrBadGreeting", in, err)
			continue
		}
		// The message names the value, on one line.
		if strings.Contains(err.Error(), "\n") || (len(in) < 30 && !strings.Contains(err.Error(), strconv.Quote(in))) {
			t.Errorf("ParseGreeting(%q): message %q", in, err)
		}
	}
}

func TestMailboxValidate(t *testing.T) {
	if err := routing.DefaultMailbox().Validate(); err != nil {
		t.Fatalf("default mailbox: %v", err)
	}
	if d := routing.DefaultMailbox(); d.Greeting != "" || d.MaxMessage != 2*time.Minute {
		t.Fatalf("default mailbox: %+v", d)
	}
	for _, m := range []routing.Mailbox{
		{MaxMessage: time.Second},
		{MaxMessage: 10 * time.Minute},
		{Greeting: "sound:vm-intro", MaxMessage: 90 * time.Second},
	} {
		if err := m.Validate(); err != nil {
			t.Errorf("%+v: %v", m, err)
		}
	}
	for _, m := range []routing.Mailbox{
		{},
		{MaxMessage: 999 * time.Millisecond},
		{MaxMessage: 1500 * time.Millisecond},
		{MaxMessage: 10*time.Minute + time.Second},
		{MaxMessage: -time.Minute},
	} {
		if err := m.Validate(); !errors.Is(err, routing.ErrBadMaxMessage) || !strings.Contains(err.Error(), m.MaxMessage.String()) {
			t.Errorf("%+v: %v, want ErrBadMaxMessage naming the length", m, err)
		}
	}
	if err := (routing.Mailbox{Greeting: "file:../x", MaxMessage: time.Minute}).Validate(); !errors.Is(err, routing.ErrBadGreeting) {
		t.Errorf("bad greeting accepted: %v", err)
	}
	m := routing.Mailbox{Greeting: "file:bob/hello.wav", MaxMessage: time.Minute}
	if src, name := m.GreetingSource(); src != routing.GreetingFile || name != "bob/hello.wav" {
		t.Errorf("GreetingSource = %q, %q", src, name)
	}
	if src, name := routing.DefaultMailbox().GreetingSource(); src != "" || name != "" {
		t.Errorf("default GreetingSource = %q, %q", src, name)
	}
}

// FuzzParseGreeting: whatever an operator types, an accepted greeting is
// one the PBX can be given as is: the safe alphabet, a bounded, relative
// path that never climbs out of its directory.
func FuzzParseGreeting(f *testing.F) {
	for _, s := range []string{"sound:vm-intro", "file:alice/greeting.wav", "file:../x", "sound:a\n\nb", "file:/etc/passwd", "sound:" + strings.Repeat("x", 200), "file:a//b", "sound:."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		src, name, err := routing.ParseGreeting(s)
		if err != nil {
			if !errors.Is(err, routing.ErrBadGreeting) || strings.ContainsAny(err.Error(), "\n\r") {
				t.Fatalf("%q: %v", s, err)
			}
			return
		}
		if src+":"+name != s || (src != routing.GreetingSound && src != routing.GreetingFile) {
			t.Fatalf("%q parsed as %q, %q", s, src, name)
		}
		if len(name) == 0 || len(name) > 128 || badPart(name) {
			t.Fatalf("%q: unsafe name %q accepted", s, name)
		}
		for _, r := range name {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_.-", r)) {
				t.Fatalf("%q: unsafe rune %q accepted", s, r)
			}
		}
		if err := (routing.Mailbox{Greeting: s, MaxMessage: time.Minute}).Validate(); err != nil {
			t.Fatalf("%q: parses but does not validate: %v", s, err)
		}
	})
}

// badPart: an empty, "." or ".." part (a leading '/' makes an empty one).
func badPart(name string) bool {
	for _, p := range strings.Split(name, "/") {
		if p == "" || p == "." || p == ".." {
			return true
		}
	}
	return false
}
