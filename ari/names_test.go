package ari

import (
	"net/url"
	"testing"
)

// Whatever checkName accepts goes into a URL path unchanged and cannot
// climb out of its collection.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"vnum-room-1795460768.30", "vnum-vm-1.2", "", ".", "..", "a/b", "a%2Fb", "a b", "ä", "x?y", "x#y", "a\x00b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkName(s) != nil {
			return
		}
		if url.PathEscape(s) != s {
			t.Fatalf("accepted %q, which a URL path must escape", s)
		}
		if s == "." || s == ".." || s == "" {
			t.Fatalf("accepted %q", s)
		}
	})
}

func FuzzCheckMedia(f *testing.F) {
	for _, s := range []string{"sound:followme/options", "tone:busy;tonezone=fr", "sound:../x", "sound:a,b", "file:/x", "sound:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if checkMedia(s) != nil {
			return
		}
		for _, r := range s {
			if r == ',' || r == ' ' || r == '&' || r < 0x20 {
				t.Fatalf("accepted %q", s)
			}
		}
	})
}
