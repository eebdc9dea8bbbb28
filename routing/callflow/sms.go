package callflow

import (
	"context"
	"time"

	"github.com/vnum/vnum/routing"
)

// MessageStore is what the SMS relay needs of the routing store
// (redisstore implements it). Options.Messages sets it; when nil, the
// engine uses Options.Store if it has the method.
type MessageStore interface {
	DecideMessage(ctx context.Context, m routing.MessageIn) (routing.MessageDecision, error)
}

// maxMessagesInFlight bounds the messages relayed at once: beyond it a
// flood is dropped (counted "failed") rather than piling up goroutines.
const maxMessagesInFlight = 256

// messageStore returns the store for messages, or nil.
func (e *Engine) messageStore() MessageStore {
	if e.o.Messages != nil {
		return e.o.Messages
	}
	ms, _ := e.o.Store.(MessageStore)
	return ms
}

// message relays one inbound text message. It never blocks the driver's
// read loop: the store read and the sends run in a goroutine the engine
// owns (Wait and Detach wait for it).
func (e *Engine) message(m *Message) {
	if m == nil {
		return
	}
	e.mu.Lock()
	if e.detached {
		e.mu.Unlock()
		e.m.messages.WithLabelValues(string(routing.MessageFailed)).Inc()
		return
	}
	select {
	case e.msgSem <- struct{}{}:
	default:
		e.mu.Unlock()
		e.m.messages.WithLabelValues(string(routing.MessageFailed)).Inc()
		e.log.Warn("message dropped: too many messages in flight")
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	msg := *m
	go func() {
		defer e.wg.Done()
		defer func() { <-e.msgSem }()
		e.relay(msg)
	}()
}

// relay decides one message and sends it on. Nothing of the sender (its
// number, the text) is logged. A message.received notice (webhooks)
// reports each decided message: the sender in the form the privacy policy
// lets records keep, the result and the reason; never the text.
func (e *Engine) relay(m Message) {
	// The DID as PBXs give it: E.164, national, or international digits
	// without '+' (Asterisk's "pjsip:14155550100@host").
	did := routing.NormalizeCaller(m.To, e.o.Region)
	log := e.log.With("did", did)
	at := m.At
	if at.IsZero() {
		at = time.Now()
	}
	from := routing.NormalizeCaller(m.From, e.o.Region)
	result := func(r routing.MessageAction, reason routing.Reason) {
		e.m.messages.WithLabelValues(string(r)).Inc()
		log.Info("message", "result", string(r), "reason", string(reason))
		if e.o.Notify != nil {
			e.o.Notify(Notice{Type: "message.received", DID: did, At: at.UTC(),
				Data: map[string]any{"from": e.o.Privacy.Record(from), "result": string(r), "reason": string(reason)}})
		}
	}
	ms := e.messageStore()
	if ms == nil {
		result(routing.MessageFailed, "no-message-store")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.o.StoreTimeout)
	d, err := ms.DecideMessage(ctx, routing.MessageIn{DID: did, From: from,
		Size: len(m.Body), At: at})
	cancel()
	if err != nil {
		e.m.storeErrors.Inc()
		log.Warn("message decision", "err", err)
	}
	if d.Action != routing.MessageRelay {
		if d.Action == "" {
			d.Action = routing.MessageFailed
		}
		result(d.Action, d.Reason)
		return
	}
	failed := 0
	for _, to := range d.To {
		pctx, cancel := context.WithTimeout(context.Background(), e.o.PBXTimeout)
		err := e.o.PBX.SendMessage(pctx, d.From, to, m.Body)
		cancel()
		if err != nil {
			failed++
			e.m.pbxErrors.Inc()
			log.Warn("message not sent", "err", err)
		}
	}
	if failed > 0 {
		result(routing.MessageFailed, d.Reason)
		return
	}
	result(routing.MessageRelay, d.Reason)
}
