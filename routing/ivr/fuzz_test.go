package ivr_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/vnum/vnum/routing/ivr"
)

// FuzzParse: any input either parses to a menu that survives a Marshal /
// Parse round trip and walks to an end, or gives one line wrapping
// ErrInvalid; nothing panics.
func FuzzParse(f *testing.F) {
	f.Add(string(example(f)))
	f.Add(base)
	f.Add("start: a\nmenus:\n  a:\n    prompt: sound:a\n    default: {menu: a}\n")
	f.Add("start: &x a\nmenus: {*x : {prompt: sound:a}}\n")
	f.Add("start: main\nmenus:\n  main:\n    prompt: file:x/../y\n")
	f.Add("start: main\nmenus:\n  main:\n    prompt: sound:a\n    options: {\"1\": {forward: [\"0612345678\"], strategy: simultaneous}}\n")
	f.Add("a: &a [*a, *a]\n")
	f.Add("start: main\nmenus:\n  main:\n    prompt: sound:a\n    timeout: 1e9s\n")
	f.Fuzz(func(t *testing.T, src string) {
		m, err := ivr.Parse([]byte(src), "FR")
		if err != nil {
			if !errors.Is(err, ivr.ErrInvalid) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("error %q: not one line wrapping ErrInvalid", err)
			}
			return
		}
		out, err := ivr.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ivr.Parse(out, "")
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(m, back) {
			t.Fatalf("round trip differs:\n%s", out)
		}
		// Every walk ends: a silent caller reaches a terminal action.
		r := ivr.NewRun(m)
		st := r.Start()
		for i := 0; !st.Done(); i++ {
			if i > ivr.MaxVisits+1 {
				t.Fatal("walk never ends")
			}
			st = r.Timeout()
		}
	})
}
