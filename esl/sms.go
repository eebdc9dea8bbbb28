package esl

// Text messages (SMS relay) on FreeSWITCH 1.10 with mod_sms, as the shared
// capture sms_message showed:
//   - inbound: the sofia profile needs auth-messages=false (else 407) and
//     fire-message-events=true (a RECV_MESSAGE event), and/or a chatplan
//     that runs `fire` (MESSAGE events: two copies). Every copy of one SIP
//     MESSAGE carries the same Core-UUID and Event-Sequence: the driver
//     passes the first on and drops the others. Delivery reports of vnum's
//     own sends (MESSAGE with proto "global", Delivery-Result-Code) are
//     not messages.
//   - outbound: `sendevent CUSTOM` with Event-Subclass SMS::SEND_MESSAGE,
//     to "<profile>/sip:user@host[:port]", and the text as a
//     Content-Length body: FreeSWITCH reads exactly that many bytes, so no
//     text can end the command or start another (`api chat` would put it
//     on the command line, where '|' splits it and a line break cannot
//     go). A gateway dial string cannot address a message, hence the
//     MessageTrunk URI template for E.164 targets.

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

// ErrBadMessage: a message vnum refuses to hand to FreeSWITCH (a sender
// that is not a number, a body that is not UTF-8 text or too long, no
// way to address the target).
var ErrBadMessage = errors.New("esl: bad message")

// ErrBadAddress: a user part of a MESSAGE event that vnum does not take
// as a number or name.
var ErrBadAddress = errors.New("esl: bad message address")

// messageEvents are the events inbound messages arrive as.
var messageEvents = []string{"MESSAGE", "RECV_MESSAGE"}

// checkMessaging validates the messaging options and fills defaults.
func checkMessaging(o *Options) error {
	if o.MessageProfile == "" {
		o.MessageProfile = "external"
	}
	if !validID(o.MessageProfile) {
		return fmt.Errorf("%w: message profile %q: want letters, digits, '.', '_' or '-'", ErrConfig, o.MessageProfile)
	}
	if o.MessageTrunk != "" {
		if !strings.Contains(o.MessageTrunk, "{e164}") && !strings.Contains(o.MessageTrunk, "{digits}") {
			return fmt.Errorf("%w: message trunk %q needs {e164} or {digits}", ErrConfig, o.MessageTrunk)
		}
		probe := strings.NewReplacer("{e164}", "+10000000000", "{digits}", "10000000000").Replace(o.MessageTrunk)
		if _, err := routing.ParseTarget(probe, ""); err != nil || !strings.HasPrefix(probe, "sip:") {
			return fmt.Errorf("%w: message trunk %q: want a sip: URI template such as sip:{e164}@sms.carrier.example", ErrConfig, o.MessageTrunk)
		}
		if o.MessageDomain == "" {
			_, host, _ := strings.Cut(probe, "@")
			host, _, _ = strings.Cut(host, ";")
			o.MessageDomain = host
		}
	}
	if o.MessageDomain == "" {
		o.MessageDomain = "localhost"
	}
	if !safeDial(o.MessageDomain) || strings.ContainsAny(o.MessageDomain, "@/;?") {
		return fmt.Errorf("%w: message domain %q: want a host name", ErrConfig, o.MessageDomain)
	}
	return nil
}

// MessageTo returns the "to" of an SMS::SEND_MESSAGE for a target:
// "<profile>/<sip URI>", the URI from MessageTrunk for an E.164 number.
func (d *Driver) MessageTo(t routing.Target) (string, error) {
	if t.IsSIP() {
		if _, err := d.Endpoint(t); err != nil {
			return "", err
		}
		return d.o.MessageProfile + "/" + t.SIPURI, nil
	}
	if _, err := d.Endpoint(t); err != nil {
		return "", err
	}
	if d.o.MessageTrunk == "" {
		return "", fmt.Errorf("%w: no message trunk is set (Options.MessageTrunk): E.164 targets cannot be messaged", ErrBadMessage)
	}
	return d.o.MessageProfile + "/" + strings.NewReplacer("{e164}", t.E164, "{digits}", strings.TrimPrefix(t.E164, "+")).Replace(d.o.MessageTrunk), nil
}

// SendMessage implements callflow.PBX with `sendevent CUSTOM`
// SMS::SEND_MESSAGE (mod_sms): from is the number the far end sees (only
// '+' and digits are kept), the body goes as it is in a Content-Length
// body. Errors never carry the text or the numbers.
func (d *Driver) SendMessage(ctx context.Context, from string, to routing.Target, body string) error {
	dest, err := d.MessageTo(to)
	if err != nil {
		if errors.Is(err, ErrBadMessage) {
			return fmt.Errorf("esl: send message: %w", err)
		}
		// Not the target's text: it may be a sender's number (a reply).
		return fmt.Errorf("esl: send message: the target is not an E.164 number or a safe sip: URI: %w", routing.ErrBadTarget)
	}
	f := digitsOnly(from)
	if strings.TrimPrefix(f, "+") == "" {
		return fmt.Errorf("%w: the sender is not a number", ErrBadMessage)
	}
	if body == "" || len(body) > routing.MaxMessageBody || !utf8.ValidString(body) || strings.IndexByte(body, 0) >= 0 {
		return fmt.Errorf("%w: the body is not text of 1 to %d bytes", ErrBadMessage, routing.MaxMessageBody)
	}
	c, err := d.current()
	if err != nil {
		return fmt.Errorf("esl: send message: %w", err)
	}
	sender := f + "@" + d.o.MessageDomain
	_, err = c.SendEvent(ctx, "CUSTOM", []eslconn.Header{
		{Name: "Event-Subclass", Value: "SMS::SEND_MESSAGE"},
		{Name: "proto", Value: "sip"},
		{Name: "dest_proto", Value: "sip"},
		{Name: "from", Value: sender},
		{Name: "from_full", Value: "sip:" + sender},
		{Name: "to", Value: dest},
		{Name: "sip_profile", Value: d.o.MessageProfile},
		{Name: "type", Value: "text/plain"},
		{Name: "blocking", Value: "true"},
	}, body)
	if err != nil {
		var ce *eslconn.CommandError
		if errors.As(err, &ce) {
			return fmt.Errorf("esl: send message: FreeSWITCH refused it: %w", eslconn.ErrCommandFailed)
		}
		return fmt.Errorf("esl: send message: %w", err)
	}
	return nil
}

// messageDedup remembers the last events of inbound messages, so that the
// copies of one message (RECV_MESSAGE, MESSAGE, MESSAGE) count once.
type messageDedup struct {
	mu   sync.Mutex
	seen map[string]bool
	ring []string
	next int
}

// first reports whether key is new (and remembers it).
func (m *messageDedup) first(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen == nil {
		m.seen = map[string]bool{}
		m.ring = make([]string, 256)
	}
	if m.seen[key] {
		return false
	}
	if old := m.ring[m.next]; old != "" {
		delete(m.seen, old)
	}
	m.ring[m.next] = key
	m.next = (m.next + 1) % len(m.ring)
	m.seen[key] = true
	return true
}

// messageEvent translates a MESSAGE or RECV_MESSAGE event of an inbound
// SIP MESSAGE into EvMessage: the sender's user part, the DID (the
// chatplan's vnum_sms_did, else the To user), and the text (the event's
// body).
func (d *Driver) messageEvent(ev eslconn.Event) (callflow.Event, bool) {
	m, err := ParseMessage(ev)
	if err != nil {
		if !errors.Is(err, errNotInbound) {
			d.badEvents.Add(1)
		}
		return callflow.Event{}, false
	}
	key := ev.Get("Core-UUID") + "|" + ev.Get("Event-Sequence")
	if ev.Get("Event-Sequence") == "" {
		key = "nosq|" + ev.Get("from_full") + "|" + m.To + "|" + m.Body
	}
	if !d.msgs.first(key) {
		return callflow.Event{}, false
	}
	m.At = time.Now()
	return callflow.Event{Kind: callflow.EvMessage, Message: &m}, true
}

// errNotInbound: a message event that is not an inbound SIP message (a
// delivery report of a send).
var errNotInbound = errors.New("esl: not an inbound message")

// ParseMessage reads an inbound message from a MESSAGE or RECV_MESSAGE
// event (the parser of these events' fields: fuzzed).
func ParseMessage(ev eslconn.Event) (callflow.Message, error) {
	if ev.Name != "MESSAGE" && ev.Name != "RECV_MESSAGE" {
		return callflow.Message{}, errNotInbound
	}
	if ev.Get("proto") != "sip" || ev.Get("Delivery-Result-Code") != "" || ev.Get("Delivery-Failure") != "" {
		return callflow.Message{}, errNotInbound
	}
	from, err := MessageUser(ev.Get("from_user"))
	if err != nil {
		if from, err = MessageUser(userOf(ev.Get("from"))); err != nil {
			return callflow.Message{}, fmt.Errorf("from: %w", err)
		}
	}
	toRaw := ev.Get("vnum_sms_did")
	if toRaw == "" {
		if toRaw = ev.Get("to_user"); toRaw == "" {
			toRaw = userOf(ev.Get("to"))
		}
	}
	to, err := MessageUser(toRaw)
	if err != nil {
		return callflow.Message{}, fmt.Errorf("to: %w", err)
	}
	// The SIP body ends with the SIP message's own CRLF at most.
	return callflow.Message{From: from, To: to, Body: ev.Body}, nil
}

// userOf is the user part of "user@host".
func userOf(s string) string {
	u, _, _ := strings.Cut(s, "@")
	return u
}

// MessageUser checks a user part (FreeSWITCH gives it URL-decoded; a
// %-sequence left in it is decoded once more): 1 to 64 characters of
// [0-9A-Za-z+*#._-].
func MessageUser(s string) (string, error) {
	if strings.Contains(s, "%") {
		u, err := url.PathUnescape(s)
		if err != nil {
			return "", fmt.Errorf("%w: %w", ErrBadAddress, err)
		}
		s = u
	}
	if s == "" || len(s) > 64 {
		return "", fmt.Errorf("%w: user part of %d bytes", ErrBadAddress, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("+*#._-", c) >= 0) {
			return "", fmt.Errorf("%w: character %q", ErrBadAddress, c)
		}
	}
	return s, nil
}
