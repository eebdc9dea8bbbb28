package esltest_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/esl/esltest"
)

// capturedEvents returns the events of a capture by name.
func capturedEvents(t *testing.T, file string, names ...string) map[string]eslconn.Event {
	t.Helper()
	data, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]eslconn.Event{}
	for _, f := range readFrames(t, data) {
		ct := f.ContentType()
		if ct != eslconn.TypeEventJSON && ct != eslconn.TypeEventPlain {
			continue
		}
		ev, err := eslconn.ParseEvent(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if _, seen := out[n]; !seen && ev.Name == n {
				out[n] = ev
			}
		}
	}
	return out
}

// TestFidelityDTMFAndPlaybackOnOriginatedLeg: a real FreeSWITCH sent DTMF
// (fixture d_dtmf) and PLAYBACK_START/STOP (fixture
// ivr_play_and_get_digits) with the headers below; the emulator sends the
// same ones, with the same DTMF-Source and DTMF-Duration, for a leg vnum
// originated (the far end presses keys, a prompt is played to it), and
// carries the leg's variables so a controller knows whose event it is.
func TestFidelityDTMFAndPlaybackOnOriginatedLeg(t *testing.T) {
	want := capturedEvents(t, "d_dtmf.conn1.fs2ctl.raw", "DTMF")
	for k, v := range capturedEvents(t, "ivr_play_and_get_digits.conn1.fs2ctl.raw", "PLAYBACK_START", "PLAYBACK_STOP") {
		want[k] = v
	}
	if len(want) != 3 {
		t.Fatalf("captured events: %d", len(want))
	}
	s := newLab(t)
	rc := rawDial(t, s)
	rc.until(func(f *eslconn.Frame) bool { return f.ContentType() == eslconn.TypeAuthRequest })
	rc.send("auth " + labPassword + "\n\n")
	rc.until(isReply)
	rc.send("event json CHANNEL_PARK DTMF PLAYBACK_START PLAYBACK_STOP\n\n")
	rc.until(isReply)
	const user = "sofia/lab/user@127.0.0.1:5082"
	s.SetDestination(user, esltest.Behavior{After: 10 * time.Millisecond})
	rc.send("api originate {vnum_leg=call-1,origination_caller_id_number=15551230001}" + user + " &park()\n\n")
	rc.until(isEvent("CHANNEL_PARK", ""))
	legs := s.Legs()
	if len(legs) != 1 {
		t.Fatalf("legs %+v", legs)
	}
	b := legs[0].UUID
	if err := s.SendDTMF(b, "1"); err != nil {
		t.Fatal(err)
	}
	rc.until(isEvent("DTMF", b))
	rc.send("api uuid_broadcast " + b + " ivr/ivr-accept_reject_voicemail.wav aleg\n\n")
	rc.until(isEvent("PLAYBACK_STOP", b))
	got := map[string]eslconn.Event{}
	for _, f := range rc.all {
		if ev, err := eslconn.ParseEvent(f); err == nil {
			got[ev.Name] = ev
		}
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("no %s from the emulator", name)
		}
		for k := range w.Headers {
			if strings.HasPrefix(k, "DTMF-") || strings.HasPrefix(k, "Playback-File") || k == "Unique-ID" || k == "Answer-State" ||
				k == "Channel-Call-State" {
				if _, ok := g.Headers[k]; !ok {
					t.Errorf("%s: header %s missing", name, k)
				}
			}
		}
		if g.Headers["Unique-ID"] != b || g.Headers["variable_vnum_leg"] != "call-1" {
			t.Errorf("%s: Unique-ID %q vnum_leg %q, want the originated leg", name, g.Headers["Unique-ID"], g.Headers["variable_vnum_leg"])
		}
	}
	for _, k := range []string{"DTMF-Digit", "DTMF-Source", "DTMF-Duration"} {
		if got["DTMF"].Headers[k] != want["DTMF"].Headers[k] {
			t.Errorf("DTMF %s %q, FreeSWITCH %q", k, got["DTMF"].Headers[k], want["DTMF"].Headers[k])
		}
	}
	if p := s.Legs()[0].Played; len(p) != 1 || p[0] != "ivr/ivr-accept_reject_voicemail.wav" {
		t.Errorf("played to the leg: %q", p)
	}
	if err := s.SendDTMF("no-such-uuid", "1"); err == nil {
		t.Error("DTMF on a channel that does not exist")
	}
}

// TestRecordingFilesOnTheEmulatedHost: with a RecordDir, a recording
// started into it is a file there (StoredRecordings, `file_exists` as
// captured in voicemail_record: "true" / "false"); one elsewhere is not
// written.
func TestRecordingFilesOnTheEmulatedHost(t *testing.T) {
	dir := t.TempDir()
	s, err := esltest.New(esltest.Options{Password: labPassword, RecordDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	c, err := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "15550009999"})
	if err != nil {
		t.Fatal(err)
	}
	rc := rawDial(t, s)
	rc.until(func(f *eslconn.Frame) bool { return f.ContentType() == eslconn.TypeAuthRequest })
	in, out := dir+"/vm-"+c.UUID()+".wav", t.TempDir()+"/elsewhere.wav"
	for _, cmd := range []string{"auth " + labPassword, "api uuid_record " + c.UUID() + " start " + in,
		"api uuid_record " + c.UUID() + " start " + out, "api file_exists " + in, "api file_exists " + dir + "/no-such-file.wav"} {
		rc.send(cmd + "\n\n")
		rc.until(isReply)
	}
	last := rc.all[len(rc.all)-2:]
	if string(last[0].Body) != "true" || string(last[1].Body) != "false" {
		t.Fatalf("file_exists: %q, %q", last[0].Body, last[1].Body)
	}
	if got := s.StoredRecordings(); len(got) != 1 || got[0] != in {
		t.Fatalf("stored %q", got)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a recording outside RecordDir was written")
	}
}
