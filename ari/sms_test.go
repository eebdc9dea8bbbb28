package ari_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/ari"
	"github.com/vnum/vnum/ari/aritest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

func (s *sink) messages() []callflow.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []callflow.Message
	for _, e := range s.evs {
		if e.Kind == callflow.EvMessage && e.Message != nil {
			out = append(out, *e.Message)
		}
	}
	return out
}

func (w *world) subscriptionRequests() int {
	n := 0
	for _, r := range w.srv.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/subscription") {
			n++
		}
	}
	return n
}

// The driver subscribes the app to endpoint:PJSIP when it connects, so
// a carrier's MESSAGE is accepted (202, not 404) and reaches the engine;
// after a reconnect it does not subscribe again (subscriptions outlive
// the WebSocket and are reference counted on Asterisk).
func TestInboundMessagesNeedAndGetTheSubscription(t *testing.T) {
	w := newWorld(t, ari.Options{})
	w.eventually("subscribed", func() bool { return w.subscriptionRequests() >= 1 })
	if n := w.subscriptionRequests(); n != 1 {
		t.Fatalf("%d subscription requests, want 1", n)
	}
	if st := w.srv.InboundMessage(`"Carrier SMS" <sip:+447700900123@127.0.0.1>`, "pjsip:33187654321@127.0.0.1", "code 4242"); st != 202 {
		t.Fatalf("the carrier got %d, want 202", st)
	}
	w.eventually("the message reached the engine", func() bool { return len(w.ev.messages()) == 1 })
	if m := w.ev.messages()[0]; m.From != "+447700900123" || m.To != "33187654321" || m.Body != "code 4242" {
		t.Fatalf("message %+v", m)
	}
	before := w.drv.Connects()
	w.srv.DropWebSocket()
	w.eventually("reconnected", func() bool { return w.drv.Connects() > before && w.srv.Connected("vnum") })
	time.Sleep(100 * time.Millisecond)
	if n := w.subscriptionRequests(); n != 1 {
		t.Fatalf("%d subscription requests after a reconnect, want 1 (they are reference counted)", n)
	}
	if st := w.srv.InboundMessage(`<sip:+447700900123@127.0.0.1>`, "pjsip:33187654321@127.0.0.1", "again"); st != 202 {
		t.Fatalf("after the reconnect the carrier got %d", st)
	}
	w.eventually("the second message", func() bool { return len(w.ev.messages()) == 2 })
}

// SendMessage puts to, from and body in the query string: the text
// reaches Asterisk byte for byte, whatever it holds, and adds no
// parameter; E.164 targets go through the trunk's endpoint, sip: targets
// through the default outbound endpoint.
func TestSendMessage(t *testing.T) {
	w := newWorld(t, ari.Options{})
	body := "Hi & bye=1&to=pjsip:evil\n\nX-Header: y\r\n% é 😀"
	mobile := routing.Target{E164: "+33612345678"}
	if err := w.drv.SendMessage(w.ctx, "+33187654321", mobile, body); err != nil {
		t.Fatal(err)
	}
	got := w.srv.MessagesTo("PJSIP/+33612345678@carrier")
	if len(got) != 1 || got[0].Body != body || got[0].From != "+33187654321" || got[0].To != "pjsip:PJSIP/+33612345678@carrier" {
		t.Fatalf("sent %+v", w.srv.Messages())
	}
	app := routing.Target{SIPURI: "sip:owner@app.example.com"}
	if err := w.drv.SendMessage(w.ctx, "+33187654321", app, "x"); err != nil {
		t.Fatal(err)
	}
	if got := w.srv.MessagesTo("PJSIP/sip:owner@app.example.com"); len(got) != 1 {
		t.Fatalf("sent %+v", w.srv.Messages())
	}
	for _, r := range w.srv.Requests() {
		if r.Method == "PUT" && strings.Contains(r.Query, "evil") && strings.Count(r.Query, "to=") != 1 {
			t.Fatalf("the body added a parameter: %s", r.Query)
		}
	}
	// Refused before anything reaches Asterisk.
	for _, tc := range []struct {
		from, body string
	}{{"", "x"}, {"anonymous", "x"}, {"+33187654321", strings.Repeat("x", routing.MaxMessageBody+1)}, {"+33187654321", "a\x00b"}, {"+33187654321", "\xff"}} {
		if err := w.drv.SendMessage(w.ctx, tc.from, mobile, tc.body); !errors.Is(err, ari.ErrBadMessage) {
			t.Errorf("from %q, %d bytes: %v", tc.from, len(tc.body), err)
		}
	}
	if n := len(w.srv.Messages()); n != 2 {
		t.Fatalf("%d messages reached Asterisk, want 2", n)
	}
}

// Errors say what failed without the numbers or the text (the request's
// URL holds them).
func TestSendMessageErrorsKeepTheTextOut(t *testing.T) {
	w := newWorld(t, ari.Options{})
	const secret = "secret-code-4242"
	nosuch, err := ari.New(ari.Options{URL: w.srv.URL(), User: "vnum", Password: "s3cret-ari", Trunk: "PJSIP/{e164}@nosuch"})
	if err != nil {
		t.Fatal(err)
	}
	err = nosuch.SendMessage(w.ctx, "+33187654321", routing.Target{E164: "+33612345678"}, secret)
	if err == nil || !strings.Contains(err.Error(), "no such endpoint") {
		t.Fatalf("unknown endpoint: %v", err)
	}
	down, err := ari.New(ari.Options{URL: "http://127.0.0.1:1/ari", User: "vnum", Password: "s3cret-ari", Trunk: "PJSIP/{e164}@carrier"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = down.SendMessage(ctx, "+33187654321", routing.Target{E164: "+33612345678"}, secret)
	if err == nil {
		t.Fatal("no error from an Asterisk that is not there")
	}
	for _, leak := range []string{secret, "33612345678", "33187654321", "s3cret-ari"} {
		if strings.Contains(err.Error(), leak) {
			t.Fatalf("the error %q holds %q", err, leak)
		}
	}
	local, err := ari.New(ari.Options{URL: w.srv.URL(), User: "vnum", Password: "s3cret-ari", Trunk: "Local/{e164}@out"})
	if err != nil {
		t.Fatal(err)
	}
	if err := local.SendMessage(w.ctx, "+33187654321", routing.Target{E164: "+33612345678"}, "x"); !errors.Is(err, ari.ErrConfig) {
		t.Fatalf("a non-PJSIP trunk: %v", err)
	}
	if n := len(w.srv.Messages()); n != 0 {
		t.Fatalf("%d messages accepted, want none", n)
	}
}

// A vnumd that stops drops its subscription: while none listens, the
// carrier gets 404 (a failure it can report) rather than a 202 for a
// message Asterisk would drop.
func TestStopUnsubscribesMessages(t *testing.T) {
	srv, err := aritest.New(aritest.Options{User: "vnum", Password: "s3cret-ari", App: "vnum"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	drv, err := ari.New(ari.Options{URL: srv.URL(), User: "vnum", Password: "s3cret-ari", App: "vnum", Trunk: trunk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = drv.Run(ctx, &sink{})
	}()
	deadline := time.Now().Add(5 * time.Second)
	for srv.InboundMessage(`<sip:+447700900123@127.0.0.1>`, "pjsip:33187654321@127.0.0.1", "x") != 202 {
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatal("never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if st := srv.InboundMessage(`<sip:+447700900123@127.0.0.1>`, "pjsip:33187654321@127.0.0.1", "x"); st != 404 {
		t.Fatalf("after vnumd stopped the carrier got %d, want 404", st)
	}
}

// A target that is not a number (a reply to a short code) is refused
// without its text in the error (it is a sender's number).
func TestSendMessageBadTargetNotInError(t *testing.T) {
	w := newWorld(t, ari.Options{})
	err := w.drv.SendMessage(w.ctx, "+33187654321", routing.Target{E164: "73055"}, "x")
	if !errors.Is(err, routing.ErrBadTarget) || strings.Contains(err.Error(), "73055") {
		t.Fatalf("error %v", err)
	}
}
