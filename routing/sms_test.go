package routing_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
)

func TestDecideMessage(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	past := now.Add(-time.Hour)
	appTarget := routing.Target{SIPURI: "sip:owner@app.example.com"}
	proxyNum := func() routing.Number {
		n := baseNumber()
		n.Labels = map[string]string{routing.LabelProxy: "1"}
		n.Route = routing.Route{}
		return n
	}
	leg := &routing.SessionLeg{ID: "abcdefghijkl", ExpiresAt: now.Add(time.Hour), Participants: []string{caller, mobile, usCell}}
	block := &routing.Entry{Pattern: "+447700*"}
	for _, tc := range []struct {
		name    string
		from    string
		size    int
		snap    func() routing.Snapshot
		replyTo string
		action  routing.MessageAction
		reason  routing.Reason
		to      []string
		thread  string
		reply   bool
	}{
		{name: "stranger to plain number relays to the first E.164 target", from: caller,
			snap:   func() routing.Snapshot { return routing.Snapshot{Found: true, Number: baseNumber()} },
			action: routing.MessageRelay, reason: routing.ReasonMessageToOwner, to: []string{mobile}, thread: mobile},
		{name: "SMS target overrides the route", from: caller,
			snap: func() routing.Snapshot {
				n := baseNumber()
				n.SMSTarget = appTarget
				return routing.Snapshot{Found: true, Number: n}
			},
			action: routing.MessageRelay, reason: routing.ReasonMessageToOwner, to: []string{appTarget.SIPURI}, thread: appTarget.SIPURI},
		{name: "first E.164 target, not a SIP one", from: caller,
			snap: func() routing.Snapshot {
				n := baseNumber()
				n.Route.Targets = []routing.Target{appTarget, {E164: desk}}
				return routing.Snapshot{Found: true, Number: n}
			},
			action: routing.MessageRelay, reason: routing.ReasonMessageToOwner, to: []string{desk}, thread: desk},
		{name: "owner's reply goes to the thread's sender", from: mobile, replyTo: caller,
			snap:   func() routing.Snapshot { return routing.Snapshot{Found: true, Number: baseNumber()} },
			action: routing.MessageRelay, reason: routing.ReasonMessageReply, to: []string{caller}, thread: mobile, reply: true},
		{name: "owner's reply is not blocked by the lists", from: mobile, replyTo: caller,
			snap: func() routing.Snapshot {
				return routing.Snapshot{Found: true, Number: baseNumber(), NumberBlock: &routing.Entry{Pattern: mobile}}
			},
			action: routing.MessageRelay, reason: routing.ReasonMessageReply, to: []string{caller}, thread: mobile, reply: true},
		{name: "owner writes with no open thread", from: mobile,
			snap:   func() routing.Snapshot { return routing.Snapshot{Found: true, Number: baseNumber()} },
			action: routing.MessageDropped, reason: routing.ReasonNoThread},
		{name: "number blocklist", from: caller,
			snap: func() routing.Snapshot {
				return routing.Snapshot{Found: true, Number: baseNumber(), NumberBlock: block}
			},
			action: routing.MessageBlocked, reason: routing.ReasonBlockedNumber},
		{name: "global blocklist", from: caller,
			snap: func() routing.Snapshot {
				return routing.Snapshot{Found: true, Number: baseNumber(), GlobalBlock: block}
			},
			action: routing.MessageBlocked, reason: routing.ReasonBlockedGlobal},
		{name: "allowlist-only, not on it", from: caller,
			snap: func() routing.Snapshot {
				n := baseNumber()
				n.AllowlistOnly = true
				return routing.Snapshot{Found: true, Number: n}
			},
			action: routing.MessageBlocked, reason: routing.ReasonNotAllowlisted},
		{name: "allowlist-only, on it", from: caller,
			snap: func() routing.Snapshot {
				n := baseNumber()
				n.AllowlistOnly = true
				return routing.Snapshot{Found: true, Number: n, Allowlisted: true}
			},
			action: routing.MessageRelay, reason: routing.ReasonMessageToOwner, to: []string{mobile}, thread: mobile},
		{name: "unknown number", from: caller, snap: func() routing.Snapshot { return routing.Snapshot{} },
			action: routing.MessageDropped, reason: routing.ReasonUnknownNumber},
		{name: "expired number", from: caller,
			snap: func() routing.Snapshot {
				n := baseNumber()
				n.ExpiresAt = &past
				return routing.Snapshot{Found: true, Number: n}
			},
			action: routing.MessageDropped, reason: routing.ReasonExpired},
		{name: "suspended number", from: caller,
			snap: func() routing.Snapshot {
				n := baseNumber()
				n.State = routing.StateSuspended
				return routing.Snapshot{Found: true, Number: n}
			},
			action: routing.MessageDropped, reason: routing.ReasonNotActive},
		{name: "store down", from: caller,
			snap:   func() routing.Snapshot { return routing.Snapshot{StoreFailure: errors.New("down")} },
			action: routing.MessageFailed, reason: routing.ReasonStoreDown},
		{name: "too long", from: caller, size: routing.MaxMessageBody + 1,
			snap:   func() routing.Snapshot { return routing.Snapshot{Found: true, Number: baseNumber()} },
			action: routing.MessageDropped, reason: routing.ReasonTooLong},
		{name: "anonymous sender", from: routing.Anonymous,
			snap:   func() routing.Snapshot { return routing.Snapshot{Found: true, Number: baseNumber()} },
			action: routing.MessageDropped, reason: routing.ReasonAnonymousSMS},
		{name: "no target at all", from: caller,
			snap: func() routing.Snapshot {
				n := baseNumber()
				n.Route.Targets = []routing.Target{appTarget}
				return routing.Snapshot{Found: true, Number: n}
			},
			action: routing.MessageDropped, reason: routing.ReasonNoSMSTarget},
		{name: "session participant reaches every other participant", from: caller,
			snap:   func() routing.Snapshot { return routing.Snapshot{Found: true, Number: proxyNum(), Session: leg} },
			action: routing.MessageRelay, reason: routing.ReasonSession, to: []string{mobile, usCell}},
		{name: "session: a stranger is dropped", from: desk,
			snap:   func() routing.Snapshot { return routing.Snapshot{Found: true, Number: proxyNum()} },
			action: routing.MessageDropped, reason: routing.ReasonNotParticipant},
		{name: "session closed", from: caller,
			snap: func() routing.Snapshot {
				l := *leg
				l.ExpiresAt = past
				return routing.Snapshot{Found: true, Number: proxyNum(), Session: &l}
			},
			action: routing.MessageDropped, reason: routing.ReasonNotParticipant},
		{name: "session: blocked participant", from: caller,
			snap: func() routing.Snapshot {
				return routing.Snapshot{Found: true, Number: proxyNum(), Session: leg, GlobalBlock: block}
			},
			action: routing.MessageBlocked, reason: routing.ReasonBlockedGlobal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := routing.DecideMessage(routing.MessageIn{DID: did, From: tc.from, Size: tc.size, At: now, Trace: true}, tc.snap(), tc.replyTo)
			if d.Action != tc.action || d.Reason != tc.reason {
				t.Fatalf("got %s/%s (%s), want %s/%s; trace %q", d.Action, d.Reason, d.Detail, tc.action, tc.reason, d.Trace)
			}
			var to []string
			for _, t := range d.To {
				to = append(to, t.String())
			}
			if !slices.Equal(to, tc.to) {
				t.Fatalf("to %v, want %v", to, tc.to)
			}
			if d.Thread != tc.thread || d.Reply != tc.reply {
				t.Fatalf("thread %q reply %v, want %q %v", d.Thread, d.Reply, tc.thread, tc.reply)
			}
			if d.Action == routing.MessageRelay {
				if d.From != did {
					t.Fatalf("recipients would see %q, want the DID", d.From)
				}
				if !d.Reply && d.Reason == routing.ReasonMessageToOwner && d.Sender != tc.from {
					t.Fatalf("thread sender %q, want %q", d.Sender, tc.from)
				}
				if !d.Reply && strings.Contains(d.Detail, tc.from) {
					t.Fatalf("the detail names the sender: %q", d.Detail)
				}
			}
		})
	}
}

func TestNumberSMSTargetValidated(t *testing.T) {
	n := baseNumber()
	n.SMSTarget = routing.Target{E164: "+33 6 12 34 56 78"}
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	if n.SMSTarget.E164 != mobile || n.SMSTarget.Country != "FR" {
		t.Fatalf("sms target %+v", n.SMSTarget)
	}
	n.SMSTarget = routing.Target{SIPURI: "sip:a b@x"}
	if err := n.Validate(); !errors.Is(err, routing.ErrBadTarget) {
		t.Fatalf("bad SIP target: %v", err)
	}
	if tgt, ok := routing.SMSTargetOf(routing.Number{}); ok {
		t.Fatalf("a number without targets has SMS target %v", tgt)
	}
}
