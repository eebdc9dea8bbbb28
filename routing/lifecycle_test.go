package routing

import (
	"errors"
	"strings"
	"testing"
)

func TestAreaCode(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"+33187654321", "1"},   // Paris
		{"+33612345678", ""},    // French mobile: no area
		{"+14155550100", "415"}, // San Francisco
		{"+442079460000", "20"}, // London
		{"+4930123456", "30"},   // Berlin
		{"+447700900123", ""},   // UK mobile
		{"not a number", ""},
		{"", ""},
	} {
		if got := AreaCode(c.in); got != c.want {
			t.Errorf("AreaCode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestParsePoolName(t *testing.T) {
	for _, ok := range []string{"paris", "fr-1", "US_east.2", strings.Repeat("a", 64)} {
		if got, err := ParsePoolName(ok); err != nil || got != ok {
			t.Errorf("ParsePoolName(%q) = %q, %v", ok, got, err)
		}
	}
	for _, bad := range []string{"", "a b", "{x}", "a:b", "a*", "é", strings.Repeat("a", 65)} {
		if _, err := ParsePoolName(bad); !errors.Is(err, ErrBadPoolName) {
			t.Errorf("ParsePoolName(%q) = %v, want ErrBadPoolName", bad, err)
		}
	}
}

func FuzzParsePoolName(f *testing.F) {
	for _, s := range []string{"paris", "", "{x}", "a:b*", "fr-1.x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, err := ParsePoolName(s)
		if err != nil {
			return
		}
		if name != s || strings.ContainsAny(name, "{}:*?[] \n") {
			t.Fatalf("accepted unsafe pool name %q", s)
		}
	})
}

func FuzzAreaCode(f *testing.F) {
	for _, s := range []string{"+33187654321", "+14155550100", "+447700900123", "+", "+1", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a := AreaCode(s)
		if a == "" {
			return
		}
		for _, r := range a {
			if r < '0' || r > '9' {
				t.Fatalf("AreaCode(%q) = %q: not digits", s, a)
			}
		}
	})
}
