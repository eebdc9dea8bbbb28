package ari

import (
	"bufio"
	"os"
	"strings"
	"testing"

	"github.com/vnum/vnum/routing/callflow"
)

// replay feeds an event stream captured from a real Asterisk 22.10.1
// (testdata/*.events.jsonl, from ../shared/asterisk/fixtures) through the
// driver's decoder and translator, as if the lab's probe were vnumd: the
// inbound leg is the first StasisStart, the callee is the leg the probe
// originated ("out-<callid>").
func replay(t *testing.T, name string) []callflow.Event {
	t.Helper()
	f, err := os.Open("testdata/" + name + ".events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := New(Options{URL: "http://127.0.0.1:1/ari", User: "u", Password: "p", Trunk: "PJSIP/{e164}@x"})
	if err != nil {
		t.Fatal(err)
	}
	var out []callflow.Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		ev, err := decode(sc.Bytes())
		if err != nil {
			t.Fatalf("%s: a real event did not decode: %v", name, err)
		}
		// The probe originated "out-<callid>" legs: mark them ours, as
		// Originate does.
		if ev.Type == "Dial" || (ev.Channel != nil && strings.HasPrefix(ev.Channel.ID, "out-")) {
			if ev.Channel != nil && strings.HasPrefix(ev.Channel.ID, "out-") {
				d.outbound[ev.Channel.ID] = true
			}
		}
		if e, ok := d.translate(ev); ok {
			out = append(out, e)
		}
	}
	return out
}

func kinds(evs []callflow.Event) string {
	var b strings.Builder
	for _, e := range evs {
		name := map[callflow.EventKind]string{callflow.EvInbound: "inbound", callflow.EvAnswered: "answered",
			callflow.EvHangup: "hangup:" + e.Cause.String(), callflow.EvDTMF: "dtmf:" + e.Digit,
			callflow.EvPlaybackDone: "playback-done", callflow.EvRecordingDone: "recording-done"}[e.Kind]
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(name)
	}
	return b.String()
}

// What vnumd's engine sees from real Asterisk traffic.
func TestTranslateCapturedAsterisk(t *testing.T) {
	for name, want := range map[string]string{
		// Caller BYE: the caller's leg ends (its StasisEnd; no
		// ChannelDestroyed ever reaches the app for it).
		"a_caller_hangup": "inbound answered hangup:normal hangup:normal",
		// Callee BYE: the callee's StasisEnd first.
		"b_callee_hangup": "inbound answered hangup:normal",
		// 486 from the target: a busy cause on the never-answered leg.
		"c_busy": "inbound hangup:busy",
		// Rang out: cause 19, no answer.
		"c_noanswer": "inbound hangup:no-answer",
		// RFC 4733 and SIP INFO digits.
		"d_dtmf": "inbound answered dtmf:1 dtmf:5",
	} {
		got := kinds(replay(t, name))
		t.Logf("%s: %s", name, got)
		if !strings.HasPrefix(got, want) {
			t.Errorf("%s: engine events %q, want them to start %q", name, got, want)
		}
		if name == "c_busy" || name == "c_noanswer" {
			if strings.Contains(got, "answered") {
				t.Errorf("%s: a target that never answered was reported answered: %q", name, got)
			}
		}
	}
}

// Who hung up first is what the engine propagates: the caller's leg in
// a_caller_hangup, the callee's in b_callee_hangup.
func TestFirstHangupIsTheRightLeg(t *testing.T) {
	for name, callerFirst := range map[string]bool{"a_caller_hangup": true, "b_callee_hangup": false} {
		evs := replay(t, name)
		inbound := evs[0].Leg
		for _, e := range evs {
			if e.Kind != callflow.EvHangup {
				continue
			}
			if (e.Leg == inbound) != callerFirst {
				t.Errorf("%s: first hang-up on %s (inbound %s)", name, e.Leg, inbound)
			}
			break
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"type":"StasisStart","args":["+33187654321"],"channel":{"id":"1.1","caller":{"name":"A","number":"+44"},"dialplan":{"exten":"1"}}}`,
		`{"type":"ChannelDestroyed","cause":17,"channel":{"id":"x"}}`,
		`{"type":"PlaybackFinished","playback":{"target_uri":"channel:"}}`,
		`{"type":"RecordingFinished","recording":{"target_uri":"bridge:b","duration":3}}`,
		`{"type":""}`, `[]`, `{"type":"StasisStart","channel":null}`, "\x00",
	} {
		f.Add([]byte(s))
	}
	d, err := New(Options{URL: "http://127.0.0.1:1/ari", User: "u", Password: "p", Trunk: "PJSIP/{e164}@x"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := decode(data)
		if err != nil {
			return
		}
		out, ok := d.translate(ev)
		if !ok {
			return
		}
		if out.Kind == callflow.EvInbound && (out.Inbound == nil || out.Inbound.Leg == "") {
			t.Fatalf("an inbound event without a leg from %q", data)
		}
		if out.Kind == callflow.EvMessage && (out.Message == nil || out.Message.From == "" || out.Message.To == "") {
			t.Fatalf("a message without its addresses from %q", data)
		}
		if out.Kind != callflow.EvInbound && out.Kind != callflow.EvMessage && out.Leg == "" {
			t.Fatalf("an event without a leg from %q", data)
		}
	})
}
