package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// TestDecideMessageThreads: a stranger's message goes to the owner and
// opens a thread with the number's SMS retention; the owner's reply goes
// back to that stranger; a later stranger takes the thread over; a
// blocked sender opens no thread.
func TestDecideMessageThreads(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{SMSRetention: 48 * time.Hour})
	if err := s.AddNumber(ctx, number(func(n *routing.Number) { n.Retention.SMS = 2 * time.Hour })); err != nil {
		t.Fatal(err)
	}
	owner := routing.Target{E164: mobile}
	in := func(from string) routing.MessageDecision {
		t.Helper()
		d, err := s.DecideMessage(ctx, routing.MessageIn{DID: did, From: from, Size: 5})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if d := in(mobile); d.Action != routing.MessageDropped || d.Reason != routing.ReasonNoThread {
		t.Fatalf("owner without a thread: %+v", d)
	}
	d := in(caller)
	if d.Action != routing.MessageRelay || len(d.To) != 1 || d.To[0].E164 != mobile || d.From != did {
		t.Fatalf("stranger's message: %+v", d)
	}
	if got, _ := s.SMSThreadSender(ctx, did, owner); got != caller {
		t.Fatalf("thread sender %q, want %q", got, caller)
	}
	ttl := srv.Client().PTTL(ctx, redisstore.SMSThreadKey(did, mobile)).Val()
	if ttl <= time.Hour || ttl > 2*time.Hour {
		t.Fatalf("thread TTL %s, want the number's 2 h SMS retention", ttl)
	}
	srv.Client().PExpire(ctx, redisstore.SMSThreadKey(did, mobile), time.Minute)
	r := in(mobile)
	if r.Action != routing.MessageRelay || !r.Reply || len(r.To) != 1 || r.To[0].E164 != caller || r.From != did {
		t.Fatalf("owner's reply: %+v", r)
	}
	if ttl := srv.Client().PTTL(ctx, redisstore.SMSThreadKey(did, mobile)).Val(); ttl <= time.Hour {
		t.Fatalf("a reply did not refresh the thread's TTL: %s", ttl)
	}
	other := "+14155550123"
	in(other)
	if r := in(mobile); len(r.To) != 1 || r.To[0].E164 != other {
		t.Fatalf("reply after a second sender: %+v", r)
	}
	if err := s.AddEntry(ctx, redisstore.Blocklist, did, routing.Entry{Pattern: "+1999*"}); err != nil {
		t.Fatal(err)
	}
	if d := in("+19995550100"); d.Action != routing.MessageBlocked {
		t.Fatalf("blocked sender: %+v", d)
	}
	if got, _ := s.SMSThreadSender(ctx, did, owner); got != other {
		t.Fatalf("a blocked sender changed the thread to %q", got)
	}
	if n, err := s.PurgeSMSThreads(ctx, did); err != nil || n != 1 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	if got, _ := s.SMSThreadSender(ctx, did, owner); got != "" {
		t.Fatalf("thread after purge: %q", got)
	}
}

func TestDecideMessageSessionAndStoreDown(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{})
	if _, _, err := s.AddToPool(ctx, "p", []string{"+33187650001"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	sess, err := s.CreateSession(ctx, routing.SessionSpec{Pool: "p", Participants: []string{caller, mobile}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.DecideMessage(ctx, routing.MessageIn{DID: sess.Proxy, From: caller})
	if err != nil || d.Action != routing.MessageRelay || len(d.To) != 1 || d.To[0].E164 != mobile || d.From != sess.Proxy {
		t.Fatalf("participant: %+v %v", d, err)
	}
	if d, _ := s.DecideMessage(ctx, routing.MessageIn{DID: sess.Proxy, From: "+14155550100"}); d.Action != routing.MessageDropped {
		t.Fatalf("stranger: %+v", d)
	}
	srv.Stop()
	d, err = s.DecideMessage(ctx, routing.MessageIn{DID: sess.Proxy, From: caller})
	if !errors.Is(err, redisstore.ErrUnavailable) || d.Action != routing.MessageFailed {
		t.Fatalf("store down: %+v %v", d, err)
	}
}

// BenchmarkDecideMessage: a stranger's message (the decision's snapshot
// plus the thread's SET) and the owner's reply (snapshot, thread GET,
// PEXPIRE), against a real redis-server.
func BenchmarkDecideMessage(b *testing.B) {
	ctx := context.Background()
	s, _ := newStore(b, redisstore.Options{})
	if err := s.AddNumber(ctx, number()); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name, from string
	}{{"stranger", caller}, {"owner-reply", mobile}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d, err := s.DecideMessage(ctx, routing.MessageIn{DID: did, From: bc.from, Size: 10})
				if err != nil || d.Action != routing.MessageRelay {
					b.Fatalf("%+v %v", d, err)
				}
			}
		})
	}
}

// The velocity limits count a sender's messages as attempts: over the
// limit the sender is blocked (and put on the global blocklist, for calls
// too); the owner's replies are never counted.
func TestDecideMessageVelocity(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{Velocity: redisstore.Velocity{PerDID: 2, Window: time.Minute, Block: time.Hour}})
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	var got []routing.MessageAction
	for range 3 {
		d, err := s.DecideMessage(ctx, routing.MessageIn{DID: did, From: caller})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Action)
	}
	if got[0] != routing.MessageRelay || got[1] != routing.MessageRelay || got[2] != routing.MessageBlocked {
		t.Fatalf("three messages: %v", got)
	}
	if d, _ := s.Simulate(ctx, routing.Call{DID: did, Caller: caller}); d.Reason != routing.ReasonBlockedGlobal {
		t.Fatalf("a call from the sender afterwards: %+v", d)
	}
	for range 4 {
		if d, err := s.DecideMessage(ctx, routing.MessageIn{DID: did, From: mobile}); err != nil || !d.Reply {
			t.Fatalf("owner's reply: %+v %v", d, err)
		}
	}
}

// With the hmac policy a thread keeps its sender sealed: no key or value
// in Redis holds the sender's number in any form, and the owner's reply
// still reaches the sender.
func TestSMSThreadSealedUnderHMAC(t *testing.T) {
	ctx := context.Background()
	priv := routing.Privacy{Caller: routing.StoreHMAC, Key: []byte("deployment-key-0123456789")}
	s, srv := newStore(t, redisstore.Options{Privacy: priv})
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	if d, err := s.DecideMessage(ctx, routing.MessageIn{DID: did, From: caller, Size: 5}); err != nil || d.Action != routing.MessageRelay {
		t.Fatalf("stranger's message: %+v %v", d, err)
	}
	rdb := srv.Client()
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	digits := strings.TrimPrefix(caller, "+")
	for _, k := range keys {
		for _, v := range append(values(t, rdb, k), k) {
			if strings.Contains(v, digits) || strings.Contains(v, digits[2:]) {
				t.Fatalf("key %s holds the sender's number: %q", k, v)
			}
		}
	}
	r, err := s.DecideMessage(ctx, routing.MessageIn{DID: did, From: mobile, Size: 5})
	if err != nil || !r.Reply || len(r.To) != 1 || r.To[0].E164 != caller {
		t.Fatalf("owner's reply through a sealed thread: %+v %v", r, err)
	}
	// Another deployment key cannot open it: no reply, never a wrong one.
	other := redisstore.New(srv.Client(), redisstore.Options{Privacy: routing.Privacy{Caller: routing.StoreHMAC, Key: []byte("another-key-0123456789ab")}})
	if r, err := other.DecideMessage(ctx, routing.MessageIn{DID: did, From: mobile, Size: 5}); err != nil || r.Action == routing.MessageRelay {
		t.Fatalf("a thread sealed under another key: %+v %v", r, err)
	}
}
