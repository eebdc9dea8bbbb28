package scenariotest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing/ivr"
)

const menuYAML = `start: main
menus:
  main:
    prompt: sound:vnum-welcome
    timeout: 1s
    digit_timeout: 1s
    retries: 1
    invalid_prompt: sound:vnum-invalid
    timeout_prompt: sound:vnum-no-input
    options:
      "1": {forward: ["+33612345678"]}
      "2": {menu: sales}
    default: {voicemail: true}
  sales:
    prompt: sound:vnum-sales
    timeout: 1s
    options:
      "1": {forward: ["+33140000000"]}
`

func setMenu(t *testing.T, e *Env) {
	t.Helper()
	addNumber(t, e)
	m, err := ivr.Parse([]byte(menuYAML), "FR")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Store.SetIVR(context.Background(), did, m); err != nil {
		t.Fatal(err)
	}
}

// inMenu calls the number and waits until its menu answers.
func inMenu(t *testing.T, e *Env) Party {
	t.Helper()
	c := e.PBX.Inbound(t, did, caller, callerNam)
	eventually(t, "the menu answered", func() bool { return c.Answered() && heardLike(c, "vnum-welcome") })
	return c
}

// connectedTo waits until the caller and a party talk in one bridge or
// room.
func connectedTo(t *testing.T, c, callee Party, what string) {
	t.Helper()
	eventually(t, what, func() bool { return callee.Answered() && c.Room() != "" && c.Room() == callee.Room() })
}

// heardLike reports whether a party heard a sound whose name contains s.
func heardLike(p Party, s string) bool {
	for _, h := range p.Heard() {
		if strings.Contains(h, s) {
			return true
		}
	}
	return false
}

func ivrDigitForwards(t *testing.T, e *Env) {
	setMenu(t, e)
	e.PBX.Target(mobile, Behavior{AnswerAfter: 300 * time.Millisecond})
	c := inMenu(t, e)
	c.Press("1")
	callee := reached(t, e, mobile, 1)[0]
	connectedTo(t, c, callee, "the caller connected to option 1")
	if !heard(c, "moh") {
		t.Errorf("the answered caller heard nothing while the target rang: %v", c.Heard())
	}
	sawProxy(t, callee, did)
	c.Hangup()
	wait(t, callee, "the callee")
	noLiveCalls(t, e)
}

func ivrSubmenu(t *testing.T, e *Env) {
	setMenu(t, e)
	e.PBX.Target(desk, Behavior{AnswerAfter: 50 * time.Millisecond})
	c := inMenu(t, e)
	c.Press("2")
	eventually(t, "the submenu's prompt", func() bool { return heardLike(c, "vnum-sales") })
	c.Press("1")
	callee := reached(t, e, desk, 1)[0]
	connectedTo(t, c, callee, "the caller connected to the submenu's option")
	if n := len(e.PBX.Reached(mobile)); n != 0 {
		t.Fatalf("the main menu's target was rung %d time(s)", n)
	}
	c.Hangup()
	wait(t, callee, "the callee")
}

func ivrTimeoutDefault(t *testing.T, e *Env) {
	setMenu(t, e)
	c := e.PBX.Inbound(t, did, caller, callerNam)
	// Nothing pressed: the no-input prompt, one retry, then the default
	// (voicemail).
	deadline := time.Now().Add(8 * time.Second)
	for !heard(c, "voicemail-greeting") {
		if time.Now().After(deadline) {
			t.Fatalf("no voicemail after the timeouts; heard %v", c.Heard())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !heardLike(c, "vnum-no-input") {
		t.Fatalf("the no-input prompt was not played: %v", c.Heard())
	}
	if len(e.PBX.Reached(mobile)) != 0 {
		t.Fatal("a target was rung though nothing was pressed")
	}
	c.Hangup()
	noLiveCalls(t, e)
}

func ivrInvalidRetry(t *testing.T, e *Env) {
	setMenu(t, e)
	e.PBX.Target(mobile, Behavior{AnswerAfter: 50 * time.Millisecond})
	c := inMenu(t, e)
	c.Press("9")
	eventually(t, "the invalid-input prompt", func() bool { return heardLike(c, "vnum-invalid") })
	c.Press("1")
	callee := reached(t, e, mobile, 1)[0]
	connectedTo(t, c, callee, "connected after the retry")
	c.Hangup()
	wait(t, callee, "the callee")
}
