package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad retention or consent settings: one line naming the value, exit 1,
// before vnumd starts.
func TestBadRetentionConfig(t *testing.T) {
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("pw-for-tests"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		flags []string
		name  string
	}{
		{[]string{"--consent-countries", "FR,France"}, "France"},
		{[]string{"--recording-retention", "-1h"}, "-1h"},
		{[]string{"--voicemail-retention", "-24h"}, "--voicemail-retention"},
		{[]string{"--sms-retention", "-1m"}, "--sms-retention"},
	} {
		var errb bytes.Buffer
		args := append([]string{"vnumd", "asterisk", "--trunk", "PJSIP/{e164}@carrier", "--ari-password-file", pw,
			"--redis", "redis://127.0.0.1:1/0", "--listen", "127.0.0.1:0"}, c.flags...)
		code := run(args, &errb)
		if code != 1 || strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 || !strings.Contains(errb.String(), c.name) {
			t.Errorf("%v: exit %d, stderr %q (want one line naming %s)", c.flags, code, errb.String(), c.name)
		}
	}
	// The environment sets them too.
	t.Setenv("VNUM_CONSENT_COUNTRIES", "DE,XYZ")
	var errb bytes.Buffer
	code := run([]string{"vnumd", "asterisk", "--trunk", "PJSIP/{e164}@carrier", "--ari-password-file", pw,
		"--redis", "redis://127.0.0.1:1/0", "--listen", "127.0.0.1:0"}, &errb)
	if code != 1 || !strings.Contains(errb.String(), "XYZ") {
		t.Errorf("VNUM_CONSENT_COUNTRIES: exit %d, stderr %q", code, errb.String())
	}
}
