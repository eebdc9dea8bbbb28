package routing_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
)

func TestParseE164(t *testing.T) {
	good := map[string][2]string{
		"+33 6 12 34 56 78": {"", "+33612345678"},
		"06 12 34 56 78":    {"FR", "+33612345678"},
		"0033612345678":     {"", "+33612345678"},
		"(415) 555-0100":    {"US", "+14155550100"},
		"+1 555 123 0001":   {"", "+15551230001"},
	}
	for in, w := range good {
		got, err := routing.ParseE164(in, w[0])
		if err != nil || got != w[1] {
			t.Errorf("ParseE164(%q, %q) = %q, %v; want %q", in, w[0], got, err, w[1])
		}
	}
	for _, in := range []string{"", "abc", "0612345678", "+33 6", "+3361234567890123", "+33612345678\napi x", "+33 6;12"} {
		_, err := routing.ParseE164(in, "")
		if !errors.Is(err, routing.ErrBadNumber) {
			t.Errorf("ParseE164(%q): err %v, want ErrBadNumber", in, err)
		} else if !strings.Contains(err.Error(), strings.TrimSpace(in)[:min(len(strings.TrimSpace(in)), 5)]) {
			t.Errorf("error %q does not name the bad value %q", err, in)
		}
	}
}

func TestNormalizeCaller(t *testing.T) {
	for in, want := range map[string]string{
		"":              routing.Anonymous,
		"Anonymous":     routing.Anonymous,
		"restricted":    routing.Anonymous,
		"0612345678":    "+33612345678",
		"+447700900123": "+447700900123",
		"12;evil":       "12",
		"447700900123":  "+447700900123", // international without its '+'
		"33612345678":   "+33612345678",
		"abc":           routing.Anonymous,
	} {
		if got := routing.NormalizeCaller(in, "FR"); got != want {
			t.Errorf("NormalizeCaller(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParsePattern(t *testing.T) {
	for in, want := range map[string]string{
		"anonymous":                             "anonymous",
		"ANONYMOUS":                             "anonymous",
		"+33612345678":                          "+33612345678",
		"0612345678":                            "+33612345678",
		"+44*":                                  "+44*",
		"0044*":                                 "+44*",
		"+3361234*":                             "+3361234*",
		"hmac:0123456789ABCDEF0123456789abcdef": "hmac:0123456789abcdef0123456789abcdef",
	} {
		got, err := routing.ParsePattern(in, "FR")
		if err != nil || string(got) != want {
			t.Errorf("ParsePattern(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "*", "+*", "+0*", "44*", "+4a*", "+33 6*", "anon", "+1234567890123456*",
		"hmac:", "hmac:0123", "hmac:0123456789abcdef0123456789abcdeg", "hmac:0123456789abcdef0123456789abcdef0"} {
		if _, err := routing.ParsePattern(in, "FR"); !errors.Is(err, routing.ErrBadPattern) {
			t.Errorf("ParsePattern(%q): err %v, want ErrBadPattern", in, err)
		}
	}
}

func TestCandidatesMatchPrefixes(t *testing.T) {
	c := routing.Candidates("+447700900123")
	want := map[string]bool{"+447700900123": true, "+447700900123*": true, "+44*": true, "+4*": true, "+447700*": true}
	got := map[string]bool{}
	for _, x := range c {
		got[x] = true
	}
	for w := range want {
		if !got[w] {
			t.Errorf("candidates %v miss %s", c, w)
		}
	}
	if c[0] != "+447700900123" {
		t.Errorf("exact number must come first: %v", c)
	}
	if a := routing.Candidates(routing.Anonymous); len(a) != 1 || a[0] != "anonymous" {
		t.Errorf("anonymous candidates %v", a)
	}
}

func TestParseSchedule(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	at := func(day, hh, mm int) time.Time { return time.Date(2026, 11, 22+day, hh, mm, 0, 0, paris) } // 22 = Sunday
	cases := []struct {
		spec   string
		in     []time.Time
		out    []time.Time
		action routing.RouteAction
	}{
		{"mon-fri 09:00-18:00 forward +33140000000", []time.Time{at(1, 9, 0), at(5, 17, 59)}, []time.Time{at(1, 8, 59), at(1, 18, 0), at(6, 10, 0)}, routing.RouteForward},
		{"mon-fri 18:00-09:00 voicemail", []time.Time{at(1, 18, 0), at(2, 8, 59), at(6, 3, 0)}, []time.Time{at(1, 9, 0), at(1, 3, 0), at(7, 3, 0)}, routing.RouteVoicemail},
		{"sat,sun voicemail", []time.Time{at(0, 0, 0), at(6, 23, 59)}, []time.Time{at(1, 0, 0)}, routing.RouteVoicemail},
		{"fri-mon 12:00-24:00 reject", []time.Time{at(0, 12, 0), at(1, 23, 59)}, []time.Time{at(2, 12, 0), at(0, 11, 59)}, routing.RouteReject},
		{"daily 12:00-13:00 forward sip:desk@pbx.example.com", []time.Time{at(3, 12, 30)}, []time.Time{at(3, 13, 0)}, routing.RouteForward},
	}
	for _, c := range cases {
		r, err := routing.ParseSchedule(c.spec, "FR")
		if err != nil {
			t.Fatalf("%q: %v", c.spec, err)
		}
		if r.Route.Action != c.action {
			t.Errorf("%q: action %s", c.spec, r.Route.Action)
		}
		for _, tm := range c.in {
			if !r.Matches(tm) {
				t.Errorf("%q should match %s", c.spec, tm.Format("Mon 15:04"))
			}
		}
		for _, tm := range c.out {
			if r.Matches(tm) {
				t.Errorf("%q should not match %s", c.spec, tm.Format("Mon 15:04"))
			}
		}
	}
	for _, bad := range []string{"", "mon", "funday voicemail", "mon 9-17 voicemail", "mon 25:00-26:00 voicemail",
		"mon 09:00-09:00 voicemail", "mon 09:00-18:00", "mon forward", "mon forward nope", "mon voicemail extra", "mon dance"} {
		_, err := routing.ParseSchedule(bad, "FR")
		if !errors.Is(err, routing.ErrBadSchedule) {
			t.Errorf("ParseSchedule(%q): err %v, want ErrBadSchedule", bad, err)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, good := range []string{"+33612345678", "sip:bob@example.com", "sips:alice@10.0.0.1:5061;transport=tls"} {
		if _, err := routing.ParseTarget(good, "FR"); err != nil {
			t.Errorf("ParseTarget(%q): %v", good, err)
		}
	}
	for _, bad := range []string{"sip:", "sip:bob@ex ample.com", "sip:bob@x.com,PJSIP/evil", "sip:{x}@a.b", "sip:a@b\r\nX: y", "bob", "+1"} {
		if _, err := routing.ParseTarget(bad, "FR"); !errors.Is(err, routing.ErrBadTarget) {
			t.Errorf("ParseTarget(%q): err %v, want ErrBadTarget", bad, err)
		}
	}
}

func TestPrivacyRecord(t *testing.T) {
	key := []byte("0123456789abcdef0123")
	h := routing.Privacy{Caller: routing.StoreHMAC, Key: key}
	a, b := h.Record("+447700900123"), h.Record("+447700900123")
	if a != b || strings.Contains(a, "7700900123") || !strings.HasPrefix(a, "hmac:") {
		t.Errorf("hmac record %q / %q", a, b)
	}
	if l := (routing.Privacy{Caller: routing.StoreLast4}).Record("+447700900123"); l != "…0123" {
		t.Errorf("last4 = %q", l)
	}
	if err := (routing.Privacy{Caller: routing.StoreHMAC, Key: []byte("short")}).Validate(); err == nil {
		t.Error("short hmac key accepted")
	}
}

func FuzzParseE164(f *testing.F) {
	for _, s := range []string{"+33612345678", "06 12 34 56 78", "00", "+", "+1 (555) 123-0001", "\x00", "+٣٣"} {
		f.Add(s, "FR")
	}
	f.Fuzz(func(t *testing.T, s, region string) {
		e, err := routing.ParseE164(s, region)
		if err != nil {
			return
		}
		if !strings.HasPrefix(e, "+") || len(e) > 17 {
			t.Fatalf("ParseE164(%q) = %q", s, e)
		}
		for _, r := range e[1:] {
			if r < '0' || r > '9' {
				t.Fatalf("ParseE164(%q) = %q has a non-digit", s, e)
			}
		}
		again, err := routing.ParseE164(e, "")
		if err != nil || again != e {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, e, again, err)
		}
	})
}

func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"anonymous", "+44*", "+33612345678", "*", "0044*", "+4\n*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := routing.ParsePattern(s, "FR")
		if err != nil {
			return
		}
		ps := string(p)
		if ps != routing.Anonymous && !strings.HasPrefix(ps, "+") {
			t.Fatalf("pattern %q from %q", ps, s)
		}
		if strings.ContainsAny(ps, " \r\n\t|") {
			t.Fatalf("pattern %q from %q holds a separator", ps, s)
		}
	})
}

func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"mon-fri 09:00-18:00 forward +33140000000", "sat,sun voicemail", "daily 23:00-01:00 reject", "fri-mon 24:00-01:00 reject", "mon 9:5-1:00 voicemail"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := routing.ParseSchedule(s, "FR")
		if err != nil {
			return
		}
		if r.Start < 0 || r.Start >= 24*60 || r.End < 0 || r.End >= 24*60 {
			t.Fatalf("window %d-%d from %q", r.Start, r.End, s)
		}
		_ = r.Matches(time.Now())
	})
}
