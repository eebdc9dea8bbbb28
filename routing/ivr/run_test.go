package ivr_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/ivr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func prompts(ps ...string) []ivr.Prompt {
	out := make([]ivr.Prompt, len(ps))
	for i, p := range ps {
		out[i] = ivr.Prompt(p)
	}
	return out
}

func wantCollect(t *testing.T, st ivr.Step, menu string, play ...string) {
	t.Helper()
	if st.Done() || st.Collect == nil || st.Menu != menu || !slices.Equal(st.Play, prompts(play...)) {
		t.Fatalf("step %+v (collect %+v): want menu %s playing %v then collecting", st, st.Collect, menu, play)
	}
}

func wantAction(t *testing.T, st ivr.Step, kind ivr.Kind, play ...string) {
	t.Helper()
	if !st.Done() || st.Collect != nil || st.Action.Kind() != kind || !slices.Equal(st.Play, prompts(play...)) {
		t.Fatalf("step %+v: want %s after playing %v", st, kind, play)
	}
}

func TestRunDigitForwards(t *testing.T) {
	r := ivr.NewRun(mustParse(t, string(example(t))))
	st := r.Start()
	wantCollect(t, st, "main", "sound:ivr-welcome")
	if c := *st.Collect; c != (ivr.Collect{MaxDigits: 1, Timeout: 5 * time.Second, DigitTimeout: 2 * time.Second}) {
		t.Fatalf("collect %+v", c)
	}
	st = r.Digits("1")
	wantAction(t, st, ivr.KindForward)
	if st.Why != "option 1" || !reflect.DeepEqual(st.Action.Targets, []routing.Target{{E164: "+33612345678", Country: "FR"}}) {
		t.Fatalf("forward step %+v", st)
	}
	// The forward decision keeps the IVR decision's caller ID and ring time.
	base := routing.Decision{Action: routing.Action("ivr"), CallerID: routing.CallerID{Number: "+33187654321"}, RingTimeout: 20 * time.Second, SlotHeld: true}
	d := st.Action.Forwarding(base)
	if d.Action != routing.ActionForward || d.Strategy != routing.Simultaneous || len(d.Targets) != 1 ||
		d.CallerID.Number != "+33187654321" || d.RingTimeout != 20*time.Second || !d.SlotHeld {
		t.Fatalf("forwarding decision %+v", d)
	}
	// Once over, the run stays over and plays nothing more.
	wantAction(t, r.Digits("2"), ivr.KindForward)
	wantAction(t, r.Timeout(), ivr.KindForward)
}

func TestRunSubmenuAndBack(t *testing.T) {
	r := ivr.NewRun(mustParse(t, string(example(t))))
	r.Start()
	st := r.Digits("2")
	wantCollect(t, st, "sales", "file:acme/sales-menu.wav")
	if st.Collect.Timeout != ivr.DefaultTimeout || st.Collect.DigitTimeout != ivr.DefaultDigitTimeout {
		t.Fatalf("defaults not applied: %+v", st.Collect)
	}
	wantCollect(t, r.Digits("*"), "main", "sound:ivr-welcome")
	wantCollect(t, r.Digits("2"), "sales", "file:acme/sales-menu.wav")
	st = r.Digits("1")
	wantAction(t, st, ivr.KindForward)
	if st.Menu != "sales" || len(st.Action.Targets) != 2 || st.Action.Targets[1].SIPURI == "" {
		t.Fatalf("sales forward %+v", st.Action)
	}
}

func TestRunTimeoutsThenDefault(t *testing.T) {
	r := ivr.NewRun(mustParse(t, string(example(t))))
	r.Start()
	// retries: 3 → four tries in all; each timeout plays the no-input
	// prompt and the menu again, the fourth runs the default.
	for try := 2; try <= 4; try++ {
		st := r.Timeout()
		wantCollect(t, st, "main", "sound:ivr-no-input", "sound:ivr-welcome")
		if !strings.Contains(st.Why, "timeout, try") {
			t.Fatalf("why %q", st.Why)
		}
	}
	st := r.Digits("") // "" is a timeout too
	wantAction(t, st, ivr.KindVoicemail, "sound:ivr-no-input")
	if st.Why != "timeout, default after 4 tries" {
		t.Fatalf("why %q", st.Why)
	}
}

func TestRunInvalidThenRetry(t *testing.T) {
	r := ivr.NewRun(mustParse(t, string(example(t))))
	r.Start()
	st := r.Digits("7")
	wantCollect(t, st, "main", "sound:ivr-invalid", "sound:ivr-welcome")
	if st.Why != `invalid input "7", try 2 of 4` {
		t.Fatalf("why %q", st.Why)
	}
	wantAction(t, r.Digits("3"), ivr.KindConference)
}

// Failed tries are counted per menu: entering a submenu starts again, and
// a menu without a default hangs up (after the prompt saying why).
func TestRunRetriesPerMenuAndHangupDefault(t *testing.T) {
	r := ivr.NewRun(mustParse(t, string(example(t))))
	r.Start()
	r.Digits("8") // one failed try in main
	wantCollect(t, r.Digits("2"), "sales", "file:acme/sales-menu.wav")
	// sales: retries 1, no prompts of its own for timeout/invalid.
	wantCollect(t, r.Digits("5"), "sales", "file:acme/sales-menu.wav")
	st := r.Timeout()
	wantAction(t, st, ivr.KindHangup)
}

func TestRunRepeat(t *testing.T) {
	r := ivr.NewRun(mustParse(t, string(example(t))))
	r.Start()
	r.Digits("7") // a failed try
	r.Digits("7") // two
	st := r.Digits("9")
	wantCollect(t, st, "main", "sound:ivr-welcome")
	// Repeat is no failed try: two more invalid inputs before the default.
	wantCollect(t, r.Digits("7"), "main", "sound:ivr-invalid", "sound:ivr-welcome")
	wantAction(t, r.Digits("7"), ivr.KindVoicemail, "sound:ivr-invalid")
}

func TestRunMultiDigit(t *testing.T) {
	r := ivr.NewRun(mustParse(t, `start: main
menus:
  main:
    prompt: sound:ext
    retries: 0
    options:
      "101": {forward: ["+33612345678"]}
      "102": {forward: ["+33698765432"]}
      "#": {hangup: true}
    default: {menu: closed}
  closed:
    prompt: sound:bye
    retries: 0
`))
	st := r.Start()
	if st.Collect.MaxDigits != 3 {
		t.Fatalf("max digits %d", st.Collect.MaxDigits)
	}
	st = r.Digits("10")
	// retries 0: the first failure runs the default (a menu).
	wantCollect(t, st, "closed", "sound:bye")
	wantAction(t, r.Timeout(), ivr.KindHangup)
}

// A silent caller in menus whose defaults lead to each other (each with an
// exit a caller could take) is hung up after MaxVisits menus.
func TestRunVisitLimit(t *testing.T) {
	r := ivr.NewRun(mustParse(t, `start: a
menus:
  a:
    prompt: sound:a
    retries: 0
    options: {"1": {voicemail: true}}
    default: {menu: b}
  b:
    prompt: sound:b
    retries: 0
    options: {"1": {voicemail: true}}
    default: {menu: a}
`))
	st := r.Start()
	n := 1
	for !st.Done() {
		st = r.Timeout()
		n++
		if n > ivr.MaxVisits+5 {
			t.Fatal("never ends")
		}
	}
	if st.Action.Kind() != ivr.KindHangup || n != ivr.MaxVisits+1 || !strings.Contains(st.Why, "menus offered, hanging up") {
		t.Fatalf("after %d steps: %+v", n, st)
	}
}
