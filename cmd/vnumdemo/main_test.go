package main

import (
	"bytes"
	"strings"
	"testing"
)

// The demo the README promises shows the flows on both PBXs: masking,
// the block, busy then next, the abandoned call, the unknown number, and
// the CDRs.
func TestDemo(t *testing.T) {
	for _, pbx := range []string{"asterisk", "freeswitch"} {
		t.Run(pbx, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			if code := run([]string{"-pbx", pbx}, &out); code != 0 {
				t.Fatalf("exit %d:\n%s", code, out.String())
			}
			s := out.String()
			for _, want := range []string{
				`saw caller ID "+33187654321" <+33187654321>`,
				"heard [busy]",
				"reject   rejected   blocked-by-number-list",
				"answered   forward                 +33140000000",
				"abandoned",
				"unknown  rejected   unknown-number",
				"recordings of +33187654321: 2",
			} {
				if !strings.Contains(s, want) {
					t.Errorf("demo output lacks %q:\n%s", want, s)
				}
			}
			if strings.Contains(s, "Alice Caller\" <") || strings.Contains(s, "<+447700900123>") {
				t.Errorf("the caller's identity shown to a callee:\n%s", s)
			}
		})
	}
}
