package aritest

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// capturedEvent returns the first captured event of a type in a timeline
// (testdata/NAME.timeline.jsonl, from ../shared/asterisk).
func capturedEvent(t *testing.T, name, typ string) map[string]any {
	t.Helper()
	for _, r := range loadTimeline(t, name) {
		if r.Kind == "ws_event" && r.Event["type"] == typ {
			return r.Event
		}
	}
	t.Fatalf("%s: no %s captured", name, typ)
	return nil
}

// sameShape checks an emulated event has the captured one's JSON keys, and
// so have its channel, bridge and playback objects.
func sameShape(t *testing.T, what string, got, want map[string]any) {
	t.Helper()
	if g, w := sortedKeys(got), sortedKeys(want); !slices.Equal(g, w) {
		t.Errorf("%s: keys %v, captured %v", what, g, w)
	}
	for _, obj := range []string{"channel", "bridge", "playback"} {
		w, ok := want[obj].(map[string]any)
		if !ok {
			continue
		}
		g, _ := got[obj].(map[string]any)
		if gk, wk := sortedKeys(g), sortedKeys(w); !slices.Equal(gk, wk) {
			t.Errorf("%s: %s keys %v, captured %v", what, obj, gk, wk)
		}
	}
}

// A room of three (issue 5: masked sessions of three or more parties) is
// what e_conference captured from a real Asterisk, except that two of its
// members are legs the application originated rather than inbound calls:
// the bridge's own event stream (who entered and left, with which members
// and bridge technology, the bridge outliving its last member until it is
// deleted, the bridge recording ending when the bridge empties) must be
// the captured one. On the originated members: a playback (a confirm
// prompt) and a key press, shaped as the captured playback_and_dtmf and
// d_dtmf events. Then the stored recording is deleted as channel_record
// captured it.
func TestFidelityRoomWithOriginatedMembers(t *testing.T) {
	const room = "conf-15551230001" // the captured bridge id
	f := newFixture(t, Options{}, true)

	// The captured bridge stream, inbound channels named in1, in2, in3.
	capRP := &replay{capIDs: map[string]string{}}
	var captured []map[string]any
	for _, r := range loadTimeline(t, "e_conference") {
		if r.Kind != "ws_event" || r.Event["type"] == "ChannelVarset" {
			continue
		}
		if r.Event["type"] == "StasisStart" {
			capRP.capIDs[str(r.Event, "channel", "id")] = "in" + string(rune('1'+len(capRP.capIDs)))
		}
		captured = append(captured, r.Event)
	}
	want := capRP.streams(captured, capRP.capNorm)

	// The emulated room: A calls in, B and C are originated and answer.
	f.s.SetDestination("PJSIP/+33612345678@carrier", Behavior{RingEvent: true, AnswerAfter: 10 * time.Millisecond})
	f.s.SetDestination("PJSIP/+33140000000@carrier", Behavior{AnswerAfter: 20 * time.Millisecond})
	a, err := f.s.Inbound(InboundCall{DID: "15551230001", CallerNumber: "+14155550100", CallerName: "A"})
	if err != nil {
		t.Fatal(err)
	}
	f.waitType(a.ID(), "StasisStart")
	if st, _ := f.call("POST", "/ari/channels/"+a.ID()+"/answer", "", nil); st != 204 {
		t.Fatalf("answer: %d", st)
	}
	for id, ep := range map[string]string{"leg-b": "PJSIP/+33612345678@carrier", "leg-c": "PJSIP/+33140000000@carrier"} {
		st, m := f.call("POST", "/ari/channels", "", map[string]any{"endpoint": ep, "app": "vnum", "appArgs": "vnum-out",
			"callerId": "<15551230001>", "channelId": id, "originator": a.ID(), "timeout": 5})
		if st != 200 {
			t.Fatalf("originate %s: %d %v", id, st, m)
		}
	}
	f.waitType("leg-b", "StasisStart")
	f.waitType("leg-c", "StasisStart")
	b, c := f.s.Call("leg-b"), f.s.Call("leg-c")
	emuRP := &replay{emuIDs: map[string]string{a.ID(): "in1", "leg-b": "in2", "leg-c": "in3"}}

	if st, m := f.call("POST", "/ari/bridges/"+room, "", map[string]any{"bridgeId": room, "type": "mixing", "name": room}); st != 200 {
		t.Fatalf("create bridge: %d %v", st, m)
	}
	if st, m := f.call("POST", "/ari/bridges/"+room+"/record", "", map[string]any{"name": room, "format": "wav",
		"maxDurationSeconds": 0, "maxSilenceSeconds": 0, "ifExists": "overwrite"}); st != 201 {
		t.Fatalf("record bridge: %d %v", st, m)
	}
	entered := func(n int) func() bool {
		return func() bool {
			k := 0
			for _, e := range f.log.snapshot() {
				if str(e, "type") == "ChannelEnteredBridge" {
					k++
				}
			}
			return k >= n
		}
	}
	for i, p := range []*Call{a, b, c} {
		if st, m := f.call("POST", "/ari/bridges/"+room+"/addChannel", "", map[string]any{"channel": p.ID()}); st != 204 {
			t.Fatalf("addChannel %s: %d %v", p.ID(), st, m)
		}
		f.waitTrue("member entered", entered(i+1))
	}
	for _, p := range []*Call{a, b, c} {
		if p.Bridge() != room {
			t.Fatalf("party %s is in %q, want %q", p.ID(), p.Bridge(), room)
		}
	}

	// A prompt to an originated member, and its key press.
	if st, m := f.call("POST", "/ari/channels/leg-b/play/pb-confirm", "", map[string]any{"media": "sound:followme/options"}); st != 201 {
		t.Fatalf("play on an originated leg: %d %v", st, m)
	}
	f.waitTrue("playback finished", func() bool { return slices.Contains(f.types(""), "PlaybackFinished") })
	if got := b.Played(); !slices.Equal(got, []string{"sound:followme/options"}) {
		t.Errorf("B heard %v", got)
	}
	if got := a.Played(); len(got) != 0 {
		t.Errorf("A heard B's channel prompt: %v", got)
	}
	c.SendDTMF("5")
	f.waitType("leg-c", "ChannelDtmfReceived")
	for _, e := range f.log.snapshot() {
		switch str(e, "type") {
		case "PlaybackStarted", "PlaybackFinished":
			if str(e, "playback", "target_uri") != "channel:leg-b" || str(e, "playback", "media_uri") != "sound:followme/options" {
				t.Errorf("playback event %v", e)
			}
			sameShape(t, str(e, "type"), e, capturedEvent(t, "playback_and_dtmf", str(e, "type")))
		case "ChannelDtmfReceived":
			if str(e, "channel", "id") != "leg-c" || str(e, "digit") != "5" {
				t.Errorf("DTMF event %v", e)
			}
			sameShape(t, "ChannelDtmfReceived", e, capturedEvent(t, "d_dtmf", "ChannelDtmfReceived"))
		}
	}

	// Members leave one by one, in the captured order; the bridge stays.
	for _, p := range []*Call{a, b, c} {
		p.Hangup()
		<-p.Done()
	}
	f.waitTrue("the bridge recording finished", func() bool { return slices.Contains(f.types(""), "RecordingFinished") })
	if st, m := f.call("GET", "/ari/bridges/"+room, "", nil); st != 200 || str(m, "channels") != "[]" {
		t.Fatalf("the empty bridge: %d %v, want it kept, empty, until deleted", st, m)
	}
	if slices.Contains(f.types(""), "BridgeDestroyed") {
		t.Fatal("BridgeDestroyed before DELETE")
	}
	if st, _ := f.call("DELETE", "/ari/bridges/"+room, "", nil); st != 204 {
		t.Fatalf("delete bridge: %d", st)
	}
	f.waitTrue("BridgeDestroyed", func() bool { return slices.Contains(f.types(""), "BridgeDestroyed") })

	got := emuRP.streams(f.log.snapshot(), emuRP.emuNorm)
	for _, k := range []string{"br:" + room, "rec:" + room} {
		if len(want[k]) == 0 {
			t.Fatalf("no captured stream %s", k)
		}
		if !slices.Equal(got[k], want[k]) {
			t.Errorf("stream %s differs:\n captured: %s\n emulator: %s", k,
				strings.Join(want[k], "\n           "), strings.Join(got[k], "\n           "))
		}
	}

	// The room's recording is stored; deleted, it is gone, and a second
	// delete is a 404 (channel_record's capture).
	if !slices.Contains(f.s.Recordings(), room) {
		t.Fatalf("recordings %v, want %s stored", f.s.Recordings(), room)
	}
	for i, wantSt := range []int{204, 404} {
		if st, _ := f.call("DELETE", "/ari/recordings/stored/"+room, "", nil); st != wantSt {
			t.Errorf("delete #%d: %d, want %d", i+1, st, wantSt)
		}
	}
	if st, _ := f.call("GET", "/ari/recordings/stored/"+room, "", nil); st != 404 {
		t.Errorf("GET of a deleted recording: %d", st)
	}
	if got := f.s.Recordings(); slices.Contains(got, room) {
		t.Errorf("Recordings() still lists the deleted recording: %v", got)
	}
}

// Digits need media: none from a destination still ringing, nor after the
// call ended.
func TestDTMFOnlyWhileAnswered(t *testing.T) {
	f := newFixture(t, Options{}, true)
	f.s.SetDestination("PJSIP/+33612345678@carrier", Behavior{NoAnswer: true})
	a, _ := f.s.Inbound(InboundCall{DID: "15551230001", CallerNumber: "+14155550100"})
	f.waitType(a.ID(), "StasisStart")
	a.SendDTMF("1") // not answered yet
	f.call("POST", "/ari/channels/"+a.ID()+"/answer", "", nil)
	f.call("POST", "/ari/channels", "", map[string]any{"endpoint": "PJSIP/+33612345678@carrier", "app": "vnum",
		"channelId": "leg-b", "timeout": 5})
	f.waitTrue("B rings", func() bool { return slices.Contains(f.types("leg-b"), "ChannelStateChange") })
	b := f.s.Call("leg-b")
	b.SendDTMF("2") // ringing
	b.Answer()
	f.waitType("leg-b", "StasisStart")
	b.SendDTMF("3")
	a.SendDTMF("4")
	f.waitType(a.ID(), "ChannelDtmfReceived")
	f.waitType("leg-b", "ChannelDtmfReceived")
	b.Hangup()
	<-b.Done()
	b.SendDTMF("5") // gone
	time.Sleep(30 * time.Millisecond)
	var digits []string
	for _, e := range f.log.snapshot() {
		if str(e, "type") == "ChannelDtmfReceived" {
			digits = append(digits, str(e, "channel", "id")+":"+str(e, "digit"))
		}
	}
	slices.Sort(digits)
	if want := []string{a.ID() + ":4", "leg-b:3"}; !slices.Equal(digits, want) {
		t.Fatalf("digits %v, want %v", digits, want)
	}
}
