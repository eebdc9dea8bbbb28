package callflow

import (
	"time"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/ivr"
)

// stateIVR: the caller is in a number's menu.
const stateIVR = "ivr"

// runIVR answers the caller and walks the number's menu with what the
// caller presses, then carries out the action the menu ends in.
func (c *call) runIVR(d routing.Decision) error {
	ctx, cancel := c.storeCtx()
	menu, err := c.e.o.Store.GetIVR(ctx, c.normalDID())
	cancel()
	if err != nil {
		c.log.Warn("IVR menu unreadable: the caller gets busy", "err", err)
		c.outcome, c.hangupBy = "failed", "system"
		return c.hangupIn(CauseBusy)
	}
	if err := c.answerIn(); err != nil {
		return err
	}
	c.setLive(func(l *routing.LiveCall) { l.State = stateIVR })
	r := ivr.NewRun(menu)
	st := r.Start()
	for !st.Done() {
		digits, err := c.gather(st.Play, st.Collect)
		if err != nil {
			return c.leftIVR(err)
		}
		if digits == "" {
			st = r.Timeout()
		} else {
			st = r.Digits(digits)
		}
		c.log.Debug("IVR step", "menu", st.Menu, "why", st.Why)
	}
	if _, err := c.gather(st.Play, nil); err != nil { // e.g. the invalid prompt before the default
		return c.leftIVR(err)
	}
	c.log.Info("IVR done", "menu", st.Menu, "why", st.Why, "action", string(st.Action.Kind()))
	switch st.Action.Kind() {
	case ivr.KindForward:
		fd := st.Action.Forwarding(d)
		c.mu.Lock()
		c.decision.Targets, c.decision.Strategy = fd.Targets, fd.Strategy
		c.mu.Unlock()
		return c.forward(fd)
	case ivr.KindConference:
		return c.conferenceRoom(st.Action.Conference)
	case ivr.KindVoicemail:
		return c.voicemail()
	default:
		c.outcome, c.hangupBy = "ivr", "system"
		return c.hangupIn(CauseNormal)
	}
}

// leftIVR records a caller who hung up in the menu.
func (c *call) leftIVR(err error) error {
	if c.outcome == "" {
		c.outcome = "ivr"
	}
	return err
}

// gather plays prompts (a key pressed skips the rest) and then, when col
// is set, collects up to col.MaxDigits keys: the first within col.Timeout
// of the prompts' end, each next within col.DigitTimeout. "" means
// nothing was pressed.
func (c *call) gather(prompts []ivr.Prompt, col *ivr.Collect) (string, error) {
	digits := ""
	for _, p := range prompts {
		if digits != "" {
			break
		}
		if err := c.playIn(Prompt(p), &digits); err != nil {
			return "", err
		}
	}
	if col == nil {
		return digits, nil
	}
	if len(digits) >= col.MaxDigits {
		return digits[:col.MaxDigits], nil
	}
	return c.collectKeys(digits, col.Timeout, col.DigitTimeout, func(d string) bool { return len(d) >= col.MaxDigits })
}

// collectKeys adds the caller's keys to digits until enough says so, or
// no key comes within first (next once a key came); "" with errCallerGone
// when the caller or an operator hangs up.
func (c *call) collectKeys(digits string, first, next time.Duration, enough func(string) bool) (string, error) {
	wait := first
	if digits != "" {
		wait = next
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	for !enough(digits) {
		ev, ok := c.waitEvent(t.C)
		if !ok {
			return digits, nil
		}
		switch {
		case ev.Kind == evDetach:
			return "", errDetached
		case ev.Kind == EvDTMF && ev.Leg == c.in.Leg:
			digits += ev.Digit
			t.Reset(next)
		case c.callerEnded(ev):
			return "", errCallerGone
		}
	}
	return digits, nil
}
