package ari

import (
	"strings"
	"testing"

	"github.com/vnum/vnum/routing/callflow"
)

// The two TextMessageReceived of the real Asterisk capture (sms) reach the
// engine as messages from the carrier's sender to the DID, text intact.
func TestTranslateCapturedMessages(t *testing.T) {
	evs := replay(t, "sms")
	if len(evs) != 2 {
		t.Fatalf("%d events, want the 2 messages", len(evs))
	}
	for _, e := range evs {
		m := e.Message
		if e.Kind != callflow.EvMessage || m == nil || m.From != "+15557770123" || m.To != "14155550100" ||
			m.Body != "Hello from the carrier, vnum SMS test 1" || m.At.IsZero() {
			t.Fatalf("event %+v message %+v", e, m)
		}
	}
}

func TestSIPUser(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`"Carrier SMS" <sip:+15557770123@127.0.0.1>`, "+15557770123"},
		{`"Carrier SMS" <sip:+15557770123@127.0.0.1>;tag=8597SIPpTag091`, "+15557770123"},
		{`pjsip:14155550100@127.0.0.1`, "14155550100"},
		{`pjsip:14155550100@127.0.0.1:5060`, "14155550100"},
		{`<sip:%2B447700900123@carrier.example;transport=udp>`, "+447700900123"},
		{`sip:+33612345678;phone-context=+33@example.com`, "+33612345678"},
		{`"a <b> \" c" <sip:anonymous@anonymous.invalid>`, "anonymous"},
		{`tel:+14155550100`, "+14155550100"},
		{`sips:alice:secret@example.com`, "alice"},
	} {
		got, err := SIPUser(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("SIPUser(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "14155550100", "http://x@y", `"open <sip:1@x>`, "<sip:1@x", "sip:@x", "sip:host.only",
		"sip:a%0Ab@x", "sip:a b@x", "sip:" + strings.Repeat("1", 65) + "@x", "sip:{x}@y", "sip:%zz@x"} {
		if got, err := SIPUser(bad); err == nil {
			t.Errorf("SIPUser(%q) = %q, want an error", bad, got)
		}
	}
}

func FuzzSIPUser(f *testing.F) {
	for _, s := range []string{`"Carrier SMS" <sip:+15557770123@127.0.0.1>`, "pjsip:14155550100@127.0.0.1",
		`"\"<" <sip:1@x>`, "tel:+1", "sip:a%0d%0a@x", "<<sip:1@x>>", `"`, "sip:;@x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := SIPUser(s)
		if err != nil {
			return
		}
		if u == "" || len(u) > 64 || strings.ContainsAny(u, "\r\n\x00 <>\"'{}|&%@:;") {
			t.Fatalf("SIPUser(%q) = %q", s, u)
		}
	})
}
