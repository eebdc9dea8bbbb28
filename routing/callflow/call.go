package callflow

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vnum/vnum/routing"
)

// Registry states of a call.
const (
	stateDeciding  = "deciding"
	stateRinging   = "ringing"
	stateBridged   = "bridged"
	stateVoicemail = "voicemail"
	stateAnnounce  = "announcing"
)

// errCallerGone: the caller hung up (or an operator hung up the call):
// the flow stops and the call ends.
var errCallerGone = errors.New("caller gone")

// errDetached: the engine let go of the call (vnumd stopping without
// dropping calls).
var errDetached = errors.New("detached")

// evDetach is the internal event a detaching engine sends every flow.
const evDetach EventKind = 0xff

// call is one inbound call and the goroutine that runs it.
type call struct {
	e   *Engine
	id  string
	in  Inbound
	log *slog.Logger
	ev  evQueue
	// killed closes when an operator or shutdown ends the call.
	killed   chan struct{}
	killOnce sync.Once

	// Set by the flow goroutine; read by refresh and reconcile under mu.
	mu       sync.Mutex
	live     routing.LiveCall
	liveSet  bool
	finished bool // set before the registry entry is deleted
	decision routing.Decision

	// The flow goroutine's own.
	caller    string // as normalised
	callerRec string // as the privacy policy lets records keep it
	outcome   string
	hangupBy  string
	target    string
	recording string
	answered  time.Time
	ended     time.Time
	adopted   bool
	legSeq    int
	inUp      bool // the caller's leg is answered
	holding   bool // music on hold plays to the caller (an answered caller waiting for targets)
	// Prompts played per leg whose end is not reported yet, and how many
	// of those ends nobody waits for any more (cut short by a key): those
	// are dropped when they come, never taken for a later prompt's end.
	playing map[LegID]int
	skip    map[LegID]int
}

func newCall(e *Engine, id string, in Inbound) *call {
	if in.At.IsZero() {
		in.At = time.Now()
	}
	c := &call{e: e, id: id, in: in, ev: newEvQueue(), killed: make(chan struct{})}
	c.caller = routing.NormalizeCaller(in.CallerNumber, e.o.Region)
	c.callerRec = e.o.Privacy.Record(c.caller)
	c.log = e.log.With("call_id", id, "did", in.DID)
	return c
}

// adoptedCall rebuilds a call from its registry entry after a restart.
func adoptedCall(e *Engine, r routing.LiveCall) *call {
	c := &call{e: e, id: r.ID, ev: newEvQueue(), killed: make(chan struct{}), adopted: true}
	c.in = Inbound{DID: r.DID, At: r.Started}
	if len(r.Legs) > 0 {
		c.in.Leg = LegID(r.Legs[0])
	}
	c.callerRec = r.Caller
	c.target = r.Target
	c.recording = r.Record
	c.answered = r.Answered
	c.live, c.liveSet = r, true
	c.live.Node = e.o.Node
	c.decision = routing.Decision{Action: routing.ActionForward, Reason: "adopted", SlotHeld: r.Slot}
	c.outcome = "answered"
	if (r.State != stateBridged && r.State != stateConference) || r.Answered.IsZero() {
		// Interrupted by the restart before it was connected.
		c.outcome, c.answered = "interrupted", time.Time{}
	}
	c.log = e.log.With("call_id", r.ID, "did", r.DID)
	return c
}

// deliver queues an event for the call. It never blocks and never drops:
// the driver's read loop must keep going, and a lost hang-up would leave
// a party in dead air.
func (c *call) deliver(ev Event) { c.ev.push(ev) }

// evQueue is a call's unbounded event queue.
type evQueue struct {
	mu    sync.Mutex
	q     []Event
	ready chan struct{} // one token while the queue may be non-empty
}

func newEvQueue() evQueue { return evQueue{ready: make(chan struct{}, 1)} }

func (q *evQueue) push(ev Event) {
	q.mu.Lock()
	q.q = append(q.q, ev)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *evQueue) pop() (Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.q) == 0 {
		return Event{}, false
	}
	ev := q.q[0]
	q.q[0] = Event{}
	q.q = q.q[1:]
	if len(q.q) == 0 {
		q.q = nil
	}
	return ev, true
}

// unpopAll puts events back at the head of the queue, in their order.
func (q *evQueue) unpopAll(evs []Event) {
	if len(evs) == 0 {
		return
	}
	q.mu.Lock()
	q.q = append(append([]Event(nil), evs...), q.q...)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (c *call) kill() { c.killOnce.Do(func() { close(c.killed) }) }

// gone reports an operator's hang-up (checked before ringing anyone).
func (c *call) gone() bool {
	select {
	case <-c.killed:
		c.hangupBy, c.outcome = "operator", "abandoned"
		_ = c.hangupIn(CauseNormal)
		return true
	default:
		return false
	}
}

// started reports whether the call's flow got past its decision (so its
// legs are worth reconciling).
func (c *call) started() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.liveSet
}

func (c *call) bridgeID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live.Bridge
}

// record returns the registry entry to refresh.
func (c *call) record() (routing.LiveCall, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.live
	r.Legs = append([]string(nil), r.Legs...)
	return r, c.liveSet && !c.finished
}

// setLive updates the registry entry and writes it at once.
func (c *call) setLive(f func(*routing.LiveCall)) {
	c.updateLive(f)
	c.flushLive()
}

// updateLive changes the registry entry in memory only; flushLive (or the
// periodic refresh) writes it. Call setup writes it once per state, not
// once per change.
func (c *call) updateLive(f func(*routing.LiveCall)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	if !c.liveSet {
		c.live = routing.LiveCall{ID: c.id, DID: c.in.DID, Node: c.e.o.Node, PBX: c.e.o.PBX.Name(),
			Caller: c.callerRec, Started: c.in.At.UTC(), Legs: []string{string(c.in.Leg)}, Slot: c.decision.SlotHeld}
		c.liveSet = true
	}
	f(&c.live)
}

// flushLive writes the registry entry now.
func (c *call) flushLive() {
	r, ok := c.record()
	if !ok {
		return
	}
	ctx, cancel := c.storeCtx()
	defer cancel()
	if err := c.e.o.Store.PutCall(ctx, r); err != nil {
		c.e.m.storeErrors.Inc()
		c.log.Warn("live-call registry", "err", err)
	}
}

func (c *call) storeCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.e.o.StoreTimeout)
}

func (c *call) pbxCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.e.o.PBXTimeout)
}

// run is the whole life of a new inbound call.
func (c *call) run() {
	defer c.finish()
	start := time.Now()
	ctx, cancel := c.storeCtx()
	d, err := c.e.o.Store.Decide(ctx, routing.Call{ID: c.id, DID: c.normalDID(), Caller: c.caller, CallerName: c.in.CallerName, At: c.in.At})
	cancel()
	c.e.m.decisionSeconds.Observe(time.Since(start).Seconds())
	if err != nil || d.Action == routing.ActionUnavailable {
		c.e.m.storeErrors.Inc()
		c.log.Warn("routing store unavailable: fallback", "err", err)
		// The script may have taken a slot before the reply was lost:
		// give it back (idempotent; else it lapses with its lease).
		rctx, rcancel := c.storeCtx()
		_ = c.e.o.Store.Release(rctx, c.normalDID(), c.id)
		rcancel()
		d = c.fallbackDecision()
	}
	c.mu.Lock()
	c.decision = d
	c.mu.Unlock()
	c.e.m.calls.WithLabelValues(string(d.Action)).Inc()
	c.log.Info("decision", "action", d.Action, "reason", d.Reason, "caller", c.callerRec)
	c.notify("call.started", map[string]any{"caller": c.callerRec, "action": string(d.Action), "reason": string(d.Reason)})
	switch d.Action {
	case routing.ActionForward:
		if d.Conference {
			err = c.conference(d, nil)
		} else {
			err = c.forward(d)
		}
	case routing.ActionIVR:
		err = c.runIVR(d)
	case routing.ActionConference:
		err = c.conferenceRoom(d.Room)
	case routing.ActionVoicemail:
		err = c.voicemail()
	case routing.ActionReject, routing.ActionUnknown:
		err = c.reject(d.Reject)
	default:
		err = c.reject(routing.RejectCongestion)
	}
	if err != nil && !errors.Is(err, errCallerGone) && !errors.Is(err, errDetached) {
		// A PBX request failed midway: never leave the caller in dead air.
		c.log.Warn("call flow failed: hanging up the caller", "err", err)
		if c.outcome == "" || c.outcome == "answered" {
			c.outcome = "failed"
		}
		c.hangupBy = "system"
		_ = c.hangupIn(CauseCongestion)
	}
}

func (c *call) normalDID() string {
	if d, err := routing.ParseE164(c.in.DID, c.e.o.Region); err == nil {
		return d
	}
	return c.in.DID
}

// fallbackDecision is what a call gets when the store is down.
func (c *call) fallbackDecision() routing.Decision {
	fb := c.e.o.Fallback
	d := routing.Decision{Action: fb.Action, Reason: routing.ReasonStoreDown, Detail: "store unavailable: fallback"}
	switch fb.Action {
	case routing.ActionForward:
		d.Targets = []routing.Target{fb.Target}
		d.Strategy = routing.Sequential
		d.RingTimeout = routing.DefaultRingTimeout
		did := c.normalDID()
		d.CallerID = routing.CallerID{Number: did, Name: did}
	case routing.ActionVoicemail:
	default:
		d.Action = routing.ActionReject
		d.Reject = routing.RejectBusy
	}
	return d
}

// waitEvent waits for the next event of the call, or the operator's kill,
// or the timer.
func (c *call) waitEvent(timer <-chan time.Time) (Event, bool) {
	ev, fired := c.waitEvent2(timer, nil)
	return ev, fired == 0
}

// waitEvent2 is waitEvent with two timers: fired says which one ended the
// wait (1 or 2; 0 for an event), so that neither tick is ever lost.
func (c *call) waitEvent2(timer, timer2 <-chan time.Time) (ev Event, fired int) {
	for {
		if ev, ok := c.ev.pop(); ok {
			if ev.Kind == EvPlaybackDone {
				if c.playing[ev.Leg] > 0 {
					c.playing[ev.Leg]--
				}
				if c.skip[ev.Leg] > 0 {
					c.skip[ev.Leg]--
					continue
				}
			}
			return ev, 0
		}
		select {
		case <-c.ev.ready:
		case <-c.killed:
			return Event{Kind: EvHangup, Leg: "", Cause: CauseNormal}, 0
		case <-c.e.detach:
			return Event{Kind: evDetach}, 0
		case <-timer:
			return Event{}, 1
		case <-timer2:
			return Event{}, 2
		}
	}
}

// forward rings the targets and bridges the first that answers.
func (c *call) forward(d routing.Decision) error {
	if c.gone() {
		return errCallerGone
	}
	if err := c.ringIn(); err != nil {
		return err
	}
	c.updateLive(func(l *routing.LiveCall) { l.State = stateRinging }) // written with the first legs
	var last Cause = CauseFailed
	groups := [][]routing.Target{d.Targets}
	if d.Strategy != routing.Simultaneous {
		groups = groups[:0]
		for _, t := range d.Targets {
			groups = append(groups, []routing.Target{t})
		}
	}
	for _, g := range groups {
		leg, t, cause, err := c.dial(g, d)
		if err != nil {
			return err // the caller is gone
		}
		if leg != "" {
			return c.bridged(d, leg, t)
		}
		last = cause
	}
	return c.nobodyAnswered(d, last)
}

// nobodyAnswered ends a call no target took: voicemail when the number
// has it, else busy. last is the last target's failure.
func (c *call) nobodyAnswered(d routing.Decision, last Cause) error {
	c.unhold()
	c.outcome = map[Cause]string{CauseBusy: "busy", CauseNoAnswer: "no-answer"}[last]
	if c.outcome == "" {
		c.outcome = "failed"
	}
	if d.Voicemail {
		return c.voicemail()
	}
	c.hangupBy = "system"
	return c.hangupIn(CauseBusy)
}

// dial originates to targets at once and waits for the first answer. It
// returns the answered leg, or the last failure cause; err is
// errCallerGone when the caller hung up meanwhile.
func (c *call) dial(targets []routing.Target, d routing.Decision) (LegID, routing.Target, Cause, error) {
	legs := map[LegID]routing.Target{}
	last := CauseFailed
	c.originateAll(targets, d, legs)
	c.flushLive() // ringing, with its legs: one write for the whole setup step
	defer func() {
		for leg := range legs {
			c.e.unbind(leg)
		}
	}()
	// The PBX enforces the ring timeout; this is a safety net should its
	// event never come.
	safety := time.NewTimer(d.RingTimeout + 10*time.Second)
	defer safety.Stop()
	hangAll := func(except LegID) {
		for leg := range legs {
			if leg != except {
				_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Hangup(ctx, leg, CauseNormal) })
			}
		}
	}
	confirm := newConfirmations(c.e.o.ConfirmTimeout)
	defer confirm.stop()
	for len(legs) > 0 {
		ev, fired := c.waitEvent2(safety.C, confirm.timer())
		if fired != 0 {
			if late := confirm.expired(); fired == 2 {
				for _, leg := range late {
					c.log.Info("target answered but did not confirm: treated as no answer")
					_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Hangup(ctx, leg, CauseNormal) })
				}
				continue // their hang-ups remove them
			}
			hangAll("")
			return "", routing.Target{}, CauseNoAnswer, nil
		}
		switch {
		case ev.Kind == EvDTMF && confirm.pending(ev.Leg) && ev.Digit == declineKey:
			confirm.done(ev.Leg)
			c.log.Info("target declined the call")
			_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Hangup(ctx, ev.Leg, CauseNormal) })
		case ev.Kind == EvDTMF && confirm.pending(ev.Leg) && ev.Digit == acceptKey:
			c.skipPlays(ev.Leg) // the confirm prompt, cut short
			t := legs[ev.Leg]
			confirm.done(ev.Leg)
			delete(legs, ev.Leg)
			hangAll(ev.Leg)
			c.e.bind(ev.Leg, c)
			return ev.Leg, t, CauseNormal, nil
		case ev.Kind == evDetach:
			return "", routing.Target{}, CauseNormal, errDetached
		case ev.Kind == EvHangup && (ev.Leg == c.in.Leg || ev.Leg == ""):
			hangAll("")
			if ev.Leg == "" {
				c.hangupBy = "operator"
				_ = c.hangupIn(CauseNormal)
			} else {
				c.hangupBy = "caller"
			}
			c.outcome = "abandoned"
			return "", routing.Target{}, CauseNormal, errCallerGone
		case ev.Kind == EvAnswered:
			t, mine := legs[ev.Leg]
			if !mine {
				continue
			}
			if d.Confirm {
				// The answering party must press a key: a carrier's
				// voicemail greeting then never takes the call.
				if err := c.playTo(ev.Leg, PromptConfirm); err != nil {
					_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Hangup(ctx, ev.Leg, CauseNormal) })
					continue
				}
				confirm.start(ev.Leg, t)
				continue
			}
			delete(legs, ev.Leg)
			hangAll(ev.Leg) // simultaneous ringing: the others lose
			c.e.bind(ev.Leg, c)
			return ev.Leg, t, CauseNormal, nil
		case ev.Kind == EvHangup:
			if _, mine := legs[ev.Leg]; mine {
				confirm.done(ev.Leg)
				delete(legs, ev.Leg)
				last = ev.Cause
				c.log.Info("target failed", "cause", ev.Cause.String())
				c.updateLive(func(l *routing.LiveCall) { l.Legs = removeLeg(l.Legs, string(ev.Leg)) })
			}
		}
	}
	return "", routing.Target{}, last, nil
}

// bridged answers the caller, bridges the answered target, records when
// asked, and waits for either side to hang up.
func (c *call) bridged(d routing.Decision, callee LegID, t routing.Target) error {
	if err := c.answerIn(); err != nil {
		_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Hangup(ctx, callee, CauseNormal) })
		if c.callerGone() {
			// The caller hung up just as the target answered.
			c.outcome, c.hangupBy = "abandoned", "caller"
			return errCallerGone
		}
		c.outcome, c.hangupBy = "failed", "system"
		_ = c.hangupIn(CauseFailed)
		return err
	}
	c.unhold()
	c.answered = time.Now()
	c.outcome = "answered"
	c.target = t.String()
	c.notify("call.answered", map[string]any{"caller": c.callerRec, "target": c.target})
	var bridge string
	if err := c.pbx(func(ctx context.Context) error {
		var err error
		bridge, err = c.e.o.PBX.Bridge(ctx, c.id, c.in.Leg, callee)
		return err
	}); err != nil {
		c.log.Warn("bridge", "err", err)
		if bridge != "" {
			_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.DestroyBridge(ctx, bridge) })
		}
		c.hangupBy = "system"
		_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Hangup(ctx, callee, CauseNormal) })
		return c.hangupIn(CauseFailed)
	}
	c.mu.Lock()
	c.live.Bridge = bridge // owned from now on (reconciliation must not remove it)
	c.mu.Unlock()
	if d.Record {
		c.startRecording(d, bridge, c.in.Leg, callee)
	}
	c.e.m.setup.Observe(time.Since(c.in.At).Seconds())
	c.setLive(func(l *routing.LiveCall) {
		l.State, l.Bridge, l.Answered, l.Target, l.Record = stateBridged, bridge, c.answered.UTC(), c.target, c.recording
		l.Legs = []string{string(c.in.Leg), string(callee)}
	})
	return c.waitBridged(callee, bridge)
}

// waitBridged waits for the end of a bridged call and hangs up the other
// side.
func (c *call) waitBridged(callee LegID, bridge string) error {
	for {
		ev, _ := c.waitEvent(nil)
		if ev.Kind == evDetach {
			return errDetached
		}
		if ev.Kind != EvHangup {
			continue
		}
		switch ev.Leg {
		case c.in.Leg:
			c.hangupBy = "caller"
			_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Hangup(ctx, callee, CauseNormal) })
		case callee:
			c.hangupBy = "callee"
			_ = c.hangupIn(CauseNormal)
		case "":
			c.hangupBy = "operator"
			_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Hangup(ctx, callee, CauseNormal) })
			_ = c.hangupIn(CauseNormal)
		default:
			continue
		}
		c.ended = time.Now()
		if bridge != "" {
			_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.DestroyBridge(ctx, bridge) })
		}
		return nil
	}
}

// runAdopted resumes a bridged call after a restart.
func (c *call) runAdopted() {
	defer c.finish()
	r, _ := c.record()
	if strings.HasPrefix(r.Bridge, PBXRoom("")) {
		c.adoptRoom(r.Bridge, true)
		return
	}
	if r.State == stateConference {
		c.adoptRoom(PBXRoom(strings.TrimPrefix(r.Target, "room ")), false) // was waiting for the moderator
		return
	}
	if strings.HasPrefix(r.Bridge, roomOf("")) {
		members := map[LegID]bool{}
		for _, l := range r.Legs[1:] {
			members[LegID(l)] = true
		}
		_ = c.conference(c.decision, members)
		return
	}
	callee := LegID("")
	if len(r.Legs) == 2 {
		callee = LegID(r.Legs[1])
	}
	_ = c.waitBridged(callee, r.Bridge)
}

// callerGone reports whether the caller's hang-up is among the events
// already queued (events of other legs are dropped: the call is ending).
func (c *call) callerGone() bool {
	wait := time.NewTimer(200 * time.Millisecond)
	defer wait.Stop()
	for {
		ev, ok := c.waitEvent(wait.C)
		if !ok || ev.Kind == evDetach {
			return false
		}
		if ev.Kind == EvHangup && ev.Leg == c.in.Leg {
			return true
		}
	}
}

// reject ends the call the way the decision says, never hinting at a block.
func (c *call) reject(mode routing.RejectMode) error {
	c.outcome = "rejected"
	c.hangupBy = "system"
	switch mode {
	case routing.RejectNotInService:
		return c.announce(PromptNotInService)
	case routing.RejectCongestion:
		return c.hangupIn(CauseCongestion)
	default:
		return c.hangupIn(CauseBusy)
	}
}

// announce answers, plays a prompt and hangs up.
func (c *call) announce(p Prompt) error {
	if err := c.answerIn(); err != nil {
		return err
	}
	c.setLive(func(l *routing.LiveCall) { l.State = stateAnnounce })
	if err := c.play(p); err != nil {
		return err
	}
	return c.hangupIn(CauseUnallocated)
}

// playTo asks the PBX to play a prompt to a leg, and counts it until its
// end is reported.
func (c *call) playTo(leg LegID, p Prompt) error {
	err := c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Play(ctx, leg, p) })
	if err == nil {
		if c.playing == nil {
			c.playing, c.skip = map[LegID]int{}, map[LegID]int{}
		}
		c.playing[leg]++
	}
	return err
}

// skipPlays: the flow waits no more for the prompts playing to leg now;
// their ends will be dropped when reported.
func (c *call) skipPlays(leg LegID) {
	if c.skip != nil {
		c.skip[leg] = c.playing[leg]
	}
}

// play plays a prompt to the caller and waits for its end (or the
// caller's).
func (c *call) play(p Prompt) error { return c.playIn(p, nil) }

// playIn plays a prompt to the caller and waits for its end. With dig set,
// a key the caller presses meanwhile is appended to it and ends the wait
// (barge-in); the prompt's end is still counted when it comes, so that it
// is never taken for the end of a later prompt.
func (c *call) playIn(p Prompt, dig *string) error {
	if err := c.playTo(c.in.Leg, p); err != nil {
		return err
	}
	t := time.NewTimer(60 * time.Second)
	defer t.Stop()
	for {
		ev, ok := c.waitEvent(t.C)
		if !ok {
			c.skipPlays(c.in.Leg) // the PBX never said: forget it
			return nil
		}
		switch {
		case ev.Kind == evDetach:
			return errDetached
		case ev.Kind == EvPlaybackDone && ev.Leg == c.in.Leg:
			return nil
		case ev.Kind == EvDTMF && ev.Leg == c.in.Leg && dig != nil:
			*dig += ev.Digit
			c.skipPlays(c.in.Leg)
			return nil
		case c.callerEnded(ev):
			return errCallerGone
		}
	}
}

// callerEnded reports whether ev ends the caller's part: the caller hung
// up, or an operator hung the call up (then the caller's leg is ended
// here). It records who did.
func (c *call) callerEnded(ev Event) bool {
	switch {
	case ev.Kind == EvHangup && ev.Leg == c.in.Leg:
		c.hangupBy = "caller"
	case ev.Kind == EvHangup && ev.Leg == "":
		c.hangupBy = "operator"
		_ = c.hangupIn(CauseNormal)
	default:
		return false
	}
	return true
}

// voicemail answers, plays the greeting and a beep, and records a message.
func (c *call) voicemail() error {
	if err := c.answerIn(); err != nil {
		return err
	}
	c.setLive(func(l *routing.LiveCall) { l.State = stateVoicemail })
	if c.outcome == "" {
		c.outcome = "voicemail"
	}
	max, greeting := c.e.o.MaxMessage, PromptVoicemail
	sctx, cancel := c.storeCtx()
	if mb, err := c.e.o.Store.GetMailbox(sctx, c.normalDID()); err == nil {
		if mb.MaxMessage > 0 {
			max = mb.MaxMessage
		}
		if src, _ := mb.GreetingSource(); src != "" {
			greeting = Prompt(mb.Greeting) // "sound:NAME" or "file:NAME", checked on the way in and by the driver
		}
	}
	cancel()
	if err := c.play(greeting); err != nil {
		if greeting == PromptVoicemail {
			return err
		}
		c.log.Warn("mailbox greeting not playable: the default plays", "err", err)
		if err := c.play(PromptVoicemail); err != nil {
			return err
		}
	}
	if err := c.play(PromptBeep); err != nil {
		return err
	}
	var name string
	if err := c.pbx(func(ctx context.Context) error {
		var err error
		name, err = c.e.o.PBX.RecordMessage(ctx, c.id, c.in.Leg, max)
		return err
	}); err != nil {
		return c.hangupIn(CauseNormal)
	}
	started := time.Now()
	c.outcome = "voicemail"
	t := time.NewTimer(max + 5*time.Second)
	defer t.Stop()
	dur := time.Duration(0)
	gone := false
loop:
	for {
		ev, ok := c.waitEvent(t.C)
		switch {
		case !ok:
			break loop
		case ev.Kind == evDetach:
			return errDetached
		case ev.Kind == EvRecordingDone && ev.Leg == c.in.Leg:
			dur = ev.Duration
			break loop
		case ev.Kind == EvDTMF && ev.Leg == c.in.Leg && ev.Digit == "#":
			// The caller is done: hanging up ends the recording on every
			// PBX (Asterisk also stops it on '#' by itself).
			break loop
		case ev.Kind == EvHangup && ev.Leg == c.in.Leg:
			c.hangupBy, gone = "caller", true
			break loop
		case ev.Kind == EvHangup && ev.Leg == "":
			c.hangupBy = "operator"
			break loop
		}
	}
	if dur == 0 {
		dur = time.Since(started)
	}
	ctx, cancel := c.storeCtx()
	err := c.e.o.Store.PutRecording(ctx, routing.Recording{Name: name, CallID: c.id, DID: c.normalDID(), Kind: "voicemail",
		Caller: c.callerRec, Started: started.UTC(), Duration: dur, Node: c.e.o.Node, PBX: c.e.o.PBX.Name()})
	cancel()
	if err != nil {
		c.e.m.storeErrors.Inc()
		c.log.Warn("voicemail metadata", "err", err)
	}
	c.e.m.voicemails.Inc()
	c.notify("voicemail.new", map[string]any{"caller": c.callerRec, "recording": name, "duration_s": int(dur.Round(time.Second) / time.Second)})
	if gone {
		return errCallerGone
	}
	return c.hangupIn(CauseNormal)
}

// ringIn sends ringing to the caller, unless the line is answered
// already (an IVR that forwards): a 180 after the 200 means nothing.
func (c *call) ringIn() error {
	if c.inUp {
		// Answered already (an IVR that forwards): ringback means nothing
		// now, so the caller hears music while the targets ring.
		if !c.holding && c.pbx(func(ctx context.Context) error { return c.e.o.PBX.MusicOnHold(ctx, c.in.Leg, true) }) == nil {
			c.holding = true
		}
		return nil
	}
	return c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Ring(ctx, c.in.Leg) })
}

// unhold stops the music ringIn started (before the caller is connected,
// hears voicemail or is hung up).
func (c *call) unhold() {
	if c.holding {
		_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.MusicOnHold(ctx, c.in.Leg, false) })
		c.holding = false
	}
}

// answerIn answers the caller's leg once.
func (c *call) answerIn() error {
	if c.inUp {
		return nil
	}
	err := c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Answer(ctx, c.in.Leg) })
	c.inUp = err == nil
	return err
}

// hangupIn ends the caller's leg.
func (c *call) hangupIn(cause Cause) error {
	if c.hangupBy == "" {
		c.hangupBy = "system"
	}
	return c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Hangup(ctx, c.in.Leg, cause) })
}

// pbx runs one PBX request with its time limit and counts failures.
func (c *call) pbx(f func(ctx context.Context) error) error {
	ctx, cancel := c.pbxCtx()
	defer cancel()
	err := f(ctx)
	if err != nil {
		c.e.m.pbxErrors.Inc()
	}
	return err
}

// finish releases what the call held and writes its one CDR — unless the
// engine detached, in which case the next process finishes the call.
func (c *call) finish() {
	defer c.e.done(c)
	select {
	case <-c.e.detach:
		return
	default:
	}
	if c.ended.IsZero() {
		c.ended = time.Now()
	}
	c.mu.Lock()
	d := c.decision
	c.finished = true // no refresh may recreate the registry entry now
	c.mu.Unlock()
	did := c.normalDID()
	// Each write gets its own time limit: a slow one must not starve the
	// CDR.
	ctx := context.Background()
	bounded := func(f func(ctx context.Context) error) error {
		sctx, cancel := context.WithTimeout(ctx, c.e.o.StoreTimeout)
		defer cancel()
		return f(sctx)
	}
	if d.SlotHeld {
		if err := bounded(func(ctx context.Context) error { return c.e.o.Store.Release(ctx, did, c.id) }); err != nil {
			c.e.m.storeErrors.Inc()
			c.log.Warn("release slot (it expires with its lease)", "err", err)
		}
	}
	var billsec time.Duration
	if !c.answered.IsZero() {
		billsec = c.ended.Sub(c.answered).Round(time.Second)
		if err := bounded(func(ctx context.Context) error { return c.e.o.Store.AddMinutes(ctx, did, billsec, c.ended) }); err != nil {
			c.e.m.storeErrors.Inc()
		}
		if c.recording != "" {
			rec := routing.Recording{Name: c.recording, CallID: c.id, DID: did, Kind: "call",
				Caller: c.callerRec, Started: c.answered.UTC(), Duration: billsec, Node: c.e.o.Node, PBX: c.e.o.PBX.Name()}
			if err := bounded(func(ctx context.Context) error { return c.e.o.Store.PutRecording(ctx, rec) }); err != nil {
				c.e.m.storeErrors.Inc()
				c.log.Warn("recording metadata", "err", err)
			}
			c.notify("recording.ready", map[string]any{"recording": c.recording, "duration_s": int(billsec / time.Second)})
		}
	}
	if c.outcome == "" {
		c.outcome = "rejected"
	}
	cdr := routing.CDR{CallID: c.id, DID: did, Caller: c.callerRec, Node: c.e.o.Node, PBX: c.e.o.PBX.Name(),
		Action: string(d.Action), Outcome: c.outcome, Reason: string(d.Reason), Target: c.target,
		Started: c.in.At.UTC(), Answered: c.answered.UTC(), Ended: c.ended.UTC(), Billsec: billsec,
		Recording: c.recording, HangupBy: c.hangupBy}
	if c.answered.IsZero() {
		cdr.Answered = time.Time{}
	}
	if err := bounded(func(ctx context.Context) error { return c.e.o.Store.WriteCDR(ctx, cdr) }); err != nil {
		c.e.m.storeErrors.Inc()
		c.log.Error("CDR lost: store unavailable", "err", err, "outcome", c.outcome)
	}
	if err := bounded(func(ctx context.Context) error { return c.e.o.Store.DeleteCall(ctx, c.id) }); err != nil {
		c.e.m.storeErrors.Inc()
	}
	c.e.m.ended.WithLabelValues(c.outcome).Inc()
	c.notify("call.ended", map[string]any{"caller": c.callerRec, "outcome": c.outcome, "hangup_by": c.hangupBy,
		"billsec": int(billsec / time.Second), "target": c.target})
	c.log.Info("call ended", "outcome", c.outcome, "hangup_by", c.hangupBy, "billsec", int(billsec/time.Second))
}

func removeLeg(legs []string, leg string) []string {
	out := legs[:0]
	for _, l := range legs {
		if l != leg {
			out = append(out, l)
		}
	}
	return out
}
