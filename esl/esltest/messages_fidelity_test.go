package esltest_test

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vnum/vnum/esl/eslconn"
)

// TestFidelityInboundMessage: for one SIP MESSAGE a real FreeSWITCH
// (fixture sms_message, plain events) sent RECV_MESSAGE and two MESSAGE
// events with one Event-Sequence; the emulator sends the same three, in
// that order, with every header FreeSWITCH put in them and the same
// values for the ones a controller reads, and the text as the body.
func TestFidelityInboundMessage(t *testing.T) {
	data, err := os.ReadFile("testdata/sms_message.conn1.fs2ctl.raw")
	if err != nil {
		t.Fatal(err)
	}
	var want []eslconn.Event
	for _, f := range readFrames(t, data) {
		if f.ContentType() != eslconn.TypeEventPlain {
			continue
		}
		ev, err := eslconn.ParseEvent(f)
		if err != nil {
			t.Fatal(err)
		}
		if (ev.Name == "MESSAGE" || ev.Name == "RECV_MESSAGE") && ev.Headers["proto"] == "sip" {
			want = append(want, ev)
		}
	}
	if len(want) != 3 {
		t.Fatalf("the capture has %d inbound message events", len(want))
	}
	s := newLab(t)
	c := client(t, s, "MESSAGE", "RECV_MESSAGE")
	s.InboundMessage("15550009999", "14155550100", want[0].Body)
	var got []eslconn.Event
	for _, w := range want {
		got = append(got, next(t, c, w.Name))
	}
	volatile := []string{"Core-UUID", "Event-Date-Local", "Event-Date-GMT", "Event-Date-Timestamp", "Event-Sequence",
		"FreeSWITCH-Hostname", "FreeSWITCH-Switchname", "FreeSWITCH-IPv4", "FreeSWITCH-IPv6", "from_full", "from_sip_port"}
	for i, w := range want {
		g := got[i]
		if g.Name != w.Name || g.Body != w.Body {
			t.Fatalf("event %d: %s %q, want %s %q", i, g.Name, g.Body, w.Name, w.Body)
		}
		for k, v := range w.Headers {
			gv, ok := g.Headers[k]
			if !ok {
				t.Errorf("event %d (%s): header %s missing", i, w.Name, k)
				continue
			}
			if !slices.Contains(volatile, k) && k != "Content-Length" && gv != v {
				t.Errorf("event %d (%s): %s = %q, want %q", i, w.Name, k, gv, v)
			}
		}
		if g.Headers["Event-Sequence"] != got[0].Headers["Event-Sequence"] {
			t.Errorf("event %d has another Event-Sequence", i)
		}
	}
}

// TestFidelitySendMessage replays the controller's `sendevent CUSTOM`
// SMS::SEND_MESSAGE of the capture byte for byte: the emulator answers
// "+OK <uuid>" as FreeSWITCH did and records the message; the command
// after it is read as one (the body did not spill over).
func TestFidelitySendMessage(t *testing.T) {
	data, err := os.ReadFile("testdata/sms_message.conn1.ctl2fs.raw")
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte("sendevent CUSTOM"))
	if i < 0 {
		t.Fatal("no sendevent in the capture")
	}
	cmd := string(data[i:])
	head, rest, _ := strings.Cut(cmd, "\n\n")
	clh := head[strings.Index(head, "Content-Length: ")+len("Content-Length: "):]
	n, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(clh, "\n", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	cmd = head + "\n\n" + rest[:n]
	s := newLab(t)
	rc := rawDial(t, s)
	rc.until(func(f *eslconn.Frame) bool { return f.ContentType() == "auth/request" })
	rc.send("auth " + s.Password() + "\n\n")
	rc.until(isReply)
	rc.send(cmd + "api status\n\n")
	rc.until(isReply)
	if rt := rc.all[len(rc.all)-1].Get("Reply-Text"); !uuidRE.MatchString(rt) || !strings.HasPrefix(rt, "+OK ") {
		t.Fatalf("reply %q, want +OK <uuid>", rt)
	}
	rc.until(isReply)
	if ct := rc.all[len(rc.all)-1].ContentType(); ct != eslconn.TypeAPIResponse {
		t.Fatalf("the command after the sendevent got %q", ct)
	}
	ms := s.Messages()
	if len(ms) != 1 || ms[0].To != "lab/sip:14155550100@127.0.0.1:5082" || ms[0].From != "15551230001@127.0.0.1" ||
		ms[0].Profile != "lab" || ms[0].Body != "Reply from vnum via sendevent SMS::SEND_MESSAGE" {
		t.Fatalf("recorded %+v", ms)
	}
	if inj := s.Injected(); len(inj) != 0 {
		t.Fatalf("injected: %q", inj)
	}
}
