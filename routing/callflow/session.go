package callflow

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/vnum/vnum/routing"
)

// originateAll starts one outbound leg per target, each with its own id,
// and records them in legs; targets whose request fails are left out.
func (c *call) originateAll(targets []routing.Target, d routing.Decision, legs map[LegID]routing.Target) {
	for _, t := range targets {
		if c.gone() {
			return
		}
		c.legSeq++
		leg := LegID(c.id + "-" + strconv.Itoa(c.legSeq))
		c.e.bind(leg, c)
		c.e.originating(leg, true)
		legs[leg] = t
		c.updateLive(func(l *routing.LiveCall) { l.Legs = append(l.Legs, string(leg)) })
		err := c.pbx(func(ctx context.Context) error {
			return c.e.o.PBX.Originate(ctx, Originate{Leg: leg, CallID: c.id, Inbound: c.in.Leg, Target: t, CallerID: d.CallerID, Timeout: d.RingTimeout})
		})
		c.e.originating(leg, false)
		if err != nil {
			c.log.Warn("originate", "target", t.String(), "err", err)
			// The PBX may still create the leg (a timed-out request):
			// hang it up by its id, which is idempotent.
			_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Hangup(ctx, leg, CauseNormal) })
			delete(legs, leg)
			c.e.unbind(leg)
			c.updateLive(func(l *routing.LiveCall) { l.Legs = removeLeg(l.Legs, string(leg)) })
		}
	}
}

// The keys of the confirm prompt ("press 1 to accept, 2 to reject"): other
// keys are ignored.
const (
	acceptKey  = "1"
	declineKey = "2"
)

// confirmations tracks answered legs that still have to press a key.
type confirmations struct {
	within   time.Duration
	deadline map[LegID]time.Time
	t        *time.Timer
}

func newConfirmations(within time.Duration) *confirmations {
	return &confirmations{within: within, deadline: map[LegID]time.Time{}}
}

func (k *confirmations) start(leg LegID, _ routing.Target) {
	k.deadline[leg] = time.Now().Add(k.within)
	k.arm()
}

func (k *confirmations) pending(leg LegID) bool { _, ok := k.deadline[leg]; return ok }

func (k *confirmations) done(leg LegID) {
	if _, ok := k.deadline[leg]; ok {
		delete(k.deadline, leg)
		k.arm()
	}
}

// timer fires at the earliest deadline (nil: none pending).
func (k *confirmations) timer() <-chan time.Time {
	if k.t == nil || len(k.deadline) == 0 {
		return nil
	}
	return k.t.C
}

// expired removes and returns the legs whose time ran out.
func (k *confirmations) expired() []LegID {
	var out []LegID
	now := time.Now()
	for leg, dl := range k.deadline {
		if !now.Before(dl) {
			out = append(out, leg)
			delete(k.deadline, leg)
		}
	}
	k.arm()
	return out
}

func (k *confirmations) arm() {
	k.stop()
	var first time.Time
	for _, dl := range k.deadline {
		if first.IsZero() || dl.Before(first) {
			first = dl
		}
	}
	if !first.IsZero() {
		k.t = time.NewTimer(time.Until(first))
	}
}

func (k *confirmations) stop() {
	if k.t != nil {
		k.t.Stop()
		k.t = nil
	}
}

// startRecording records a connected call; when the decision asks for
// consent, every party first hears that the call is recorded (played to
// each at once, waited for up to 15 s), and nothing is recorded before.
func (c *call) startRecording(d routing.Decision, bridge string, parties ...LegID) {
	if d.Consent && !c.announceConsent(parties...) {
		c.log.Warn("recording consent not announced to every party: the call is not recorded")
		return
	}
	_ = c.pbx(func(ctx context.Context) error {
		var err error
		c.recording, err = c.e.o.PBX.RecordCall(ctx, c.id, bridge, c.in.Leg)
		return err
	})
}

// announceConsent plays the recording announcement to every party at
// once and reports whether each heard it to the end (within 15 s). Other
// events that come meanwhile (another leg answering, confirming, hanging
// up) are kept, in order, for the flow.
func (c *call) announceConsent(parties ...LegID) bool {
	waiting := map[LegID]bool{}
	for _, leg := range parties {
		if err := c.playTo(leg, PromptConsent); err != nil {
			return false
		}
		waiting[leg] = true
	}
	var kept []Event
	defer func() { c.ev.unpopAll(kept) }()
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	for len(waiting) > 0 {
		ev, ok := c.waitEvent(t.C)
		if !ok {
			return false
		}
		switch {
		case ev.Kind == EvPlaybackDone && waiting[ev.Leg]:
			delete(waiting, ev.Leg)
		case ev.Kind == evDetach || ev.Kind == EvHangup && (ev.Leg == "" || slices.Contains(parties, ev.Leg)):
			// A party left during the announcement: the flow ends the call.
			kept = append(kept, ev)
			return false
		default:
			kept = append(kept, ev)
		}
	}
	return true
}

// roomOf names the room of a multi-party call.
func roomOf(callID string) string { return "vnum-room-" + callID }

// conference rings every target at once and puts each one that answers
// (and confirms, when asked) in one room with the caller: masked sessions
// of three or more participants. The call lasts while the caller and at
// least one other party are in the room.
//
// An adopted call (after a restart) passes the parties still in its room
// as members: nobody is rung again, the room just goes on.
func (c *call) conference(d routing.Decision, members map[LegID]bool) error {
	if members == nil {
		members = map[LegID]bool{}
	}
	ringing := map[LegID]routing.Target{} // ringing, or answered and confirming
	if len(members) == 0 {
		if c.gone() {
			return errCallerGone
		}
		if err := c.ringIn(); err != nil {
			return err
		}
		c.updateLive(func(l *routing.LiveCall) { l.State = stateRinging })
		c.originateAll(d.Targets, d, ringing)
		c.flushLive()
	}
	room := roomOf(c.id)
	confirm := newConfirmations(c.e.o.ConfirmTimeout)
	defer confirm.stop()
	safety := time.NewTimer(d.RingTimeout + 10*time.Second)
	defer safety.Stop()
	safetyC := safety.C
	last := CauseFailed
	hangup := func(leg LegID) {
		_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Hangup(ctx, leg, CauseNormal) })
	}
	endAll := func() {
		for leg := range ringing {
			hangup(leg)
		}
		for leg := range members {
			hangup(leg)
		}
		if !c.answered.IsZero() {
			_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.DestroyBridge(ctx, room) })
		}
	}
	registerMembers := func() {
		c.setLive(func(l *routing.LiveCall) {
			l.State, l.Bridge, l.Answered, l.Target, l.Record = stateBridged, room, c.answered.UTC(), c.target, c.recording
			l.Legs = []string{string(c.in.Leg)}
			for leg := range members {
				l.Legs = append(l.Legs, string(leg))
			}
			// Not the legs still ringing: after a restart only the room's
			// members are adopted, and a leg nobody owns is hung up.
		})
	}
	join := func(leg LegID, t routing.Target) error {
		if c.answered.IsZero() {
			if err := c.answerIn(); err != nil {
				hangup(leg)
				return err
			}
			c.mu.Lock()
			c.live.Bridge = room // owned from now on
			c.mu.Unlock()
			c.unhold()
			if err := c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Join(ctx, room, c.in.Leg) }); err != nil {
				hangup(leg)
				return err
			}
			c.answered, c.outcome, c.target = time.Now(), "answered", t.String()
			c.notify("call.answered", map[string]any{"caller": c.callerRec, "target": c.target})
			c.e.m.setup.Observe(time.Since(c.in.At).Seconds())
		}
		if err := c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Join(ctx, room, leg) }); err != nil {
			c.log.Warn("join room", "err", err)
			hangup(leg)
			return nil // its hang-up removes it
		}
		members[leg] = true
		if d.Record && c.recording == "" {
			c.startRecording(d, room, c.in.Leg, leg)
		}
		registerMembers()
		return nil
	}
	for {
		if len(ringing) == 0 && len(members) == 0 {
			if c.answered.IsZero() {
				return c.nobodyAnswered(d, last)
			}
			// Everyone else left: the caller is alone in the room.
			c.hangupBy, c.ended = "callee", time.Now()
			_ = c.hangupIn(CauseNormal)
			_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.DestroyBridge(ctx, room) })
			return nil
		}
		ev, fired := c.waitEvent2(safetyC, confirm.timer())
		if fired != 0 {
			late := confirm.expired()
			if fired == 1 { // the ring safety net
				safetyC = nil
				late = slices.Collect(maps.Keys(ringing))
			}
			for _, leg := range late {
				hangup(leg) // their hang-ups remove them
			}
			continue
		}
		switch {
		case ev.Kind == evDetach:
			return errDetached
		case ev.Kind == EvHangup && (ev.Leg == c.in.Leg || ev.Leg == ""):
			endAll()
			c.ended = time.Now()
			if ev.Leg == "" {
				c.hangupBy = "operator"
				_ = c.hangupIn(CauseNormal)
			} else {
				c.hangupBy = "caller"
			}
			if c.answered.IsZero() {
				c.outcome = "abandoned"
				return errCallerGone
			}
			return nil
		case ev.Kind == EvAnswered:
			t, mine := ringing[ev.Leg]
			if !mine {
				continue
			}
			if d.Confirm {
				if err := c.playTo(ev.Leg, PromptConfirm); err != nil {
					hangup(ev.Leg)
					continue
				}
				confirm.start(ev.Leg, t)
				continue
			}
			delete(ringing, ev.Leg)
			if err := join(ev.Leg, t); err != nil {
				endAll()
				return err
			}
		case ev.Kind == EvDTMF && confirm.pending(ev.Leg) && ev.Digit == declineKey:
			confirm.done(ev.Leg)
			hangup(ev.Leg)
		case ev.Kind == EvDTMF && confirm.pending(ev.Leg) && ev.Digit == acceptKey:
			c.skipPlays(ev.Leg) // the confirm prompt, cut short
			t := ringing[ev.Leg]
			confirm.done(ev.Leg)
			delete(ringing, ev.Leg)
			if err := join(ev.Leg, t); err != nil {
				endAll()
				return err
			}
		case ev.Kind == EvHangup:
			switch {
			case members[ev.Leg]:
				delete(members, ev.Leg)
				c.e.unbind(ev.Leg)
				c.log.Info("a party left the room", "left", len(members))
				registerMembers()
			default:
				if _, mine := ringing[ev.Leg]; mine {
					confirm.done(ev.Leg)
					delete(ringing, ev.Leg)
					c.e.unbind(ev.Leg)
					last = ev.Cause
					c.updateLive(func(l *routing.LiveCall) { l.Legs = removeLeg(l.Legs, string(ev.Leg)) })
				}
			}
		}
	}
}
