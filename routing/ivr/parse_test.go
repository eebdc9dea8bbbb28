package ivr_test

import (
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/ivr"
)

func example(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustParse(t testing.TB, src string) *ivr.Menu {
	t.Helper()
	m, err := ivr.Parse([]byte(src), "FR")
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, src)
	}
	return m
}

func TestParseExample(t *testing.T) {
	m, err := ivr.Parse(example(t), "FR")
	if err != nil {
		t.Fatal(err)
	}
	if m.Start != "main" || len(m.Menus) != 2 {
		t.Fatalf("menu: %+v", m)
	}
	main := m.Menus["main"]
	if main.Prompt != "sound:ivr-welcome" || time.Duration(main.Timeout) != 5*time.Second ||
		time.Duration(main.DigitTimeout) != 2*time.Second || main.MaxDigits != 1 || main.Tries() != 4 {
		t.Fatalf("main: %+v", main)
	}
	one := main.Options["1"]
	if one.Kind() != ivr.KindForward || one.Strategy != routing.Simultaneous ||
		!reflect.DeepEqual(one.Targets, []routing.Target{{E164: "+33612345678", Country: "FR"}}) {
		t.Fatalf("option 1: %+v", one)
	}
	kinds := map[string]ivr.Kind{"2": ivr.KindMenu, "3": ivr.KindConference, "4": ivr.KindVoicemail, "9": ivr.KindRepeat, "0": ivr.KindHangup}
	for k, want := range kinds {
		if got := main.Options[k].Kind(); got != want {
			t.Errorf("option %s: %s, want %s", k, got, want)
		}
	}
	if main.Default.Kind() != ivr.KindVoicemail {
		t.Errorf("default: %v", main.Default.Kind())
	}
	sales := m.Menus["sales"]
	// Defaults filled; the national number normalised with the region.
	if time.Duration(sales.Timeout) != ivr.DefaultTimeout || sales.Tries() != 2 || sales.MaxDigits != 1 {
		t.Fatalf("sales defaults: %+v", sales)
	}
	if got := sales.Options["2"].Forward; !reflect.DeepEqual(got, []string{"+33698765432"}) {
		t.Fatalf("national target: %v", got)
	}
	if got := sales.Options["1"].Targets[1]; got.SIPURI != "sip:sales@pbx.example.com" {
		t.Fatalf("sip target: %+v", got)
	}
	if name, ok := sales.Prompt.File(); !ok || name != "acme/sales-menu.wav" {
		t.Fatalf("file prompt: %q %v", name, ok)
	}

	// Marshal gives back a file that parses to the same menu.
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
	for _, want := range []string{`"1":`, `- "+33612345678"`, "timeout: 5s", "strategy: simultaneous"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("marshalled file lacks %q:\n%s", want, out)
		}
	}
}

// base is a valid file; each case changes one thing.
const base = `start: main
menus:
  main:
    prompt: sound:welcome
    options:
      "1": {forward: ["+33612345678"]}
      "2": {menu: sales}
  sales:
    prompt: sound:sales
    options:
      "1": {voicemail: true}
`

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, src string
		want      string // the whole message must contain it
	}{
		{"unknown menu", strings.Replace(base, "{menu: sales}", "{menu: salse}", 1),
			`menus.main.options."2".menu: unknown menu "salse" (line 7)`},
		{"missing prompt", strings.Replace(base, "    prompt: sound:sales\n", "", 1),
			`menus.sales.prompt: missing (line 8)`},
		{"unknown key", strings.Replace(base, "prompt: sound:sales", "promt: sound:sales", 1),
			`menus.sales.promt: unknown key (line 9)`},
		{"unknown key in an action", strings.Replace(base, `{voicemail: true}`, `{voicemail: true, greeting: x}`, 1),
			`menus.sales.options."1".greeting: unknown key (line 11)`},
		{"unknown top-level key", base + "version: 2\n", `version: unknown key (line 12)`},
		{"loop without exit", `start: a
menus:
  a:
    prompt: sound:a
    options: {"1": {menu: b}}
    default: {menu: b}
  b:
    prompt: sound:b
    options: {"1": {repeat: true}}
    default: {menu: a}
`, `menus.a: loop without exit (a → b → a)`},
		{"loop reached through a menu without exit", `start: a
menus:
  a:
    prompt: sound:a
    default: {menu: b}
  b:
    prompt: sound:b
    default: {menu: c}
  c:
    prompt: sound:c
    default: {menu: b}
`, `menus.a: loop without exit (a → b → c → b)`},
		{"unreachable menu", base + "  old:\n    prompt: sound:old\n", `menus.old: not reachable from start menu "main" (line 12)`},
		{"two actions", strings.Replace(base, `{voicemail: true}`, `{voicemail: true, hangup: true}`, 1),
			`menus.sales.options."1": more than one action (voicemail, hangup): want exactly one`},
		{"no action", strings.Replace(base, `{voicemail: true}`, `{}`, 1), `menus.sales.options."1": no action`},
		{"null action", strings.Replace(base, `{voicemail: true}`, ``, 1), `menus.sales.options."1": no action`},
		{"false is no action", strings.Replace(base, `{voicemail: true}`, `{voicemail: false}`, 1),
			`menus.sales.options."1".voicemail: false is not an action`},
		{"bad target", strings.Replace(base, `"+33612345678"`, `"+99999"`, 1),
			`menus.main.options."1".forward[0]: target "+99999"`},
		{"target injection", strings.Replace(base, `"+33612345678"`, `"sip:a@b.c,PJSIP/x"`, 1),
			`menus.main.options."1".forward[0]: target "sip:a@b.c,PJSIP/x"`},
		{"empty forward", strings.Replace(base, `["+33612345678"]`, `[]`, 1), `menus.main.options."1".forward: no target`},
		{"strategy without forward", strings.Replace(base, `{voicemail: true}`, `{voicemail: true, strategy: simultaneous}`, 1),
			`menus.sales.options."1".strategy: only with forward`},
		{"bad strategy", strings.Replace(base, `["+33612345678"]}`, `["+33612345678"], strategy: random}`, 1),
			`menus.main.options."1".strategy: strategy "random"`},
		{"bad digits", strings.Replace(base, `"2":`, `"2a":`, 1), `menus.main.options."2a": want 1 to 20 of the keys 0-9 * #`},
		{"timeout too long", strings.Replace(base, "    prompt: sound:sales\n", "    prompt: sound:sales\n    timeout: 90s\n", 1),
			`menus.sales.timeout: 1m30s: want 1s to 1m0s (line 10)`},
		{"timeout too short", strings.Replace(base, "    prompt: sound:sales\n", "    prompt: sound:sales\n    digit_timeout: 10ms\n", 1),
			`menus.sales.digit_timeout: 10ms: want 1s to 1m0s`},
		{"not a duration", strings.Replace(base, "    prompt: sound:sales\n", "    prompt: sound:sales\n    timeout: soon\n", 1),
			`menus.sales.timeout: duration "soon": want a duration such as 5s (line 10)`},
		{"retries too many", strings.Replace(base, "    prompt: sound:sales\n", "    prompt: sound:sales\n    retries: 10\n", 1),
			`menus.sales.retries: 10: want 0 to 9 (line 10)`},
		{"retries not a number", strings.Replace(base, "    prompt: sound:sales\n", "    prompt: sound:sales\n    retries: many\n", 1),
			"menus.sales.retries: got text `many`, want a whole number (line 10)"},
		{"prompt injection", strings.Replace(base, "sound:sales", `"sound:sales&hangup"`, 1),
			`menus.sales.prompt: "sound:sales&hangup": character '&' not allowed`},
		{"prompt path traversal", strings.Replace(base, "sound:sales", "file:../../etc/passwd", 1),
			`menus.sales.prompt: "file:../../etc/passwd": no . or .. segments`},
		{"prompt absolute", strings.Replace(base, "sound:sales", "file:/etc/passwd", 1), `menus.sales.prompt: "file:/etc/passwd": not a relative name`},
		{"prompt without kind", strings.Replace(base, "sound:sales", "sales", 1), `menus.sales.prompt: "sales": want sound:NAME or file:NAME`},
		{"bad invalid prompt", strings.Replace(base, "    prompt: sound:sales\n", "    prompt: sound:sales\n    invalid_prompt: sound:a b\n", 1),
			`menus.sales.invalid_prompt: "sound:a b": character ' ' not allowed`},
		{"bad room", strings.Replace(base, `{voicemail: true}`, `{conference: "room 1"}`, 1), `menus.sales.options."1".conference: room "room 1"`},
		{"default repeat", strings.Replace(base, "  sales:\n", "    default: {repeat: true}\n  sales:\n", 1),
			`menus.main.default.repeat: a default that repeats the menu never ends the call`},
		{"missing start", strings.Replace(base, "start: main\n", "", 1), `start: missing`},
		{"unknown start", strings.Replace(base, "start: main", "start: welcome", 1), `start: unknown menu "welcome" (line 1)`},
		{"no menus", "start: main\n", `menus: missing`},
		{"empty menu", strings.Replace(base, "  sales:\n    prompt: sound:sales\n    options:\n      \"1\": {voicemail: true}\n", "  sales:\n", 1),
			`menus.sales: empty menu: a prompt is required (line 8)`},
		{"bad menu name", strings.ReplaceAll(base, "sales", `"sa les"`), `menus."sa les": menu name`},
		{"list instead of mapping", strings.Replace(base, `{voicemail: true}`, `[voicemail]`, 1),
			`menus.sales.options."1": got a list, want a mapping (line 11)`},
		{"text instead of a list", strings.Replace(base, `["+33612345678"]}`, `"+33612345678", strategy: simultaneous}`, 1),
			"menus.main.options.\"1\".forward: got text `+336123...`, want a list (line 6)"},
		{"list instead of text", strings.Replace(base, `{menu: sales}`, `{menu: [sales], strategy: x}`, 1),
			`menus.main.options."2".menu: got a list, want a single value (line 7)`},
		{"number in a flow mapping", strings.Replace(base, "  sales:\n    prompt: sound:sales\n    options:\n      \"1\": {voicemail: true}\n",
			"  sales: {prompt: sound:sales, retries: x, options: {\"1\": {voicemail: true}}}\n", 1),
			"menus.sales.retries: got text `x`, want a whole number (line 8)"},
		{"duplicate key", strings.Replace(base, `"2": {menu: sales}`, `"1": {menu: sales}`, 1), `mapping key "1" already defined`},
		{"syntax", "start: [main\n", `line`},
		{"empty", "", "empty file"},
		{"not a mapping", "- a\n- b\n", "want a mapping with start and menus"},
		{"two documents", base + "---\n" + base, "more than one YAML document"},
		{"too big", base + "#" + strings.Repeat("x", ivr.MaxFileSize) + "\n", "at most 65536"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ivr.Parse([]byte(c.src), "FR")
			if err == nil {
				t.Fatalf("no error for\n%s", c.src)
			}
			if !errors.Is(err, ivr.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error on several lines: %q", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\nwant it to contain %q", err, c.want)
			}
		})
	}
}

func TestParseOptionLongerThanMaxDigits(t *testing.T) {
	src := strings.Replace(base, "    prompt: sound:sales\n", "    prompt: sound:sales\n    max_digits: 1\n", 1) + "      \"12\": {hangup: true}\n"
	// "12" sits in sales' options here: check the message names it there.
	_, err := ivr.Parse([]byte(src), "")
	if err == nil || !strings.Contains(err.Error(), `menus.sales.options."12": 2 digits but max_digits is 1`) {
		t.Fatalf("got %v", err)
	}
	// Without max_digits the longest option sets it.
	m := mustParse(t, base+"      \"123\": {hangup: true}\n")
	if m.Menus["sales"].MaxDigits != 3 || m.Menus["main"].MaxDigits != 1 {
		t.Fatalf("max digits: %d %d", m.Menus["sales"].MaxDigits, m.Menus["main"].MaxDigits)
	}
}

func TestTooManyMenus(t *testing.T) {
	var b strings.Builder
	b.WriteString("start: m0\nmenus:\n")
	for i := range ivr.MaxMenus + 1 {
		next := "{hangup: true}"
		if i < ivr.MaxMenus {
			next = "{menu: m" + itoa(i+1) + "}"
		}
		b.WriteString("  m" + itoa(i) + ":\n    prompt: sound:x\n    options: {\"1\": " + next + "}\n")
	}
	_, err := ivr.Parse([]byte(b.String()), "")
	if err == nil || !strings.Contains(err.Error(), "menus: 101 menus, at most 100") {
		t.Fatalf("got %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestCountries(t *testing.T) {
	m := mustParse(t, strings.Replace(base, `["+33612345678"]`, `["+33612345678", "+442071234567", "sip:a@b.example"]`, 1))
	err := m.CheckCountries([]string{"FR"})
	if err == nil || !strings.Contains(err.Error(), `menus.main.options."1".forward[1]: +442071234567 is in "GB", not in the number's allowed countries FR`) {
		t.Fatalf("check: %v", err)
	}
	if err := m.CheckCountries(nil); err != nil {
		t.Fatal(err)
	}
	changed := m.Restrict([]string{"FR"})
	if len(changed) != 1 || !reflect.DeepEqual(m.Menus["main"].Options["1"].Forward, []string{"+33612345678", "sip:a@b.example"}) {
		t.Fatalf("restrict: %v %v", changed, m.Menus["main"].Options["1"].Forward)
	}
	// A forward left with no target hangs up.
	m = mustParse(t, strings.Replace(base, `["+33612345678"]`, `["+442071234567"]`, 1))
	m.Restrict([]string{"FR"})
	if k := m.Menus["main"].Options["1"].Kind(); k != ivr.KindHangup {
		t.Fatalf("kind %s", k)
	}
}
