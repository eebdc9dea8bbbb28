package esl

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/routing/callflow"
)

// What a real FreeSWITCH 1.10.12 sent for one inbound SIP MESSAGE and two
// sends (shared fixtures2 sms_message, plain events): RECV_MESSAGE and
// two MESSAGE copies make one message for the engine; the delivery report
// of vnumd's own `api chat` (MESSAGE, proto global) and the CUSTOM
// SMS::SEND_MESSAGE copies make none.
func TestRealFreeSWITCHMessage(t *testing.T) {
	f, err := os.Open("testdata/sms_message.conn1.fs2ctl.raw")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := testDriver(t)
	fr := eslconn.NewFrameReader(f, 0)
	var got []callflow.Event
	names := map[string]int{}
	for {
		fm, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if fm.ContentType() != eslconn.TypeEventPlain {
			continue
		}
		ev, err := eslconn.ParseEvent(fm)
		if err != nil {
			t.Fatal(err)
		}
		names[ev.Name]++
		if o, ok := d.translate(ev); ok {
			got = append(got, o)
		}
	}
	if names["MESSAGE"] < 3 || names["RECV_MESSAGE"] != 1 {
		t.Fatalf("the capture holds %v", names)
	}
	if len(got) != 1 {
		t.Fatalf("%d events for one SIP MESSAGE: %+v", len(got), got)
	}
	m := got[0].Message
	if got[0].Kind != callflow.EvMessage || m == nil || m.From != "15550009999" || m.To != "14155550100" ||
		!strings.HasPrefix(m.Body, "Hello vnum, your code is 4242") || m.At.IsZero() {
		t.Fatalf("event %+v message %+v", got[0], m)
	}
}

func TestMessageUser(t *testing.T) {
	for in, want := range map[string]string{"15550009999": "15550009999", "+447700900123": "+447700900123",
		"%2B447700900123": "+447700900123", "anonymous": "anonymous"} {
		if got, err := MessageUser(in); err != nil || got != want {
			t.Errorf("MessageUser(%q) = %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "a b", "a\nb", "%0Aapi", "x@y", "{x}", "%zz", strings.Repeat("1", 65)} {
		if got, err := MessageUser(bad); err == nil {
			t.Errorf("MessageUser(%q) = %q, want an error", bad, got)
		}
	}
}

// FuzzParseMessage: MESSAGE / RECV_MESSAGE events as plain ESL bodies.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		"Event-Name: MESSAGE\nproto: sip\nfrom_user: 15550009999\nto_user: 14155550100\nvnum_sms_did: 14155550100\nContent-Length: 5\n\nhello",
		"proto: sip\nfrom: 1%40x\nto: 2%40y\nEvent-Name: RECV_MESSAGE\nContent-Length: 2\n\nhi",
		"Event-Name: MESSAGE\nproto: global\nfrom: 1%40x\nto: lab/sip%3A2%40y\nDelivery-Result-Code: 202\n\n",
		"Event-Name: MESSAGE\nproto: sip\nfrom_user: %0A%0Aapi hupall\nto_user: 1\n\n",
		"Event-Name: MESSAGE\nproto: sip\nfrom_user: 1\nto_user: 2\nContent-Length: 9\n\na\n\nb\r\nc\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := eslconn.ParseEvent(&eslconn.Frame{Headers: []eslconn.Header{{Name: "Content-Type", Value: eslconn.TypeEventPlain}}, Body: body})
		if err != nil {
			return
		}
		m, err := ParseMessage(ev)
		if err != nil {
			return
		}
		for _, u := range []string{m.From, m.To} {
			if u == "" || len(u) > 64 || strings.ContainsAny(u, "\r\n\x00 {}|'\"@%") {
				t.Fatalf("user %q from %q", u, body)
			}
		}
		if m.Body != ev.Body {
			t.Fatalf("body changed")
		}
	})
}
