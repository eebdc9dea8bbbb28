package esl_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/vnum/vnum/esl"
	"github.com/vnum/vnum/esl/esltest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

const msgTrunk = "sip:{e164}@sms.carrier.example"

func withMessaging(o *esl.Options, _ *esltest.Options) { o.MessageTrunk = msgTrunk }

func isMessage(ev callflow.Event) bool { return ev.Kind == callflow.EvMessage }

// One SIP MESSAGE (RECV_MESSAGE + two MESSAGE events on FreeSWITCH) is
// one message for the engine, from the sender to the DID, text intact.
func TestInboundMessageOnce(t *testing.T) {
	l := newLab(t, nil, withMessaging)
	l.srv.InboundMessage("+447700900123", "+33187654321", "code 4242\n\nbye")
	ev := l.snk.wait(t, "the message", isMessage)
	if m := ev.Message; m.From != "+447700900123" || m.To != "33187654321" || m.Body != "code 4242\n\nbye" {
		t.Fatalf("message %+v", m)
	}
	l.srv.InboundMessage("+447700900123", "+33187654321", "second")
	l.snk.wait(t, "the second message", func(ev callflow.Event) bool { return isMessage(ev) && ev.Message.Body == "second" })
	if n := l.snk.count(isMessage); n != 2 {
		t.Fatalf("%d messages for 2 SIP MESSAGEs", n)
	}
}

// SendMessage fires SMS::SEND_MESSAGE with the text as a Content-Length
// body: a text with blank lines and ESL commands in it stays text, no
// command is added, and the next command still gets its own reply.
func TestSendMessageCannotInject(t *testing.T) {
	l := newLab(t, nil, withMessaging)
	hostile := "hi\n\napi hupall NORMAL_CLEARING\n\nsendevent CUSTOM\nEvent-Subclass: x\n\n|a|b| {x} 'q' \"z\" é"
	mobile := routing.Target{E164: "+33612345678"}
	if err := l.drv.SendMessage(ctx5(t), "+33187654321", mobile, hostile); err != nil {
		t.Fatal(err)
	}
	app := routing.Target{SIPURI: "sip:owner@app.example.com"}
	if err := l.drv.SendMessage(ctx5(t), "+33187654321", app, "second"); err != nil {
		t.Fatal(err)
	}
	msgs := l.srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("sent %+v", msgs)
	}
	m := msgs[0]
	if m.Body != hostile || m.To != "external/sip:+33612345678@sms.carrier.example" ||
		m.From != "+33187654321@sms.carrier.example" || m.Profile != "external" || m.Headers["type"] != "text/plain" {
		t.Fatalf("first message %+v", m)
	}
	if msgs[1].To != "external/sip:owner@app.example.com" || msgs[1].Body != "second" {
		t.Fatalf("second message %+v", msgs[1])
	}
	if inj := l.srv.Injected(); len(inj) != 0 {
		t.Fatalf("injected: %q", inj)
	}
	for _, c := range l.srv.Commands() {
		if strings.HasPrefix(c, "api hupall") {
			t.Fatalf("a hupall reached FreeSWITCH: %q", c)
		}
	}
}

func TestSendMessageRefusals(t *testing.T) {
	l := newLab(t, nil) // no MessageTrunk
	mobile := routing.Target{E164: "+33612345678"}
	if err := l.drv.SendMessage(ctx5(t), "+33187654321", mobile, "x"); !errors.Is(err, esl.ErrBadMessage) {
		t.Fatalf("E.164 target without a message trunk: %v", err)
	}
	app := routing.Target{SIPURI: "sip:owner@app.example.com"}
	for _, tc := range []struct{ from, body string }{{"", "x"}, {"anonymous", "x"}, {"+33187654321", ""},
		{"+33187654321", strings.Repeat("x", routing.MaxMessageBody+1)}, {"+33187654321", "a\x00b"}, {"+33187654321", "\xff"}} {
		if err := l.drv.SendMessage(ctx5(t), tc.from, app, tc.body); !errors.Is(err, esl.ErrBadMessage) {
			t.Errorf("from %q, %d bytes: %v", tc.from, len(tc.body), err)
		}
	}
	if err := l.drv.SendMessage(ctx5(t), "+33187654321", routing.Target{SIPURI: "sip:a b@x"}, "x"); err == nil {
		t.Fatal("an unsafe SIP target was accepted")
	}
	if n := len(l.srv.Messages()); n != 0 {
		t.Fatalf("%d messages reached FreeSWITCH", n)
	}
	for _, o := range []esl.Options{
		{MessageTrunk: "sip:+1@x"},
		{MessageTrunk: "external/{e164}"},
		{MessageTrunk: "sip:{e164}@x y"},
		{MessageProfile: "a/b"},
		{MessageDomain: "x\nsendevent"},
	} {
		o.Password, o.Trunk = "not-the-default", trunk
		if _, err := esl.New(o); !errors.Is(err, esl.ErrConfig) {
			t.Errorf("options %+v: %v", o, err)
		}
	}
}

// A target that is not a number (a reply to a short code) is refused
// without its text in the error (it is a sender's number).
func TestSendMessageBadTargetNotInError(t *testing.T) {
	l := newLab(t, nil, withMessaging)
	err := l.drv.SendMessage(ctx5(t), "+33187654321", routing.Target{E164: "73055"}, "x")
	if !errors.Is(err, routing.ErrBadTarget) || strings.Contains(err.Error(), "73055") {
		t.Fatalf("error %v", err)
	}
}
