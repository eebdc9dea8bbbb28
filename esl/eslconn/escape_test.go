package eslconn_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/esl/esltest"
)

// parseOriginate runs an `originate` argument string through the
// emulator's model of FreeSWITCH's tokenizer (verified against the
// caller_name_escaping capture, see esltest's fidelity test) and returns
// the variable block.
func parseOriginate(t testing.TB, args string) (esltest.VarBlock, []string) {
	t.Helper()
	argv := esltest.SeparateString(args, ' ', 0)
	if len(argv) != 2 {
		t.Fatalf("originate split into %d arguments %q, want 2", len(argv), argv)
	}
	vb, ok := esltest.ParseVarBlock(argv[0])
	if !ok {
		t.Fatalf("variable block not closed in %q", argv[0])
	}
	return vb, argv
}

// expected is what a value must read as inside FreeSWITCH after QuoteVar.
func expected(s string) string {
	r := strings.NewReplacer("{", "", "}", "", "[", "", "]", "", "<", "", ">", "", `"`, "", `\`, "", "$", "", "'", "’")
	return r.Replace(s)
}

func TestQuoteVarThroughFreeSWITCHModel(t *testing.T) {
	// The hostile names of fixtures2 scenario 6 and a few more.
	names := []string{
		"Carrier Caller", "a,b", `O'Brien "Bob" back\slash`, "Evil,origination_caller_id_name=x)",
		"a {i} b", "a [b] c;d|e", "${md5(x)}", "Evil}sofia/evil &park", "x',vnum_sentinel=evil,y='",
		`\n\s\t\\`, "^^|a|b", "a=b=c", " lead and trail ", "Zoë Ñandú 😀", "a\\,b", "100%25 %0A",
	}
	for _, name := range names {
		q, err := eslconn.QuoteVar(name)
		if err != nil {
			t.Fatalf("QuoteVar(%q): %v", name, err)
		}
		vb, argv := parseOriginate(t, "{origination_caller_id_name="+q+",vnum_sentinel=ok}sofia/lab/user@127.0.0.1:5082 &park()")
		if len(vb.Problems) > 0 || len(vb.Vars) != 2 {
			t.Errorf("%q -> %q: vars %v problems %v", name, q, vb.Vars, vb.Problems)
			continue
		}
		got, _ := vb.Get("origination_caller_id_name")
		want := strings.Trim(expected(name), " ")
		if got != want {
			t.Errorf("%q -> %q: FreeSWITCH reads %q, want %q", name, q, got, want)
		}
		if s, _ := vb.Get("vnum_sentinel"); s != "ok" || vb.Rest != "sofia/lab/user@127.0.0.1:5082" || argv[1] != "&park()" {
			t.Errorf("%q broke the dial string: %v rest %q argv %q", name, vb.Vars, vb.Rest, argv)
		}
	}
}

func TestQuoteVarRejectsEmpty(t *testing.T) {
	// "name=" is dropped by FreeSWITCH: the leg would inherit the A-leg's
	// caller name, so an empty result must be an error, not ''.
	for _, s := range []string{"", "   ", "}", `{}[]<>"\$`} {
		if q, err := eslconn.QuoteVar(s); !errors.Is(err, eslconn.ErrUnsafeArg) {
			t.Errorf("QuoteVar(%q) = %q, %v; want ErrUnsafeArg", s, q, err)
		}
	}
	if _, err := eslconn.OriginateVars(map[string]string{"origination_caller_id_name": "\n}"}); !errors.Is(err, eslconn.ErrUnsafeArg) {
		t.Errorf("OriginateVars with empty value: %v", err)
	}
}

func TestQuoteVarRejectsControlCharacters(t *testing.T) {
	for _, s := range []string{"Evil\n\napi eval INJECTED", "a\rb", "tab\there", "nul\x00", "del\x7f", "\x1b[31m"} {
		if _, err := eslconn.QuoteVar(s); !errors.Is(err, eslconn.ErrUnsafeArg) {
			t.Errorf("QuoteVar(%q) error %v, want ErrUnsafeArg", s, err)
		}
		if _, err := eslconn.SetVarValue(s); !errors.Is(err, eslconn.ErrUnsafeArg) {
			t.Errorf("SetVarValue(%q) error %v, want ErrUnsafeArg", s, err)
		}
		if got := eslconn.Sanitize(s); eslconn.CheckArg(got) != nil {
			t.Errorf("Sanitize(%q) = %q still unsafe", s, got)
		}
	}
	if got := eslconn.Sanitize("Evil\n\napi eval INJECTED"); got != "Evilapi eval INJECTED" {
		t.Errorf("Sanitize = %q", got)
	}
}

func TestOriginateVars(t *testing.T) {
	got, err := eslconn.OriginateVars(map[string]string{
		"origination_caller_id_number": "15551230001",
		"origination_caller_id_name":   "Evil\n\napi eval INJECTED}x,y",
		"effective_caller_id_name":     "O'Brien",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `{effective_caller_id_name='O’Brien',origination_caller_id_name='Evilapi eval INJECTEDx\,y',origination_caller_id_number='15551230001'}`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	vb, _ := parseOriginate(t, got+"sofia/lab/u@h &park()")
	if n, _ := vb.Get("origination_caller_id_name"); n != "Evilapi eval INJECTEDx,y" || len(vb.Vars) != 3 {
		t.Fatalf("parsed %v", vb.Vars)
	}
	if _, err := eslconn.OriginateVars(map[string]string{"bad key}": "x"}); !errors.Is(err, eslconn.ErrUnsafeArg) {
		t.Fatalf("bad key error %v", err)
	}
	if s, err := eslconn.OriginateVars(nil); s != "" || err != nil {
		t.Fatalf("empty: %q %v", s, err)
	}
}

func TestSetVarValueThroughModel(t *testing.T) {
	for _, name := range []string{"Carrier Caller", `a,b}{ 'q' "d" \n`, "plain"} {
		v, err := eslconn.SetVarValue(name)
		if err != nil {
			t.Fatal(err)
		}
		argv := esltest.SeparateString("uuid-1 effective_caller_id_name "+v, ' ', 3)
		if len(argv) != 3 || argv[2] != strings.TrimSpace(expected(name)) {
			t.Errorf("%q -> %q parsed as %q", name, v, argv)
		}
	}
}

// FuzzQuoteVar: whatever the input, the quoted value never contains a
// control character, never breaks out of the {} block or adds a variable,
// and FreeSWITCH reads back exactly the neutralised input.
func FuzzQuoteVar(f *testing.F) {
	for _, s := range []string{"Carrier Caller", "Evil\n\napi eval INJECTED", "a,b}", "O'Brien \"Bob\" back\\slash",
		"Evil,origination_caller_id_name=x)", "a {i} b", "${md5(x)}", "'", "''", "\\", "\\'", "}", "\r", "a\\nb", "^^|x|y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := eslconn.QuoteVar(s)
		if eslconn.CheckArg(s) != nil {
			if !errors.Is(err, eslconn.ErrUnsafeArg) {
				t.Fatalf("control characters accepted: %q -> %q", s, q)
			}
			s = eslconn.Sanitize(s)
			q, err = eslconn.QuoteVar(s)
		}
		empty := strings.Trim(expected(s), " ") == ""
		if err != nil {
			if empty && errors.Is(err, eslconn.ErrUnsafeArg) {
				return
			}
			t.Fatalf("QuoteVar(%q): %v", s, err)
		}
		if empty {
			t.Fatalf("QuoteVar(%q) = %q: empty value accepted", s, q)
		}
		for i := 0; i < len(q); i++ {
			if q[i] < 0x20 || q[i] == 0x7f {
				t.Fatalf("control byte in %q", q)
			}
		}
		vb, _ := parseOriginate(t, "{origination_caller_id_name="+q+",vnum_sentinel=ok}sofia/lab/user@127.0.0.1:5082 &park()")
		if len(vb.Problems) > 0 || len(vb.Vars) != 2 || vb.Rest != "sofia/lab/user@127.0.0.1:5082" {
			t.Fatalf("%q -> %q broke the block: %v %v rest %q", s, q, vb.Vars, vb.Problems, vb.Rest)
		}
		if s, _ := vb.Get("vnum_sentinel"); s != "ok" {
			t.Fatalf("sentinel overwritten: %q", s)
		}
		if !utf8.ValidString(s) {
			return // invalid bytes become U+FFFD; the block stayed intact (checked above)
		}
		got, _ := vb.Get("origination_caller_id_name")
		if want := strings.Trim(expected(s), " "); got != want {
			t.Fatalf("%q -> %q read back as %q, want %q", s, q, got, want)
		}
	})
}
