package main

import (
	"context"
	"strings"
	"testing"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// --sms-target sets where a number's text messages go (national formats
// read in the region), "none" clears it, a bad one is refused.
func TestNumberSMSTarget(t *testing.T) {
	srv := redistest.Start(t)
	url := srv.URL()
	store := redisstore.New(srv.Client(), redisstore.Options{})
	get := func() routing.Number {
		t.Helper()
		n, err := store.GetNumber(context.Background(), "+33187654321")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if r := vnumctl(t, url, "--default-region", "FR", "number", "add", "+33187654321", "--forward", "sip:desk@pbx.example.com",
		"--sms-target", "06 12 34 56 78"); r.code != 0 {
		t.Fatalf("number add: %+v", r)
	}
	if n := get(); n.SMSTarget.E164 != "+33612345678" {
		t.Fatalf("sms target %+v", n.SMSTarget)
	}
	if r := vnumctl(t, url, "number", "show", "+33187654321"); r.code != 0 || !strings.Contains(r.stdout, "sms to     +33612345678\n") {
		t.Fatalf("number show: %+v", r)
	}
	if r := vnumctl(t, url, "number", "update", "+33187654321", "--sms-target", "not a target"); r.code == 0 {
		t.Fatalf("a bad --sms-target was accepted: %+v", r)
	}
	if r := vnumctl(t, url, "number", "update", "+33187654321", "--sms-target", "none"); r.code != 0 {
		t.Fatalf("number update: %+v", r)
	}
	if n := get(); n.SMSTarget != (routing.Target{}) {
		t.Fatalf("sms target after none: %+v", n.SMSTarget)
	}
}
