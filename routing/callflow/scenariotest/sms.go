package scenariotest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// The SMS relay scenarios: a text message to a DID reaches the owner from
// the DID (never showing the sender), the owner's reply goes back to the
// sender from the DID, blocked senders reach nobody, and a proxy number
// relays between the participants of a masked session only.

// SentMessage is a text message the PBX was asked to send.
type SentMessage struct {
	From string // the sender the far end sees (a number, with or without '+')
	Body string
}

// Messaging is the part of the PBX adapter for text messages.
type Messaging interface {
	// InboundMessage delivers a SIP MESSAGE from the carrier: from (an
	// E.164 number) to the DID.
	InboundMessage(t *testing.T, from, did, body string)
	// MessagesTo lists the messages the PBX sent to a target, oldest
	// first.
	MessagesTo(target routing.Target) []SentMessage
}

var smsScenarios = []struct {
	name string
	f    func(t *testing.T, e *Env)
}{
	{"SMSRelayedMaskedAndReplied", smsRelayedAndReplied},
	{"SMSBlockedSenderDropped", smsBlocked},
	{"SMSSessionParticipantsOnly", smsSession},
}

// messagesTo waits until a target was sent n messages and returns them.
func messagesTo(t *testing.T, e *Env, target routing.Target, n int) []SentMessage {
	t.Helper()
	var ms []SentMessage
	eventually(t, "messages to "+target.String(), func() bool {
		ms = e.PBX.MessagesTo(target)
		return len(ms) >= n
	})
	return ms
}

func sameNumber(a, b string) bool { return strings.TrimPrefix(a, "+") == strings.TrimPrefix(b, "+") }

// noNumberInRequests checks that a number reached the PBX in no request
// vnumd sent (the masked sender of a relayed message).
func noNumberInRequests(t *testing.T, e *Env, number string) {
	t.Helper()
	digits := strings.TrimPrefix(number, "+")
	for _, r := range e.PBX.Requests() {
		if strings.Contains(r, digits) {
			t.Fatalf("the sender's number %s reached the PBX: %s", number, r)
		}
	}
}

func smsRelayedAndReplied(t *testing.T, e *Env) {
	addNumber(t, e)
	body := "Hello, your code is 4242.\nLine two & more: 100%"
	e.PBX.InboundMessage(t, caller, did, body)
	m := messagesTo(t, e, mobile, 1)[0]
	if !sameNumber(m.From, did) || m.Body != body {
		t.Fatalf("the owner got %q from %q, want the text from the DID %s", m.Body, m.From, did)
	}
	// The owner sees the DID; the sender's number went into no request.
	noNumberInRequests(t, e, caller)
	// The owner replies to the DID: the sender gets it, from the DID.
	e.PBX.InboundMessage(t, mobile.E164, did, "Who is this?")
	back := messagesTo(t, e, routing.Target{E164: caller}, 1)[0]
	if !sameNumber(back.From, did) || back.Body != "Who is this?" {
		t.Fatalf("the sender got %q from %q, want the owner's reply from the DID", back.Body, back.From)
	}
	// The owner's number never reached the sender's side either.
	if strings.Contains(back.From, strings.TrimPrefix(mobile.E164, "+")) {
		t.Fatalf("the reply showed the owner's number %q", back.From)
	}
}

func smsBlocked(t *testing.T, e *Env) {
	addNumber(t, e)
	if err := e.Store.AddEntry(context.Background(), redisstore.Blocklist, did, routing.Entry{Pattern: "+447700*", Reason: "spam"}); err != nil {
		t.Fatal(err)
	}
	e.PBX.InboundMessage(t, caller, did, "buy now")
	friend := "+14155550100"
	e.PBX.InboundMessage(t, friend, did, "hi, it's Bob")
	messagesTo(t, e, mobile, 1)
	time.Sleep(300 * time.Millisecond)
	ms := e.PBX.MessagesTo(mobile)
	if len(ms) != 1 || ms[0].Body != "hi, it's Bob" {
		t.Fatalf("the owner got %+v: the blocked sender's message must be dropped", ms)
	}
	// The owner's reply goes to the last sender let through, not to the
	// blocked one.
	e.PBX.InboundMessage(t, mobile.E164, did, "hey Bob")
	messagesTo(t, e, routing.Target{E164: friend}, 1)
	if n := len(e.PBX.MessagesTo(routing.Target{E164: caller})); n != 0 {
		t.Fatalf("the blocked sender got %d message(s)", n)
	}
}

func smsSession(t *testing.T, e *Env) {
	proxy, _ := newSession(t, e, false, caller, mobile.E164)
	e.PBX.InboundMessage(t, caller, proxy, "A to B")
	m := messagesTo(t, e, mobile, 1)[0]
	if !sameNumber(m.From, proxy) || m.Body != "A to B" {
		t.Fatalf("B got %q from %q, want A's text from the proxy number %s", m.Body, m.From, proxy)
	}
	noNumberInRequests(t, e, caller)
	// A stranger's message to the proxy number reaches nobody.
	stranger := "+14155550100"
	e.PBX.InboundMessage(t, stranger, proxy, "who's there")
	// B answers through the proxy number: A gets it from the proxy.
	e.PBX.InboundMessage(t, mobile.E164, proxy, "B to A")
	aPhone := routing.Target{E164: caller}
	back := messagesTo(t, e, aPhone, 1)[0]
	if !sameNumber(back.From, proxy) || back.Body != "B to A" {
		t.Fatalf("A got %q from %q", back.Body, back.From)
	}
	time.Sleep(300 * time.Millisecond)
	if n, k := len(e.PBX.MessagesTo(mobile)), len(e.PBX.MessagesTo(aPhone)); n != 1 || k != 1 {
		t.Fatalf("B got %d and A %d messages: the stranger's must reach nobody", n, k)
	}
	if n := len(e.PBX.MessagesTo(routing.Target{E164: stranger})); n != 0 {
		t.Fatalf("the stranger got %d message(s)", n)
	}
}
