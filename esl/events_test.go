package esl

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/routing/callflow"
)

func testDriver(t testing.TB) *Driver {
	t.Helper()
	d, err := New(Options{Password: "not-the-default", Trunk: "sofia/gateway/carrier/{e164}"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// replay reads what a real FreeSWITCH sent (testdata: copies of
// ../shared/freeswitch/fixtures, event json, FreeSWITCH 1.10.12) and
// returns the call-flow events the driver makes of it.
func replay(t *testing.T, d *Driver, file string) []callflow.Event {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fr := eslconn.NewFrameReader(f, 0)
	var out []callflow.Event
	for {
		fm, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if fm.ContentType() != eslconn.TypeEventJSON {
			continue
		}
		ev, err := eslconn.ParseEvent(fm)
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := d.translate(ev); ok {
			out = append(out, o)
		}
	}
}

// TestRealFreeSWITCHEvents checks the driver against events captured from
// a real FreeSWITCH: the header names it relies on, and the causes as
// FreeSWITCH really reports them (a no-answer reads NORMAL_CLEARING on the
// A-leg, the truth being in originate_disposition).
func TestRealFreeSWITCHEvents(t *testing.T) {
	for _, tc := range []struct {
		file  string
		cause callflow.Cause // the caller's leg
		dtmf  string
	}{
		{"a_caller_hangup", callflow.CauseNormal, ""},
		{"c1_busy", callflow.CauseBusy, ""},
		{"c2_noanswer", callflow.CauseNoAnswer, ""},
		{"d_dtmf", callflow.CauseNormal, "159"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			d := testDriver(t)
			evs := replay(t, d, "testdata/"+tc.file+".conn1.fs2ctl.raw")
			if len(evs) == 0 || evs[0].Kind != callflow.EvInbound {
				t.Fatalf("events %+v", evs)
			}
			in := evs[0].Inbound
			if in.DID != "15551230001" || in.CallerNumber != "15550009999" || in.CallerName != "Carrier Caller" || in.Leg != evs[0].Leg {
				t.Fatalf("inbound %+v", in)
			}
			var digits string
			inbound, hangups := 0, 0
			for _, ev := range evs {
				switch ev.Kind {
				case callflow.EvInbound:
					inbound++
				case callflow.EvDTMF:
					if ev.Leg == in.Leg {
						digits += ev.Digit
					}
				case callflow.EvHangup:
					if ev.Leg == in.Leg {
						hangups++
						if ev.Cause != tc.cause {
							t.Errorf("caller's leg ended %v, want %v", ev.Cause, tc.cause)
						}
					}
				}
			}
			if inbound != 1 || hangups != 1 || digits != tc.dtmf {
				t.Fatalf("%d inbound, %d hang-ups of the caller, digits %q in %+v", inbound, hangups, digits, evs)
			}
		})
	}
}

func TestCauses(t *testing.T) {
	for _, tc := range []struct {
		hdrs map[string]string
		want callflow.Cause
	}{
		{map[string]string{"Hangup-Cause": "NORMAL_CLEARING"}, callflow.CauseNormal},
		{map[string]string{"Hangup-Cause": "USER_BUSY"}, callflow.CauseBusy},
		{map[string]string{"Hangup-Cause": "NO_ANSWER"}, callflow.CauseNoAnswer},
		{map[string]string{"Hangup-Cause": "NORMAL_CLEARING", "variable_originate_disposition": "NO_ANSWER"}, callflow.CauseNoAnswer},
		{map[string]string{"Hangup-Cause": "NORMAL_CLEARING", "variable_originate_disposition": "SUCCESS"}, callflow.CauseNormal},
		{map[string]string{"Hangup-Cause": "NORMAL_CLEARING", "variable_originate_disposition": "USER_BUSY"}, callflow.CauseBusy},
		{map[string]string{"Hangup-Cause": "NORMAL_CIRCUIT_CONGESTION"}, callflow.CauseCongestion},
		{map[string]string{"Hangup-Cause": "UNALLOCATED_NUMBER"}, callflow.CauseUnallocated},
		{map[string]string{"Hangup-Cause": "CALL_REJECTED"}, callflow.CauseFailed},
		{map[string]string{"variable_hangup_cause": "USER_BUSY"}, callflow.CauseBusy},
	} {
		if got := hangupCause(eslconn.Event{Headers: tc.hdrs}); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.hdrs, got, tc.want)
		}
	}
	// Every cause vnum hangs up with maps back to itself.
	for c, name := range hangupCauses {
		if got := causeOf(name); got != c {
			t.Errorf("%s: %v, want %v", name, got, c)
		}
	}
}

// FuzzTranslate feeds arbitrary event bodies through the JSON event
// parser and the driver: no panic, and nothing unsafe comes out as a leg
// id (leg ids go into commands).
func FuzzTranslate(f *testing.F) {
	for _, s := range []string{
		`{"Event-Name":"CHANNEL_PARK","Unique-ID":"a-1","variable_vnum_mode":"inbound_esl","variable_vnum_did":"+331","Caller-Caller-ID-Number":"1","Caller-Caller-ID-Name":"x\n\napi hupall"}`,
		`{"Event-Name":"CHANNEL_PARK","Unique-ID":"b","variable_vnum_leg":"a-1-1"}`,
		`{"Event-Name":"CHANNEL_PARK","Unique-ID":"b","variable_vnum_leg":"a 1\n"}`,
		`{"Event-Name":"CHANNEL_HANGUP","Unique-ID":"b","Hangup-Cause":"NORMAL_CLEARING","variable_originate_disposition":"NO_ANSWER"}`,
		`{"Event-Name":"CHANNEL_HANGUP_COMPLETE","Unique-ID":"b","variable_vnum_leg":"a-1-1"}`,
		`{"Event-Name":"DTMF","Unique-ID":"a-1","DTMF-Digit":"5"}`,
		`{"Event-Name":"RECORD_STOP","Unique-ID":"a-1","variable_record_ms":"1500"}`,
		`{"Event-Name":"RECORD_STOP","Unique-ID":"a-1","variable_record_seconds":"-3"}`,
		`{"Event-Name":"PLAYBACK_STOP","Unique-ID":"a 1"}`,
		`{"Event-Name":42}`, `[]`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := eslconn.ParseEvent(&eslconn.Frame{Headers: []eslconn.Header{{Name: "Content-Type", Value: eslconn.TypeEventJSON}}, Body: body})
		if err != nil {
			return
		}
		d := testDriver(t)
		for range 2 {
			out, ok := d.translate(ev)
			if !ok {
				continue
			}
			if out.Kind == callflow.EvMessage {
				if m := out.Message; m == nil || m.From == "" || m.To == "" {
					t.Fatalf("message %+v from %s", out, body)
				}
				continue
			}
			if !validID(string(out.Leg)) {
				t.Fatalf("unsafe leg id %q from %s", out.Leg, body)
			}
			if out.Kind == callflow.EvInbound && (out.Inbound == nil || out.Inbound.Leg != out.Leg) {
				t.Fatalf("inbound %+v", out)
			}
			if out.Duration < 0 {
				t.Fatalf("negative duration from %s", body)
			}
		}
	})
}

// FuzzParseChannels: `show channels as json` from FreeSWITCH.
func FuzzParseChannels(f *testing.F) {
	for _, s := range []string{
		`{"row_count":0}`,
		`{"row_count":1,"rows":[{"uuid":"a-1","direction":"inbound","callstate":"ACTIVE","cid_name":"x"}]}`,
		`{"row_count":"1","rows":{}}`, `-ERR no reply`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		rows, err := parseChannels(body)
		if err != nil && rows != nil {
			t.Fatal("rows with an error")
		}
		if err == nil && !strings.HasPrefix(strings.TrimSpace(body), "{") && strings.TrimSpace(body) != "null" {
			t.Fatalf("accepted %q", body)
		}
	})
}
