package ivr_test

import (
	"fmt"

	"github.com/vnum/vnum/routing/ivr"
)

// The call flow's loop: play, collect, report, until a terminal step. Here
// the caller presses 2, then nothing, then 1.
func ExampleRun() {
	m, err := ivr.Parse([]byte(`start: main
menus:
  main:
    prompt: sound:welcome
    options:
      "1": {voicemail: true}
      "2": {menu: sales}
  sales:
    prompt: file:acme/sales
    timeout_prompt: sound:no-input
    options:
      "1": {forward: ["+33612345678", "+33698765432"], strategy: simultaneous}
`), "FR")
	if err != nil {
		fmt.Println(err)
		return
	}
	pressed := []string{"2", "", "1"} // what the PBX's play-and-gather returned
	r := ivr.NewRun(m)
	st := r.Start()
	for !st.Done() {
		fmt.Printf("play %v, collect up to %d digit(s) within %s\n", st.Play, st.Collect.MaxDigits, st.Collect.Timeout)
		st = r.Digits(pressed[0]) // "" is a timeout
		pressed = pressed[1:]
	}
	fmt.Printf("%s: %s\n", st.Why, st.Action)
	fmt.Println(st.Action.Kind(), st.Action.Targets[1].E164)
	// Output:
	// play [sound:welcome], collect up to 1 digit(s) within 5s
	// play [file:acme/sales], collect up to 1 digit(s) within 5s
	// play [sound:no-input file:acme/sales], collect up to 1 digit(s) within 5s
	// option 1: forward +33612345678, +33698765432 (simultaneous)
	// forward +33698765432
}
