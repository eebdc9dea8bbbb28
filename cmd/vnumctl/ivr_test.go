package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnum/vnum/internal/redistest"
)

// The README's IVR example, as it is there.
const ivrExample = `start: main                          # the menu calls start in
menus:
  main:
    prompt: sound:ivr-welcome        # "sound:NAME" (a PBX sound) or "file:NAME" (uploaded); required
    timeout: 5s                      # wait for the first digit (1s..60s, default 5s)
    digit_timeout: 2s                # between digits (1s..60s, default 2s)
    max_digits: 1                    # 1..20, default the longest option
    retries: 3                       # 0..9, default 3: tries after the first one
    timeout_prompt: sound:ivr-no-input   # optional, played when nothing is pressed
    invalid_prompt: sound:ivr-invalid    # optional, played for digits that match no option
    options:                         # quote the keys: 0-9, * and # (several digits allowed, up to max_digits)
      "1": {forward: ["+33612345678"], strategy: simultaneous}   # E.164, national (--default-region) or sip:
      "2": {menu: sales}
      "3": {conference: room-42}
      "4": {voicemail: true}
      "9": {repeat: true}
      "0": {hangup: true}
    default: {voicemail: true}       # after the tries are used up (default: hang up)
  sales:
    prompt: file:acme/sales
    retries: 1
    options:
      "1": {forward: ["06 98 76 54 32", "sip:sales@pbx.example.com"]}
      "*": {menu: main}
`

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIVRCommands(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	const did = "+33187654321"
	if r := vnumctl(t, url, "number", "add", did, "--owner", "acme", "--voicemail"); r.code != 0 {
		t.Fatalf("number add: %+v", r)
	}
	file := writeFile(t, "menu.yaml", ivrExample)
	r := vnumctl(t, url, "--default-region", "FR", "ivr", "set", did, "--file", file)
	if r.code != 0 || r.stdout != "IVR set on +33187654321: 2 menu(s), calls start in main\n" {
		t.Fatalf("ivr set: %+v", r)
	}

	// show: the menu as it runs, national number in E.164, defaults filled.
	r = vnumctl(t, url, "ivr", "show", did)
	if r.code != 0 {
		t.Fatalf("ivr show: %+v", r)
	}
	for _, want := range []string{"start: main\n", "prompt: sound:ivr-welcome", `- "+33698765432"`, "- sip:sales@pbx.example.com", "timeout: 5s", `'*':`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("ivr show lacks %q:\n%s", want, r.stdout)
		}
	}
	// What show prints can be set again as it is.
	if r2 := vnumctl(t, url, "ivr", "set", did, "--file", writeFile(t, "again.yaml", r.stdout)); r2.code != 0 {
		t.Fatalf("set from show: %+v", r2)
	}

	// simulate without digits: the IVR answers, waiting in main.
	r = vnumctl(t, url, "simulate", "--to", did, "--from", "+14155550100")
	if r.code != 0 || !strings.Contains(r.stdout, "decision  ivr (ivr)") ||
		!strings.Contains(r.stdout, "caller id +33187654321") ||
		!strings.Contains(r.stdout, "result    waiting for input in menu main (end of --digits)") {
		t.Fatalf("simulate: %+v", r)
	}

	// 2 → sales; a timeout there (retries 1: try 2 of 2); * → back to
	// main; 1 → forward simultaneously.
	r = vnumctl(t, url, "simulate", "--to", did, "--from", "+14155550100", "--digits", "2T*1")
	want := `ivr       digits "2T*1"
  1. menu main (start): play sound:ivr-welcome
     collect up to 1 digit(s) (5s for the first, 2s between): pressed 2
  2. menu sales (option 2): play file:acme/sales
     collect up to 1 digit(s) (5s for the first, 2s between): nothing pressed (timeout)
  3. menu sales (timeout, try 2 of 2): play file:acme/sales
     collect up to 1 digit(s) (5s for the first, 2s between): pressed *
  4. menu main (option *): play sound:ivr-welcome
     collect up to 1 digit(s) (5s for the first, 2s between): pressed 1
  5. menu main (option 1)
     then forward +33612345678 (simultaneous)
result    forward +33612345678 (simultaneous)
`
	if r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("simulate --digits: %+v\nwant it to contain\n%s", r, want)
	}

	// Invalid keys and timeouts until the default; JSON.
	r = vnumctl(t, url, "--json", "simulate", "--to", did, "--from", "+14155550100", "--digits", "7,T,8,T,55")
	var sim struct {
		Action string
		IVR    struct {
			Steps  []struct{ Menu, Why, Input, Action string }
			Done   bool
			Action string
			Result string
			Unused string `json:"unused_digits"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &sim); err != nil || r.code != 0 {
		t.Fatalf("simulate --json: %+v %v", r, err)
	}
	if sim.Action != "ivr" || !sim.IVR.Done || sim.IVR.Action != "voicemail" || len(sim.IVR.Steps) != 5 || sim.IVR.Unused != "55" {
		t.Fatalf("walk: %+v", sim)
	}
	if s := sim.IVR.Steps[4]; s.Why != "timeout, default after 4 tries" || s.Action != "voicemail" {
		t.Fatalf("last step %+v", s)
	}
	if s := sim.IVR.Steps[1]; s.Why != `invalid input "7", try 2 of 4` || s.Input != "timeout" {
		t.Fatalf("second step %+v", s)
	}

	// remove: the number's own route again (voicemail, no target).
	if r := vnumctl(t, url, "ivr", "remove", did); r.code != 0 || r.stdout != "IVR removed from +33187654321\n" {
		t.Fatalf("ivr remove: %+v", r)
	}
	r = vnumctl(t, url, "simulate", "--to", did, "--from", "+14155550100", "--digits", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "decision  voicemail") || !strings.Contains(r.stdout, "--digits unused") {
		t.Fatalf("simulate after remove: %+v", r)
	}
	if r := vnumctl(t, url, "ivr", "show", did); r.code != 1 || !oneLine(r) || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("show after remove: %+v", r)
	}
	if keys := srv.Client().Keys(t.Context(), "vnum:{"+did+"}:ivr").Val(); len(keys) != 0 {
		t.Fatalf("left %v", keys)
	}
}

// Bad input: one line naming the bad value, exit status 1, nothing
// written.
func TestIVRBadInputWritesNothing(t *testing.T) {
	noLeaks(t)
	srv := redistest.Start(t)
	url := srv.URL()
	const did, gbOnly = "+33187654321", "+33187654322"
	if r := vnumctl(t, url, "number", "add", did, "--forward", "+33612345678"); r.code != 0 {
		t.Fatal(r)
	}
	if r := vnumctl(t, url, "number", "add", gbOnly, "--forward", "+442071234567", "--allow-country", "GB"); r.code != 0 {
		t.Fatal(r)
	}
	before := keysAndValues(t, srv.Client())
	bad := func(name, content string) string { return writeFile(t, name, content) }
	cases := []struct {
		args []string
		code int
		name string // what the one line must name
	}{
		{[]string{"ivr", "set", did, "--file", bad("noprompt.yaml", strings.Replace(ivrExample, "    prompt: file:acme/sales\n", "", 1))},
			1, `noprompt.yaml: menus.sales.prompt: missing (line 19)`},
		{[]string{"ivr", "set", did, "--file", bad("unknown.yaml", strings.Replace(ivrExample, "retries: 1", "retires: 1", 1))},
			1, `unknown.yaml: menus.sales.retires: unknown key (line 21)`},
		{[]string{"ivr", "set", did, "--file", bad("submenu.yaml", strings.Replace(ivrExample, "{menu: sales}", "{menu: support}", 1))},
			1, `menus.main.options."2".menu: unknown menu "support"`},
		{[]string{"ivr", "set", did, "--file", bad("loop.yaml", "start: a\nmenus:\n  a: {prompt: sound:a, default: {menu: b}}\n  b: {prompt: sound:b, default: {menu: a}}\n")},
			1, `menus.a: loop without exit (a → b → a)`},
		{[]string{"ivr", "set", did, "--file", bad("target.yaml", strings.Replace(ivrExample, `"+33612345678"`, `"+99999"`, 1))},
			1, `menus.main.options."1".forward[0]: target "+99999"`},
		{[]string{"ivr", "set", did, "--file", bad("big.yaml", ivrExample+"#"+strings.Repeat("x", 70_000)+"\n")}, 1, "at most 65536"},
		{[]string{"ivr", "set", did, "--file", filepath.Join(t.TempDir(), "absent.yaml")}, 1, "absent.yaml: no such file"},
		{[]string{"ivr", "set", "+33187654399", "--file", bad("ok.yaml", ivrExample)}, 1, "+33187654399"},
		{[]string{"ivr", "set", gbOnly, "--file", bad("fr.yaml", ivrExample)}, 1, `+33612345678 is in "FR", not in the number's allowed countries GB`},
		{[]string{"ivr", "set", "12ab", "--file", bad("ok2.yaml", ivrExample)}, 1, "12ab"},
		{[]string{"ivr", "set", did}, 1, "file"},
		{[]string{"ivr", "remove", did}, 1, "not found"},
		{[]string{"simulate", "--to", did, "--from", "+14155550100", "--digits", "12x"}, 1, "12x"},
	}
	for _, c := range cases {
		r := vnumctl(t, url, append([]string{"--default-region", "FR"}, c.args...)...)
		if r.code != c.code || !oneLine(r) || !strings.Contains(r.stderr, c.name) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want one line naming %q)", c.args, r.code, c.code, r.stderr, c.name)
		}
	}
	if after := keysAndValues(t, srv.Client()); !sameKeys(before, after) {
		t.Fatalf("bad input changed Redis: %d keys before, %d after", len(before), len(after))
	}
}
