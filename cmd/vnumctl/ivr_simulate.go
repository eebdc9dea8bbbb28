package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/vnum/vnum/routing/ivr"
)

// The --digits notation of simulate: the keys a caller presses, in order
// (0-9 * #). Each menu takes up to its max_digits keys; "," ends an entry
// early (the caller pauses: the inter-digit timeout), "T" is a timeout
// (nothing pressed in that menu). "12" in one-digit menus is 1 then 2;
// "1,T,2" is 1, a timeout, then 2.
const maxDigitsArg = 200

// parseDigits checks a --digits value.
func parseDigits(s string) (string, error) {
	if len(s) > maxDigitsArg {
		return "", badValue("--digits: %d characters, at most %d", len(s), maxDigitsArg)
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789*#,Tt", r) {
			return "", badValue("--digits %q: character %q: want 0-9, *, #, \",\" (a pause) or T (a timeout)", s, r)
		}
	}
	return strings.ToUpper(s), nil
}

// digitFeed hands a menu its next entry from a --digits value.
type digitFeed struct {
	s string
	i int
}

// next returns the next entry of at most max keys ("" for a timeout), or
// false when the caller has pressed everything.
func (f *digitFeed) next(max int) (string, bool) {
	for f.i < len(f.s) && f.s[f.i] == ',' {
		f.i++
	}
	if f.i >= len(f.s) {
		return "", false
	}
	if f.s[f.i] == 'T' {
		f.i++
		return "", true
	}
	start := f.i
	for f.i < len(f.s) && f.i-start < max && f.s[f.i] != ',' && f.s[f.i] != 'T' {
		f.i++
	}
	return f.s[start:f.i], true
}

// ivrWalk is the walk of simulate --digits through a number's IVR.
type ivrWalk struct {
	Digits  string     `json:"digits"`
	Steps   []walkStep `json:"steps"`
	Done    bool       `json:"done"`
	Action  string     `json:"action,omitempty"` // forward, conference, voicemail, hangup
	Result  string     `json:"result"`
	Targets []string   `json:"targets,omitempty"`
	Room    string     `json:"room,omitempty"`
	Unused  string     `json:"unused_digits,omitempty"`
}

// walkStep is one step of the walk: a menu offered (prompts played,
// digits collected, Input what the caller did) or the final action.
type walkStep struct {
	Menu    string   `json:"menu"`
	Why     string   `json:"why"`
	Play    []string `json:"play,omitempty"`
	Collect string   `json:"collect,omitempty"`
	Input   string   `json:"input,omitempty"` // the digits, or "timeout"
	Action  string   `json:"action,omitempty"`
}

// walkIVR runs the IVR walker over the digits as a caller would press them.
func walkIVR(m *ivr.Menu, digits string) ivrWalk {
	w := ivrWalk{Digits: digits, Steps: []walkStep{}}
	feed := &digitFeed{s: digits}
	r := ivr.NewRun(m)
	st := r.Start()
	for {
		ws := walkStep{Menu: st.Menu, Why: st.Why}
		for _, p := range st.Play {
			ws.Play = append(ws.Play, string(p))
		}
		if st.Done() {
			ws.Action = st.Action.String()
			w.Steps = append(w.Steps, ws)
			w.Done, w.Action, w.Result = true, string(st.Action.Kind()), st.Action.String()
			for _, t := range st.Action.Targets {
				w.Targets = append(w.Targets, t.String())
			}
			w.Room = st.Action.Conference
			break
		}
		c := st.Collect
		ws.Collect = fmt.Sprintf("up to %d digit(s) (%s for the first, %s between)", c.MaxDigits, c.Timeout, c.DigitTimeout)
		entry, ok := feed.next(c.MaxDigits)
		if !ok {
			w.Steps = append(w.Steps, ws)
			w.Result = "waiting for input in menu " + st.Menu + " (end of --digits)"
			break
		}
		if entry == "" {
			ws.Input = "timeout"
		} else {
			ws.Input = entry
		}
		w.Steps = append(w.Steps, ws)
		st = r.Digits(entry)
	}
	w.Unused = strings.Trim(feed.s[feed.i:], ",")
	return w
}

// printWalk writes the walk for simulate's text output.
func printWalk(out io.Writer, w ivrWalk) {
	fmt.Fprintf(out, "ivr       digits %q\n", w.Digits)
	for i, s := range w.Steps {
		fmt.Fprintf(out, "  %d. menu %s (%s)", i+1, s.Menu, s.Why)
		if len(s.Play) > 0 {
			fmt.Fprintf(out, ": play %s", strings.Join(s.Play, ", "))
		}
		fmt.Fprintln(out)
		switch {
		case s.Action != "":
			fmt.Fprintf(out, "     then %s\n", s.Action)
		case s.Input == "timeout":
			fmt.Fprintf(out, "     collect %s: nothing pressed (timeout)\n", s.Collect)
		case s.Input != "":
			fmt.Fprintf(out, "     collect %s: pressed %s\n", s.Collect, s.Input)
		default:
			fmt.Fprintf(out, "     collect %s: no more digits\n", s.Collect)
		}
	}
	fmt.Fprintf(out, "result    %s\n", w.Result)
	if w.Unused != "" {
		fmt.Fprintf(out, "unused    %q (the IVR ended before them)\n", w.Unused)
	}
}
