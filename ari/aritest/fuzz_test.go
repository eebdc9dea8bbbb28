package aritest

import (
	"net/url"
	"strings"
	"testing"
)

// Parsers of what clients send: callerId strings and request parameters
// (WebSocket frames are parsed by golang.org/x/net/websocket).

func TestParseCallerID(t *testing.T) {
	for _, tc := range []struct{ in, name, num string }{
		{`"15551230001" <15551230001>`, "15551230001", "15551230001"},
		{`Carrier Caller <+14155550100>`, "Carrier Caller", "+14155550100"},
		{`<+14155550100>`, "", "+14155550100"},
		{`+14155550100`, "", "+14155550100"},
		{`"Anonymous"`, "Anonymous", ""},
		{`Bob`, "Bob", ""},
		{``, "", ""},
	} {
		if n, m := parseCallerID(tc.in); n != tc.name || m != tc.num {
			t.Errorf("parseCallerID(%q) = %q, %q", tc.in, n, m)
		}
	}
}

func FuzzParseCallerID(f *testing.F) {
	for _, s := range []string{`"15551230001" <15551230001>`, `<1>`, `"a\"b" <2>`, `x<`, `>`, `"`, "<>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, num := parseCallerID(s)
		if len(name)+len(num) > len(s) {
			t.Fatalf("%q -> %q %q longer than input", s, name, num)
		}
		if strings.ContainsAny(num, "<>") {
			t.Fatalf("%q -> number %q", s, num)
		}
	})
}

func TestParamsJSONAndQuery(t *testing.T) {
	q, _ := url.ParseQuery("channel=a,b&timeout=5")
	p, err := parseParamBytes(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.list("channel"); len(got) != 2 {
		t.Errorf("query list %v", got)
	}
	p, _ = parseParamBytes(url.Values{}, []byte(`{"channel":"a,b","timeout":30,"media":["x","y"],"beep":false}`))
	if got := p.list("channel"); len(got) != 1 || got[0] != "a,b" {
		t.Errorf("JSON string must not split: %v", got)
	}
	if n, ok := p.int("timeout", 0); !ok || n != 30 {
		t.Errorf("timeout %d", n)
	}
	if got := p.list("media"); len(got) != 2 {
		t.Errorf("media %v", got)
	}
	if _, err := parseParamBytes(url.Values{}, []byte(`[1,2]`)); err == nil {
		t.Error("array body accepted")
	}
}

func FuzzParams(f *testing.F) {
	f.Add("channel=a,b", []byte(`{"channel":["a","b"],"timeout":30}`))
	f.Add("", []byte(`{"variables":{"variables":{"A":"1"}},"media":"sound:x"}`))
	f.Add("reason=normal", []byte(`null`))
	f.Add("x=%zz", []byte(`{"timeout":1e99}`))
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		q, _ := url.ParseQuery(query)
		p, err := parseParamBytes(q, body)
		if err != nil {
			return
		}
		for _, k := range []string{"channel", "media", "timeout", "endpoint", "variables"} {
			_ = p.list(k)
			_, _ = p.int(k, 0)
			_ = p.get(k)
			_ = p.bool(k)
		}
		_ = p.vars()
	})
}
