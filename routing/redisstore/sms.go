package redisstore

// SMS relay: the decision of one inbound text message reads the same
// snapshot as a call (one round trip of decideScript, taking no slot);
// a message from the number's owner target reads its thread too (a
// second round trip, replies only). A message relayed to the owner
// remembers its sender in the thread key vnum:{DID}:sms:<owner target>
// (SMSThreadKey) with the number's SMS retention as TTL; a reply
// refreshes that TTL.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/vnum/vnum/routing"
)

// DecideMessage routes one inbound text message and keeps its thread:
// the decision is routing.DecideMessage over the number's snapshot. When
// the store cannot be reached the decision is MessageFailed and err wraps
// ErrUnavailable. A thread that could not be written is logged, not an
// error: the message still goes to the owner (only a reply would miss).
func (s *Store) DecideMessage(ctx context.Context, m routing.MessageIn) (routing.MessageDecision, error) {
	if m.At.IsZero() {
		m.At = s.now()
	}
	snap, err := s.snapshot(ctx, routing.Call{ID: "sms", DID: m.DID, Caller: m.From, At: m.At}, false)
	if err != nil {
		snap.StoreFailure = err
	}
	replyTo := ""
	if err == nil && snap.Found && snap.Number.Labels[routing.LabelProxy] == "" {
		if owner, ok := routing.SMSTargetOf(snap.Number); ok && !owner.IsSIP() && owner.E164 == m.From {
			v, gerr := s.rdb.Get(ctx, SMSThreadKey(m.DID, routing.SMSThread(owner))).Result()
			switch {
			case gerr == nil:
				if replyTo, gerr = s.openSender(m.DID, v); gerr != nil {
					s.log.Warn("sms thread unreadable: the reply has nobody to go to", "did", m.DID, "err", gerr)
					replyTo = ""
				}
			case !errorsIsNil(gerr):
				err = fmt.Errorf("sms thread %s: %w: %w", m.DID, ErrUnavailable, gerr)
				snap.StoreFailure = err
			}
		}
	}
	d := routing.DecideMessage(m, snap, replyTo)
	if d.Action == routing.MessageRelay && !d.Reply && s.vel.enabled() {
		// The velocity limits count messages as attempts, like calls: a
		// sender over a limit is put on the global blocklist (for calls
		// too). The owner's replies are not counted.
		why, verr := s.velocity(ctx, routing.Call{ID: "sms-" + strconv.FormatInt(time.Now().UnixNano(), 36), DID: m.DID, Caller: m.From, At: m.At})
		if verr != nil {
			s.log.Warn("velocity check", "did", m.DID, "err", verr)
		}
		if why != "" {
			d = routing.MessageDecision{Action: routing.MessageBlocked, Reason: routing.ReasonVelocity, Detail: why, Trace: append(d.Trace, why)}
		}
	}
	if d.Action == routing.MessageRelay && d.Thread != "" {
		key, ttl := SMSThreadKey(m.DID, d.Thread), s.SMSRetention(snap.Number)
		var werr error
		if d.Reply {
			werr = s.rdb.PExpire(ctx, key, ttl).Err()
		} else {
			var kept string
			if kept, werr = s.sealSender(m.DID, d.Sender); werr == nil {
				werr = s.rdb.Set(ctx, key, kept, ttl).Err()
			}
		}
		if werr != nil {
			s.log.Warn("sms thread not kept", "did", m.DID, "err", werr)
		}
	}
	return d, err
}

// SMSThreadSender returns the party an owner's reply would go to on the
// thread of owner ("" when no thread is open), for operators and tests.
func (s *Store) SMSThreadSender(ctx context.Context, did string, owner routing.Target) (string, error) {
	v, err := s.rdb.Get(ctx, SMSThreadKey(did, routing.SMSThread(owner))).Result()
	if errorsIsNil(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("sms thread %s: %w: %w", did, ErrUnavailable, err)
	}
	return s.openSender(did, v)
}

// PurgeSMSThreads deletes every SMS thread of a number (they hold the
// senders' numbers) and returns how many there were.
func (s *Store) PurgeSMSThreads(ctx context.Context, did string) (int, error) {
	keys, err := s.scan(ctx, "vnum:{"+did+"}:sms:*")
	if err != nil {
		return 0, err
	}
	if len(keys) == 0 {
		return 0, nil
	}
	n, err := s.rdb.Del(ctx, keys...).Result()
	if err != nil {
		return 0, fmt.Errorf("purge sms threads %s: %w: %w", did, ErrUnavailable, err)
	}
	return int(n), nil
}
