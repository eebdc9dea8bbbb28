package redisconn

import (
	"strings"
	"testing"
)

func TestOpenKinds(t *testing.T) {
	for _, u := range []string{
		"redis://127.0.0.1:6379/0",
		"rediss://user@host:6380/1",
		"redis://127.0.0.1:26379/0?master_name=mymaster&addr=127.0.0.1:26380",
		"redis+cluster://127.0.0.1:7000?addr=127.0.0.1:7001",
	} {
		c, err := Open(u, Options{})
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		c.Close()
	}
	for _, u := range []string{"http://x", "redis://:s3cret@h:1/0?bogus=1", "::"} {
		_, err := Open(u, Options{})
		if err == nil {
			t.Errorf("%s accepted", u)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("password in error %q", err)
		}
	}
	if _, err := Open("redis://h:1/0", Options{PasswordFile: "/nonexistent"}); err == nil {
		t.Error("a missing password file accepted")
	}
}

// The Redis URL is configuration from outside: it never panics the parser
// and its password never shows in an error.
func FuzzOpen(f *testing.F) {
	for _, s := range []string{"redis://:pw@127.0.0.1:6379/0", "redis+cluster://a:pw@h:1?addr=x", "redis://h/0?master_name=m", "unix:///tmp/s", "%", "redis://:pw@[::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := Open(raw, Options{})
		if err == nil {
			c.Close()
			return
		}
		if i := strings.Index(raw, ":pw@"); i >= 0 && strings.Contains(err.Error(), ":pw@") {
			t.Fatalf("the password shows in %q", err)
		}
	})
}
