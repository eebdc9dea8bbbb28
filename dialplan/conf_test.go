package dialplan_test

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/vnum/vnum/dialplan"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustParse(t *testing.T, s string) *dialplan.Conf {
	t.Helper()
	c, err := dialplan.ParseConf(strings.NewReader(s))
	if err != nil {
		t.Fatalf("ParseConf: %v", err)
	}
	return c
}

func TestParseConfTemplatesCommentsAndIncludes(t *testing.T) {
	c := mustParse(t, `
; a comment
[common](!)        ; template
type=endpoint
send_pai=no
allow=ulaw

[carrier](common)
context = vnum-inbound ; trailing comment
allow=alaw
note=semi\;colon
;-- a block
comment --;
[carrier]
type=aor
contact=sip:192.0.2.1:5060
[carrier](+)
qualify_frequency=60
#tryinclude "local.conf"
#include <other.conf>
`)
	if len(c.Sections) != 3 {
		t.Fatalf("got %d sections, want 3 (template, endpoint, aor)", len(c.Sections))
	}
	eps := c.OfType("endpoint")
	if len(eps) != 1 || eps[0].Name != "carrier" {
		t.Fatalf("endpoints = %v, want [carrier] (the template is not one)", eps)
	}
	ep := eps[0]
	if v, _ := c.Get(ep, "send_pai"); v != "no" {
		t.Errorf("inherited send_pai = %q, want no", v)
	}
	if got := c.All(ep, "allow"); !slices.Equal(got, []string{"ulaw", "alaw"}) {
		t.Errorf("allow = %v, want template's then own", got)
	}
	if v, _ := c.Get(ep, "context"); v != "vnum-inbound" {
		t.Errorf("context = %q (comment not stripped?)", v)
	}
	if v, _ := c.Get(ep, "note"); v != "semi;colon" {
		t.Errorf(`\; not unescaped: %q`, v)
	}
	aor := c.OfType("aor")
	if len(aor) != 1 {
		t.Fatalf("aors = %v", aor)
	}
	if v, _ := c.Get(aor[0], "qualify_frequency"); v != "60" {
		t.Errorf("(+) did not append to the aor: %q", v)
	}
	if len(c.Includes) != 2 || !c.Includes[0].Try || c.Includes[0].Path != "local.conf" || c.Includes[1].Path != "other.conf" {
		t.Errorf("includes = %+v", c.Includes)
	}
}

func TestParseConfRejects(t *testing.T) {
	for name, in := range map[string]string{
		"entry before section": "a=b\n",
		"no equals":            "[x]\njust words\n",
		"unclosed header":      "[x\n",
		"junk after header":    "[x] y\n",
		"exec":                 "#exec /bin/sh\n",
		"unterminated block":   "[x]\n;-- open\n",
		"append unknown":       "[x](+)\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := dialplan.ParseConf(strings.NewReader(in)); !errors.Is(err, dialplan.ErrSyntax) {
				t.Fatalf("err = %v, want ErrSyntax", err)
			}
		})
	}
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, exten string
		want           bool
	}{
		{"_X.", "14155550100", true},
		{"_X.", "+14155550100", false},
		{"_+X.", "+14155550100", true},
		{"_+X.", "+", false},
		{"_+ZXXXXX.", "+33612345678", true},
		{"_+ZXXXXX.", "+0612345678", false},
		{"_+ZXXXXX.", "+331234", false},
		{"_N[1-3]!", "22", true},
		{"_N[1-3]!", "24", false},
		{"s", "s", true},
		{"s", "S", false},
	} {
		if got := dialplan.MatchPattern(tc.pattern, tc.exten); got != tc.want {
			t.Errorf("MatchPattern(%q, %q) = %v, want %v", tc.pattern, tc.exten, got, tc.want)
		}
	}
}

// The lab extensions.conf is the configuration Asterisk 22.10.1 ran for the
// captures in shared/asterisk (testdata/lab is a copy). With no app connected,
// the lab dialplan hangs up right after Stasis: the 603 the app_absent capture
// shows, which is why vnum's own dialplan has a fallback.
func TestLabDialplanReproducesAppAbsent(t *testing.T) {
	f, err := os.Open("testdata/lab/extensions.conf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := dialplan.ParseConf(f)
	if err != nil {
		t.Fatal(err)
	}
	d, err := dialplan.NewDialplan(c)
	if err != nil {
		t.Fatal(err)
	}
	var stasis []string
	trace, err := d.Simulate("from-carrier", "14155550100", &dialplan.Channel{}, map[string]dialplan.AppFunc{
		"Stasis": func(ch *dialplan.Channel, args []string) bool {
			stasis = args
			ch.Vars["STASISSTATUS"] = "FAILED"
			return false
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stasis, []string{"vnum", "14155550100"}) {
		t.Errorf("Stasis args = %v", stasis)
	}
	last := trace[len(trace)-1]
	if last.App != "Hangup" || len(last.Args) != 0 {
		t.Errorf("lab dialplan ends with %s(%v), want a bare Hangup()", last.App, last.Args)
	}
	if got := apps(trace); !slices.Equal(got, []string{"NoOp", "Stasis", "Log", "Hangup"}) {
		t.Errorf("trace = %v", got)
	}
}

func TestSimulateErrors(t *testing.T) {
	d, err := dialplan.NewDialplan(mustParse(t, `
[a]
exten => 1,1,NoOp()
exten => 2,1,Frobnicate()
exten => 3,1,Goto(nowhere,1,1)
exten => 4,1,Goto(4,1)
`))
	if err != nil {
		t.Fatal(err)
	}
	for exten, want := range map[string]error{
		"1": dialplan.ErrFellThrough,
		"2": dialplan.ErrUnsupported,
		"3": dialplan.ErrNoExtension,
		"4": dialplan.ErrLoop,
		"9": dialplan.ErrNoExtension,
	} {
		if _, err := d.Simulate("a", exten, &dialplan.Channel{}, nil); !errors.Is(err, want) {
			t.Errorf("exten %s: err = %v, want %v", exten, err, want)
		}
	}
}

func apps(trace []dialplan.Step) []string {
	out := make([]string, len(trace))
	for i, s := range trace {
		out[i] = s.App
	}
	return out
}

// The lab FreeSWITCH configuration (testdata/lab) verified the park +
// sched_transfer fallback on FreeSWITCH 1.10.12; Hunt must read it the same way.
func TestHuntLabFreeSWITCHDialplan(t *testing.T) {
	raw, err := os.ReadFile("testdata/lab/lab-freeswitch.xml")
	if err != nil {
		t.Fatal(err)
	}
	// The lab file is a whole <document>; take its dialplan section's context.
	s := string(raw)
	start := strings.Index(s, `<context name="carrier">`)
	end := strings.Index(s[start:], "</context>")
	inc, err := dialplan.ParseFSInclude(strings.NewReader("<include>" + s[start:start+end+len("</context>")] + "</include>"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, ok := inc.Context("carrier")
	if !ok {
		t.Fatal("no carrier context")
	}
	ext, actions, err := ctx.Hunt(map[string]string{"destination_number": "15551260001"})
	if err != nil {
		t.Fatal(err)
	}
	if ext.Name != "park_sched_fallback" {
		t.Fatalf("extension = %s", ext.Name)
	}
	want := []dialplan.FSAction{
		{Application: "set", Data: "vnum_did=15551260001"},
		{Application: "set", Data: "vnum_mode=inbound_esl"},
		{Application: "sched_transfer", Data: "+5 fallback_15551260001 XML carrier"},
		{Application: "park"},
	}
	if !slices.Equal(actions, want) {
		t.Errorf("actions = %+v\nwant %+v", actions, want)
	}
	ext, _, err = ctx.Hunt(map[string]string{"destination_number": "fallback_15551260001"})
	if err != nil || ext.Name != "fallback" {
		t.Errorf("fallback hunt: %v, %v", ext, err)
	}
	if _, _, err := dialplan.Hunt(nil, nil); !errors.Is(err, dialplan.ErrNoMatch) {
		t.Errorf("empty hunt: %v", err)
	}
}

func FuzzParseConf(f *testing.F) {
	for _, name := range []string{"extensions.conf", "pjsip.conf", "ari.conf", "http.conf"} {
		b, err := os.ReadFile("testdata/lab/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("[a](!)\nx=1\n[b](a)\ny=>2\n[b](+)\nz=3\n#tryinclude x.conf\n;-- c\n--;\n")
	f.Add("[a]\nexten => _X.,1,GotoIf($[\"${X}\" = \"1\"]?b,1)\n same => n(b),Hangup()\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := dialplan.ParseConf(strings.NewReader(in))
		if err != nil {
			if !errors.Is(err, dialplan.ErrSyntax) && !strings.Contains(err.Error(), "token too long") {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, s := range c.Sections {
			if s.Name == "" {
				t.Fatal("section without a name")
			}
			for _, e := range c.Effective(s) {
				if e.Key == "" || strings.ContainsAny(e.Key, "\n") {
					t.Fatalf("bad key %q", e.Key)
				}
			}
		}
		// Whatever parsed must also build (or cleanly refuse) a dialplan,
		// and simulating any extension must end without panicking.
		d, err := dialplan.NewDialplan(c)
		if err != nil {
			return
		}
		for _, s := range c.Sections {
			ctx, ok := d.Context(s.Name)
			if !ok {
				continue
			}
			for _, e := range ctx.Extensions {
				_, _ = d.Simulate(s.Name, strings.TrimPrefix(e.Pattern, "_"), &dialplan.Channel{}, nil)
			}
		}
	})
}

func FuzzMatchPattern(f *testing.F) {
	f.Add("_X.", "14155550100")
	f.Add("_+ZXXXXX.", "+33612345678")
	f.Add("_[0-9a-]!", "x")
	f.Add("s", "s")
	f.Fuzz(func(t *testing.T, pattern, exten string) {
		got := dialplan.MatchPattern(pattern, exten)
		if !strings.HasPrefix(pattern, "_") && got != (pattern == exten) {
			t.Fatalf("plain name %q vs %q: %v", pattern, exten, got)
		}
		if !strings.ContainsAny(pattern, "XxZzNn.![") && strings.HasPrefix(pattern, "_") && got != (pattern[1:] == exten) {
			t.Fatalf("literal pattern %q vs %q: %v", pattern, exten, got)
		}
	})
}

func FuzzParseFSInclude(f *testing.F) {
	f.Add(`<include><context name="c"><extension name="e"><condition field="destination_number" expression="^(\+?[0-9]+)$"><action application="transfer" data="$1 XML x"/></condition></extension></context></include>`)
	f.Add(`<include><extension name="e"><condition field="${network_addr}" expression="^(1\.2\.3\.4)$"/><condition/></extension></include>`)
	f.Add(`<include><gateway name="g"><param name="proxy" value="h"/><variables><variable name="v" value="1" direction="outbound"/></variables></gateway></include>`)
	f.Fuzz(func(t *testing.T, in string) {
		inc, err := dialplan.ParseFSInclude(strings.NewReader(in))
		if err != nil {
			return
		}
		fields := map[string]string{"destination_number": "+14155550100", "network_addr": "192.0.2.10"}
		_, _, _ = dialplan.Hunt(inc.Extensions, fields)
		for i := range inc.Contexts {
			_, actions, err := inc.Contexts[i].Hunt(fields)
			if err == nil && actions == nil && len(inc.Contexts[i].Extensions) == 0 {
				t.Fatal("a match in an empty context")
			}
		}
	})
}
