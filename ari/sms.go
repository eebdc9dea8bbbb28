package ari

// Text messages (SMS relay) on Asterisk 22:
//   - inbound: a SIP MESSAGE reaches ARI as TextMessageReceived, with no
//     dialplan, but only while the app is subscribed to endpoint:PJSIP
//     (or endpoint:PJSIP/<endpoint>); without a subscription the carrier
//     gets 404. Subscriptions live on the app object, survive the
//     WebSocket and are reference counted, so the driver subscribes after
//     a (re)connect only when the app is not subscribed yet, and never
//     piles up references.
//   - outbound: PUT /endpoints/sendMessage?to=&from=&body= (query string);
//     Asterisk answers 202 before the far end does. "to" is the trunk's
//     dial string behind the pjsip: message technology
//     ("pjsip:PJSIP/+33612345678@carrier": the endpoint's contact with the
//     number as its user), or a sip: URI target as is ("pjsip:sip:a@b",
//     sent with the default outbound endpoint).

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/CyCoreSystems/ari/v6"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

// MessageSource is the event source the app subscribes to for inbound
// messages: every PJSIP endpoint.
const MessageSource = "endpoint:PJSIP"

// ErrBadMessage: a message vnum refuses to hand to Asterisk (a sender
// that is not a number, a body that is not UTF-8 text or too long).
var ErrBadMessage = errors.New("ari: bad message")

// ErrBadAddress: a message's from or to that is not a SIP address with a
// user part (the parser of TextMessageReceived's fields).
var ErrBadAddress = errors.New("ari: bad message address")

// wireMessage is TextMessageReceived's message.
type wireMessage struct {
	From string `json:"from"`
	To   string `json:"to"`
	Body string `json:"body"`
}

// messageEvent translates TextMessageReceived: the sender's and the DID's
// user parts, and the text. A message whose addresses do not parse is
// dropped (counted as a bad event).
func (d *Driver) messageEvent(ev wireEvent) (callflow.Event, bool) {
	if ev.Message == nil {
		return callflow.Event{}, false
	}
	from, err := SIPUser(ev.Message.From)
	if err != nil {
		d.badEvents.Add(1)
		return callflow.Event{}, false
	}
	to, err := SIPUser(ev.Message.To)
	if err != nil {
		d.badEvents.Add(1)
		return callflow.Event{}, false
	}
	return callflow.Event{Kind: callflow.EvMessage, Message: &callflow.Message{From: from, To: to,
		Body: ev.Message.Body, At: time.Now()}}, true
}

// SIPUser returns the user part of a SIP address as Asterisk gives it in
// a TextMessageReceived: `"Name" <sip:+15557770123@host>;tag=x`,
// `pjsip:14155550100@host:port`, `sip:user@host;params`, `tel:+1555...`.
// The user is percent-decoded and must be 1 to 64 characters of
// [0-9A-Za-z+*#._-] (numbers, and names such as "anonymous").
func SIPUser(s string) (string, error) {
	if len(s) > 1024 {
		return "", fmt.Errorf("%w: %d bytes", ErrBadAddress, len(s))
	}
	a := strings.TrimSpace(s)
	// A quoted display name may hold anything, '<' included.
	if strings.HasPrefix(a, `"`) {
		end := 1
		for end < len(a) && a[end] != '"' {
			if a[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(a) {
			return "", fmt.Errorf("%w: unterminated display name", ErrBadAddress)
		}
		a = a[end+1:]
	}
	if i := strings.IndexByte(a, '<'); i >= 0 {
		j := strings.IndexByte(a[i:], '>')
		if j < 0 {
			return "", fmt.Errorf("%w: unterminated <", ErrBadAddress)
		}
		a = a[i+1 : i+j]
	}
	scheme, rest, ok := strings.Cut(strings.TrimSpace(a), ":")
	switch strings.ToLower(scheme) {
	case "sip", "sips", "pjsip", "tel":
	default:
		if !ok {
			return "", fmt.Errorf("%w: no scheme", ErrBadAddress)
		}
		return "", fmt.Errorf("%w: scheme %q", ErrBadAddress, clipText(scheme))
	}
	user := rest
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		user = rest[:at]
	} else if strings.ToLower(scheme) != "tel" {
		return "", fmt.Errorf("%w: no user part", ErrBadAddress)
	}
	user, _, _ = strings.Cut(user, ";") // user parameters (;phone-context=...)
	user, _, _ = strings.Cut(user, ":") // a password, never used
	u, err := url.PathUnescape(user)
	if err != nil {
		return "", fmt.Errorf("%w: user part: %w", ErrBadAddress, err)
	}
	if u == "" || len(u) > 64 {
		return "", fmt.Errorf("%w: user part of %d bytes", ErrBadAddress, len(u))
	}
	for i := 0; i < len(u); i++ {
		c := u[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || strings.IndexByte("+*#._-", c) >= 0) {
			return "", fmt.Errorf("%w: character %q in the user part", ErrBadAddress, c)
		}
	}
	return u, nil
}

func clipText(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// MessageURI returns the "to" of PUT /endpoints/sendMessage for a target:
// "pjsip:" and the trunk's dial string for an E.164 number (the trunk must
// be a PJSIP one), "pjsip:" and the URI for a sip: target.
func (d *Driver) MessageURI(t routing.Target) (string, error) {
	ep, err := d.Endpoint(t)
	if err != nil {
		return "", err
	}
	if t.IsSIP() {
		return "pjsip:" + t.SIPURI, nil
	}
	if !strings.HasPrefix(ep, "PJSIP/") {
		return "", fmt.Errorf("%w: trunk %q is not a PJSIP dial string: messages cannot use it", ErrConfig, d.o.Trunk)
	}
	return "pjsip:" + ep, nil
}

// SendMessage implements callflow.PBX: PUT /endpoints/sendMessage with
// to, from and body in the query string (URL-encoded by the client: no
// text can add a parameter). from is the number the far end sees (only
// '+' and digits are kept). Errors never carry the request's URL (it
// holds the numbers and the text).
func (d *Driver) SendMessage(ctx context.Context, from string, to routing.Target, body string) error {
	uri, err := d.MessageURI(to)
	if err != nil {
		if errors.Is(err, ErrConfig) {
			return fmt.Errorf("ari: send message: %w", err)
		}
		// Not the target's text: it may be a sender's number (a reply).
		return fmt.Errorf("ari: send message: the target is not an E.164 number or a safe sip: URI: %w", routing.ErrBadTarget)
	}
	f := digitsOnly(from)
	if strings.TrimPrefix(f, "+") == "" {
		return fmt.Errorf("%w: the sender is not a number", ErrBadMessage)
	}
	if len(body) > routing.MaxMessageBody || !utf8.ValidString(body) || strings.IndexByte(body, 0) >= 0 {
		return fmt.Errorf("%w: the body is not text of at most %d bytes", ErrBadMessage, routing.MaxMessageBody)
	}
	err = d.bounded(ctx, "send message", func() error {
		return scrubURL(d.client.TextMessage().SendByURI(f, uri, body, nil))
	})
	if notFound(err) {
		return fmt.Errorf("ari: send message: Asterisk has no such endpoint: %w", err)
	}
	return err
}

// scrubURL removes the request URL from a transport error (net/http puts
// it in *url.Error), keeping ARI's status errors as they are.
func scrubURL(err error) error {
	if err == nil {
		return nil
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s request: %w", ue.Op, ue.Err)
	}
	return err
}

// unsubscribeMessages drops the app's subscription to MessageSource when
// vnumd stops, so that a carrier's MESSAGE gets 404 while no vnumd
// listens (with the subscription left, Asterisk answers 202 and drops
// it). After a crash the subscription stays; the next vnumd reuses it.
func (d *Driver) unsubscribeMessages() {
	if !d.subscribed.Swap(false) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := d.bounded(ctx, "unsubscribe "+MessageSource, func() error {
		return d.client.Application().Unsubscribe(ari.NewKey(ari.ApplicationKey, d.o.App), MessageSource)
	})
	if err != nil {
		d.log.Warn("unsubscribing from inbound messages", "source", MessageSource, "err", err)
	}
}

// keepSubscribed makes sure the app is subscribed to MessageSource after a
// (re)connect, retrying with capped backoff for up to a minute (the app may
// not be registered yet when the WebSocket has just opened; Asterisk may
// be slow): without the subscription the carrier's messages get 404.
func (d *Driver) keepSubscribed(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	wait := 100 * time.Millisecond
	for {
		err := d.subscribeMessages(ctx)
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			d.log.Warn("subscribing to inbound messages failed: the carrier's messages get 404 until the next reconnect",
				"source", MessageSource, "err", err)
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// subscribeMessages subscribes the app to MessageSource unless it is
// subscribed already (a reconnect, or a subscription left by an earlier
// process: they outlive the WebSocket and are reference counted).
func (d *Driver) subscribeMessages(ctx context.Context) error {
	d.subMu.Lock()
	defer d.subMu.Unlock()
	key := ari.NewKey(ari.ApplicationKey, d.o.App)
	var app *ari.ApplicationData
	if err := d.bounded(ctx, "application", func() error {
		var err error
		app, err = d.client.Application().Data(key)
		return err
	}); err != nil {
		return err
	}
	if slices.Contains(app.EndpointIDs, strings.TrimPrefix(MessageSource, "endpoint:")) {
		d.subscribed.Store(true)
		return nil
	}
	err := d.bounded(ctx, "subscribe "+MessageSource, func() error {
		return d.client.Application().Subscribe(key, MessageSource)
	})
	if err == nil {
		d.subscribed.Store(true)
	}
	return err
}
