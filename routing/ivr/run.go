package ivr

import (
	"fmt"
	"time"
)

// MaxVisits bounds how many menus one call may be offered (each menu
// entered, repeated or retried counts) before the IVR hangs up: a caller
// who never presses anything in menus whose defaults lead to each other
// would otherwise hold the line for ever.
const MaxVisits = 50

// Step is what the call flow does next: play Play (in order; digits the
// caller presses meanwhile count, so stop playing at the first one), then
// either collect digits as Collect says or, when Action is set, carry out
// the terminal action: the IVR is over.
//
// The call flow's loop, in outline:
//
//	m, err := store.GetIVR(ctx, did)   // after a decision with Action == routing.ActionIVR
//	r := ivr.NewRun(m)
//	st := r.Start()
//	for !st.Done() {
//		digits, err := pbx.PlayAndGather(ctx, leg, st.Play, st.Collect.MaxDigits,
//			st.Collect.Timeout, st.Collect.DigitTimeout)
//		if err != nil { return err }            // caller gone
//		st = r.Digits(digits)                    // "" (nothing pressed) counts as a timeout
//	}
//	play(st.Play)                                 // e.g. the invalid prompt before the default
//	switch st.Action.Kind() {
//	case ivr.KindForward:    forward(st.Action.Forwarding(decision))
//	case ivr.KindConference: join(st.Action.Conference)
//	case ivr.KindVoicemail:  voicemail()
//	case ivr.KindHangup:     hangup()
//	}
type Step struct {
	// Menu is the menu the caller is in (for a terminal step: the one
	// the action was chosen in).
	Menu string
	// Play lists the prompts to play first, in order (may be empty).
	Play []Prompt
	// Collect, when set, asks for up to MaxDigits digits; then call
	// Digits (or Timeout when none came).
	Collect *Collect
	// Action, when set, is terminal: KindForward, KindConference,
	// KindVoicemail or KindHangup.
	Action *Action
	// Why says how the step came about, for traces ("option 2", "timeout,
	// try 2 of 4", "default after 4 tries").
	Why string
}

// Done reports whether the step ends the IVR.
func (s Step) Done() bool { return s.Action != nil }

// Collect says how to gather digits: stop at MaxDigits digits, or when
// Timeout passes with no digit after the prompts ended, or DigitTimeout
// passes after a digit.
type Collect struct {
	MaxDigits    int
	Timeout      time.Duration
	DigitTimeout time.Duration
}

// Run walks one call through a validated Menu. It is a pure state
// machine: it never waits and never touches a PBX, the call flow reports
// what the caller did. One Run per call; not safe for concurrent use.
//
// Rules: the menu's prompt is played and digits collected. Digits that
// match an option run it: a submenu is entered (its tries start again),
// repeat offers the menu again (not counted as a failed try), a terminal
// action ends the IVR. Digits that match nothing play invalid_prompt (if
// any) and offer the menu again; no digit plays timeout_prompt (if any)
// and offers it again. After 1+retries failed tries the menu's default
// runs (hang up when it has none), after the invalid or timeout prompt.
type Run struct {
	m      *Menu
	cur    string
	tries  int // failed tries in the current menu
	visits int
	end    *Step
}

// NewRun starts the walk of a call through m (validated, as Parse or the
// store returns it).
func NewRun(m *Menu) *Run { return &Run{m: m} }

// Start enters the start menu.
func (r *Run) Start() Step {
	if r.end != nil {
		return r.ended()
	}
	return r.enter(r.m.Start, nil, "start")
}

// Digits reports what the caller pressed in the current menu; "" is a
// timeout.
func (r *Run) Digits(s string) Step {
	if r.end != nil {
		return r.ended()
	}
	if r.cur == "" {
		return r.Start()
	}
	if s == "" {
		return r.Timeout()
	}
	n := r.m.Menus[r.cur]
	if a, ok := n.Options[s]; ok && a != nil {
		return r.do(a, nil, fmt.Sprintf("option %s", s))
	}
	return r.fail(n.InvalidPrompt, fmt.Sprintf("invalid input %q", clip(s)))
}

// Timeout reports that the caller pressed nothing in time.
func (r *Run) Timeout() Step {
	if r.end != nil {
		return r.ended()
	}
	if r.cur == "" {
		return r.Start()
	}
	return r.fail(r.m.Menus[r.cur].TimeoutPrompt, "timeout")
}

// fail counts a failed try: the menu again, or its default when the tries
// are used up.
func (r *Run) fail(p Prompt, why string) Step {
	n := r.m.Menus[r.cur]
	r.tries++
	var pre []Prompt
	if p != "" {
		pre = []Prompt{p}
	}
	if r.tries >= n.Tries() {
		d := n.Default
		if d == nil {
			d = hangupAction()
		}
		return r.do(d, pre, fmt.Sprintf("%s, default after %d tries", why, n.Tries()))
	}
	return r.offer(pre, fmt.Sprintf("%s, try %d of %d", why, r.tries+1, n.Tries()))
}

func (r *Run) do(a *Action, pre []Prompt, why string) Step {
	switch a.Kind() {
	case KindMenu:
		return r.enter(a.Menu, pre, why)
	case KindRepeat:
		return r.offer(pre, why+": repeat")
	default:
		st := Step{Menu: r.cur, Play: pre, Action: a, Why: why}
		r.end = &st
		return st
	}
}

func (r *Run) enter(name string, pre []Prompt, why string) Step {
	r.cur, r.tries = name, 0
	return r.offer(pre, why)
}

// offer plays the current menu's prompt (after pre) and collects digits.
func (r *Run) offer(pre []Prompt, why string) Step {
	r.visits++
	if r.visits > MaxVisits {
		return r.do(hangupAction(), pre, fmt.Sprintf("%s: %d menus offered, hanging up", why, MaxVisits))
	}
	n := r.m.Menus[r.cur]
	play := append(append(make([]Prompt, 0, len(pre)+1), pre...), n.Prompt)
	return Step{Menu: r.cur, Play: play, Why: why, Collect: &Collect{
		MaxDigits:    n.MaxDigits,
		Timeout:      time.Duration(n.Timeout),
		DigitTimeout: time.Duration(n.DigitTimeout),
	}}
}

// ended repeats the terminal step without its prompts (already played).
func (r *Run) ended() Step {
	st := *r.end
	st.Play = nil
	return st
}
