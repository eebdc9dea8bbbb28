package callflow_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

// msgStore is a MessageStore whose decision each test sets.
type msgStore struct {
	decide func(ctx context.Context, m routing.MessageIn) (routing.MessageDecision, error)
	mu     sync.Mutex
	seen   []routing.MessageIn
}

func (s *msgStore) DecideMessage(ctx context.Context, m routing.MessageIn) (routing.MessageDecision, error) {
	s.mu.Lock()
	s.seen = append(s.seen, m)
	s.mu.Unlock()
	return s.decide(ctx, m)
}

type sent struct {
	from, body string
	to         routing.Target
}

// msgPBX records SendMessage calls; fail makes one fail.
type msgPBX struct {
	fakePBX
	fail func(to routing.Target) error
	mu   sync.Mutex
	sent []sent
}

func (p *msgPBX) SendMessage(_ context.Context, from string, to routing.Target, body string) error {
	p.mu.Lock()
	p.sent = append(p.sent, sent{from, body, to})
	p.mu.Unlock()
	if p.fail != nil {
		return p.fail(to)
	}
	return nil
}

func (p *msgPBX) all() []sent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]sent(nil), p.sent...)
}

func newMsgEngine(t *testing.T, pbx *msgPBX, st *msgStore, notify ...func(callflow.Notice)) (*callflow.Engine, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	o := callflow.Options{PBX: pbx, Store: nil, Messages: st, Node: "n1", Region: "FR",
		Metrics: callflow.NewMetrics(reg), PBXTimeout: time.Second, Privacy: routing.Privacy{Caller: routing.StoreLast4}}
	if len(notify) > 0 {
		o.Notify = notify[0]
	}
	e := callflow.New(o)
	t.Cleanup(e.Wait)
	return e, reg
}

func count(t *testing.T, reg *prometheus.Registry, result string) int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "vnum_messages_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == result {
					return int(m.GetCounter().GetValue())
				}
			}
		}
	}
	return 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The relay sends the body as it is to every recipient, from what the
// decision says (the DID), with the DID and sender normalised for the
// store: Asterisk gives the DID without its '+'.
func TestMessageRelayedFromTheDID(t *testing.T) {
	pbx := &msgPBX{}
	st := &msgStore{decide: func(_ context.Context, m routing.MessageIn) (routing.MessageDecision, error) {
		return routing.MessageDecision{Action: routing.MessageRelay, From: m.DID,
			To: []routing.Target{{E164: "+33612345678"}, {SIPURI: "sip:b@example.com"}}}, nil
	}}
	var mu sync.Mutex
	var notices []callflow.Notice
	e, reg := newMsgEngine(t, pbx, st, func(n callflow.Notice) { mu.Lock(); notices = append(notices, n); mu.Unlock() })
	body := "line one\n\nline two: {x} 'q' | \"z\""
	e.Dispatch(callflow.Event{Kind: callflow.EvMessage, Message: &callflow.Message{From: "447700900123", To: "33187654321", Body: body}})
	waitFor(t, "two sends", func() bool { return len(pbx.all()) == 2 })
	for _, s := range pbx.all() {
		if s.from != "+33187654321" || s.body != body {
			t.Fatalf("sent %+v", s)
		}
	}
	st.mu.Lock()
	in := st.seen[0]
	st.mu.Unlock()
	if in.DID != "+33187654321" || in.From != "+447700900123" || in.Size != len(body) {
		t.Fatalf("the store was asked %+v", in)
	}
	waitFor(t, "the relayed count and notice", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return count(t, reg, "relayed") == 1 && len(notices) == 1
	})
	// The webhook notice: the sender as the privacy policy keeps it
	// (last 4 digits here), no text.
	mu.Lock()
	defer mu.Unlock()
	if len(notices) != 1 || notices[0].Type != "message.received" || notices[0].DID != "+33187654321" ||
		notices[0].Data["from"] != "…0123" || notices[0].Data["result"] != "relayed" || len(notices[0].Data) != 3 {
		t.Fatalf("notices %+v", notices)
	}
}

// Blocked, dropped and failed messages send nothing and are counted; a
// send that fails counts the message failed.
func TestMessageResultsCounted(t *testing.T) {
	pbx := &msgPBX{fail: func(to routing.Target) error {
		if to.E164 == "+33600000000" {
			return errors.New("endpoint not found")
		}
		return nil
	}}
	st := &msgStore{decide: func(_ context.Context, m routing.MessageIn) (routing.MessageDecision, error) {
		switch m.From {
		case "+447700900001":
			return routing.MessageDecision{Action: routing.MessageBlocked, Reason: routing.ReasonBlockedGlobal}, nil
		case "+447700900002":
			return routing.MessageDecision{Action: routing.MessageDropped, Reason: routing.ReasonUnknownNumber}, nil
		case "+447700900003":
			return routing.MessageDecision{Action: routing.MessageFailed}, errors.New("store down")
		}
		return routing.MessageDecision{Action: routing.MessageRelay, From: m.DID, To: []routing.Target{{E164: "+33600000000"}}}, nil
	}}
	e, reg := newMsgEngine(t, pbx, st)
	for _, from := range []string{"+447700900001", "+447700900002", "+447700900003", "+447700900004"} {
		e.Dispatch(callflow.Event{Kind: callflow.EvMessage, Message: &callflow.Message{From: from, To: "+33187654321", Body: "hi"}})
	}
	waitFor(t, "the counts", func() bool {
		return count(t, reg, "blocked") == 1 && count(t, reg, "dropped") == 1 && count(t, reg, "failed") == 2
	})
	e.Wait()
	if s := pbx.all(); len(s) != 1 || s[0].to.E164 != "+33600000000" {
		t.Fatalf("sent %+v: only the relayed one may be attempted", s)
	}
}

// A slow store never holds up Dispatch (the driver's read loop), and
// Detach waits for the messages in flight (no leaked goroutine).
func TestMessageNeverBlocksDispatch(t *testing.T) {
	release := make(chan struct{})
	pbx := &msgPBX{}
	st := &msgStore{decide: func(ctx context.Context, m routing.MessageIn) (routing.MessageDecision, error) {
		<-release
		return routing.MessageDecision{Action: routing.MessageRelay, From: m.DID, To: []routing.Target{{E164: "+33612345678"}}}, nil
	}}
	e, reg := newMsgEngine(t, pbx, st)
	start := time.Now()
	for range 100 {
		e.Dispatch(callflow.Event{Kind: callflow.EvMessage, Message: &callflow.Message{From: "+447700900123", To: "+33187654321", Body: "x"}})
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("100 messages took %s to dispatch while the store hung", d)
	}
	done := make(chan struct{})
	go func() { e.Detach(); close(done) }()
	select {
	case <-done:
		t.Fatal("Detach returned while messages were in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	<-done
	if n := len(pbx.all()); n != 100 {
		t.Fatalf("%d messages sent, want 100", n)
	}
	// After Detach, a message is refused at once and counted.
	e.Dispatch(callflow.Event{Kind: callflow.EvMessage, Message: &callflow.Message{From: "+447700900123", To: "+33187654321", Body: "x"}})
	if count(t, reg, "failed") != 1 || count(t, reg, "relayed") != 100 {
		t.Fatalf("counts relayed %d failed %d", count(t, reg, "relayed"), count(t, reg, "failed"))
	}
}
