package aritest

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

type fixture struct {
	t    *testing.T
	s    *Server
	log  *eventLog
	ws   *testWS
	rest *restClient
}

func newFixture(t *testing.T, opts Options, connect bool) *fixture {
	t.Helper()
	opts.User, opts.Password = testUser, testPass
	if opts.PlaybackDuration == nil {
		opts.PlaybackDuration = playDurForTests
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, s: s, log: newEventLog(), rest: newRest(s, testUser, testPass)}
	t.Cleanup(func() {
		if f.ws != nil {
			f.ws.Close()
		}
		f.rest.close()
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	if connect {
		f.connect()
	}
	return f
}

func (f *fixture) connect() {
	f.t.Helper()
	ws, err := dialTestWS(f.s, testUser, testPass, "vnum", f.log)
	if err != nil {
		f.t.Fatal(err)
	}
	f.ws = ws
	f.waitTrue("app connected", func() bool { return f.s.Connected("vnum") })
}

func (f *fixture) waitTrue(what string, cond func() bool) {
	f.t.Helper()
	if !f.log.waitFor(2*time.Second, func([]map[string]any) bool { return cond() }) {
		f.t.Fatalf("timed out: %s", what)
	}
}

func (f *fixture) call(method, path, query string, body any) (int, map[string]any) {
	f.t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	st, resp, err := f.rest.do(method, path, query, b)
	if err != nil {
		f.t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(resp, &m)
	return st, m
}

func (f *fixture) types(id string) []string {
	var out []string
	for _, e := range f.log.snapshot() {
		if id == "" || str(e, "channel", "id") == id || str(e, "peer", "id") == id {
			out = append(out, str(e, "type"))
		}
	}
	return out
}

func (f *fixture) waitType(id, typ string) {
	f.t.Helper()
	f.waitTrue(typ+" for "+id, func() bool { return slices.Contains(f.types(id), typ) })
}

func TestNewRequiresCredentials(t *testing.T) {
	if _, err := New(Options{User: "u"}); !errors.Is(err, ErrBadOptions) {
		t.Fatalf("err = %v", err)
	}
}

func TestInboundWithoutAppIsDeclined(t *testing.T) {
	f := newFixture(t, Options{}, false)
	c, err := f.s.Inbound(InboundCall{DID: "15551230001", CallerNumber: "+14155550100"})
	if !errors.Is(err, ErrStasisFailed) {
		t.Fatalf("err = %v", err)
	}
	<-c.Done()
	if c.SIPStatus() != 603 || !c.StasisFailed() || c.Answered() {
		t.Errorf("status %d failed %v", c.SIPStatus(), c.StasisFailed())
	}
	if st, m := f.call("GET", "/ari/applications/vnum", "", nil); st != 404 || m["message"] != "Application not found" {
		t.Errorf("GET app: %d %v", st, m)
	}
	// An app that connected once and went away is inactive: same outcome.
	f.connect()
	f.ws.Close()
	f.ws = nil
	f.waitTrue("app inactive", func() bool { return !f.s.Connected("vnum") })
	if _, err := f.s.Inbound(InboundCall{DID: "15551230001"}); !errors.Is(err, ErrStasisFailed) {
		t.Fatalf("inactive app: err = %v", err)
	}
	if st, _ := f.call("GET", "/ari/applications/vnum", "", nil); st != 200 {
		t.Errorf("inactive app must still exist, got %d", st)
	}
	if len(f.s.Channels()) != 0 {
		t.Errorf("channels left: %+v", f.s.Channels())
	}
}

func TestAuthAndUnknownRoutes(t *testing.T) {
	f := newFixture(t, Options{}, false)
	base := strings.TrimSuffix(f.s.URL(), "/ari")
	for _, tc := range []struct {
		name, url, user, pass string
		status                int
		msg                   string
	}{
		{"no credentials", base + "/ari/asterisk/info", "", "", 401, "Authentication required"},
		{"wrong password", base + "/ari/asterisk/info", testUser, "nope", 401, "Authentication required"},
		{"api_key", base + "/ari/asterisk/info?api_key=" + testUser + ":" + testPass, "", "", 200, ""},
		{"unknown resource", base + "/ari/nosuch", testUser, testPass, 404, "Resource not found"},
		{"unknown channel", base + "/ari/channels/nosuch", testUser, testPass, 404, "Channel not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", tc.url, nil)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := f.rest.hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var m map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&m)
			if resp.StatusCode != tc.status || (tc.msg != "" && m["message"] != tc.msg) {
				t.Errorf("got %d %v", resp.StatusCode, m)
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("no WWW-Authenticate")
			}
		})
	}
	if st, m := f.call("PUT", "/ari/channels", "", nil); st != 405 || m["message"] != "Invalid method" {
		t.Errorf("PUT /channels: %d %v", st, m)
	}
	reqs := f.s.Requests()
	if len(reqs) != 6 || reqs[0].Status != 401 || reqs[2].Query == "" {
		t.Errorf("requests: %+v", reqs)
	}
}

func TestBlockedCallerHearsBusy(t *testing.T) {
	f := newFixture(t, Options{}, true)
	c, err := f.s.Inbound(InboundCall{DID: "15551230001", CallerNumber: "+14155550100"})
	if err != nil {
		t.Fatal(err)
	}
	f.waitType(c.ID(), "StasisStart")
	if st, _ := f.call("POST", "/ari/channels/"+c.ID()+"/ring", "", nil); st != 204 {
		t.Fatalf("ring: %d", st)
	}
	if st, _ := f.call("DELETE", "/ari/channels/"+c.ID(), "reason=busy", nil); st != 204 {
		t.Fatalf("hangup: %d", st)
	}
	<-c.Done()
	if c.SIPStatus() != 486 || c.HangupCause() != 17 || c.Answered() {
		t.Errorf("caller got %d cause %d", c.SIPStatus(), c.HangupCause())
	}
	if got := c.Tones(); !slices.Equal(got, []string{"ring", "busy"}) {
		t.Errorf("tones %v", got)
	}
	f.waitType(c.ID(), "StasisEnd")
	// ring makes no event; ARI DELETE: cause 32 soft; the inbound leg gets no ChannelDestroyed.
	if got := f.types(c.ID()); !slices.Equal(got, []string{"StasisStart", "ChannelHangupRequest", "StasisEnd"}) {
		t.Errorf("events %v", got)
	}
	if st, m := f.call("DELETE", "/ari/channels/"+c.ID(), "reason=bogus", nil); st != 400 {
		t.Errorf("bad reason: %d %v", st, m)
	}
}

func TestCalleeSeesDIDAndHangsUp(t *testing.T) {
	f := newFixture(t, Options{}, true)
	f.s.SetDestination("PJSIP/sip:bob@example.com", Behavior{AnswerAfter: 10 * time.Millisecond, HangupAfter: 50 * time.Millisecond})
	c, _ := f.s.Inbound(InboundCall{DID: "15551230001", CallerNumber: "+14155550100", CallerName: "Real Caller",
		DTMF: []DTMFAt{{Digit: "7", At: 5 * time.Millisecond}}})
	f.waitType(c.ID(), "StasisStart")
	f.call("POST", "/ari/channels/"+c.ID()+"/answer", "", nil)
	f.waitType(c.ID(), "ChannelDtmfReceived")
	st, m := f.call("POST", "/ari/channels", "", map[string]any{"endpoint": "PJSIP/sip:bob@example.com", "app": "vnum",
		"appArgs": "outbound,x", "callerId": `"15551230001" <15551230001>`, "channelId": "bob-1", "originator": c.ID()})
	if st != 200 || m["id"] != "bob-1" || str(m, "caller", "number") != "15551230001" {
		t.Fatalf("originate: %d %v", st, m)
	}
	f.waitType("bob-1", "StasisStart")
	var bob ChannelInfo
	for _, ci := range f.s.Channels() {
		if ci.ID == "bob-1" {
			bob = ci
		}
	}
	if bob.CallerNumber != "15551230001" || bob.CallerName != "15551230001" || bob.Endpoint != "PJSIP/sip:bob@example.com" {
		t.Errorf("callee channel %+v", bob)
	}
	if cs := f.s.CallsTo("PJSIP/sip:bob@example.com"); len(cs) != 1 || cs[0].ID() != "bob-1" {
		t.Fatalf("CallsTo: %v", cs)
	}
	if name, num := f.s.Call("bob-1").CallerID(); num != "15551230001" || name != "15551230001" {
		t.Errorf("far end saw %q <%s>", name, num)
	}
	f.waitType("bob-1", "ChannelDestroyed")
	// No RingEvent: Dial "", ChannelStateChange Up, Dial ANSWER, then the BYE.
	if got := f.types("bob-1"); !slices.Equal(got, []string{"Dial", "ChannelStateChange", "Dial", "StasisStart",
		"ChannelHangupRequest", "StasisEnd", "ChannelDestroyed"}) {
		t.Errorf("events %v", got)
	}
	if f.s.Call("bob-1").HangupCause() != 16 {
		t.Errorf("callee cause %d", f.s.Call("bob-1").HangupCause())
	}
}

func TestOriginateErrors(t *testing.T) {
	f := newFixture(t, Options{}, true)
	for _, tc := range []struct {
		body   map[string]any
		status int
	}{
		{map[string]any{"app": "vnum"}, 400},
		{map[string]any{"endpoint": "nosuch", "app": "vnum"}, 400},
		{map[string]any{"endpoint": "PJSIP/x"}, 400},
		{map[string]any{"endpoint": "PJSIP/x", "app": "vnum", "originator": "nosuch"}, 400},
		{map[string]any{"endpoint": "PJSIP/x", "app": "vnum", "channelId": "dup"}, 200},
		{map[string]any{"endpoint": "PJSIP/x", "app": "vnum", "channelId": "dup"}, 409},
	} {
		if st, m := f.call("POST", "/ari/channels", "", tc.body); st != tc.status || (st >= 400 && m["message"] == nil) {
			t.Errorf("%v: %d %v", tc.body, st, m)
		}
	}
}

func TestWebSocketDropAndReject(t *testing.T) {
	f := newFixture(t, Options{}, true)
	f.s.SetDestination("PJSIP/bob", Behavior{})
	c, _ := f.s.Inbound(InboundCall{DID: "1"})
	f.waitType(c.ID(), "StasisStart")
	f.call("POST", "/ari/channels/"+c.ID()+"/answer", "", nil)
	f.call("POST", "/ari/bridges/b1", "", map[string]any{"type": "mixing"})
	f.call("POST", "/ari/channels", "", map[string]any{"endpoint": "PJSIP/bob", "app": "vnum", "channelId": "bob"})
	f.waitType("bob", "StasisStart")
	f.call("POST", "/ari/bridges/b1/addChannel", "channel="+c.ID()+",bob", nil)
	f.waitType("bob", "ChannelEnteredBridge")

	f.s.SetRejectWebSocket(true)
	f.s.DropWebSocket()
	f.ws.wg.Wait()
	f.ws.Close()
	f.ws = nil
	if f.s.Connected("vnum") {
		t.Fatal("still connected")
	}
	if _, err := dialTestWS(f.s, testUser, testPass, "vnum", f.log); err == nil {
		t.Fatal("reconnect accepted while rejecting")
	}
	if reqs := f.s.Requests(); reqs[len(reqs)-1].Path != "/ari/events" || reqs[len(reqs)-1].Status != 503 {
		t.Fatalf("rejected handshake: %+v", reqs[len(reqs)-1])
	}
	before := len(f.log.snapshot())
	f.s.Call("bob").Hangup() // lost: nobody listening
	if _, err := f.s.Inbound(InboundCall{DID: "1"}); !errors.Is(err, ErrStasisFailed) {
		t.Errorf("new call during the gap: %v", err)
	}
	f.s.SetRejectWebSocket(false)
	f.connect()
	// Nothing is replayed; the bridge survived with the caller alone in it.
	if n := len(f.log.snapshot()); n != before {
		t.Errorf("%d events after reconnect", n-before)
	}
	if bs := f.s.Bridges(); len(bs) != 1 || !slices.Equal(bs[0].Channels, []string{c.ID()}) {
		t.Errorf("bridges %+v", bs)
	}
	st, m := f.call("GET", "/ari/applications/vnum", "", nil)
	if st != 200 || str(m, "channel_ids") != `["`+c.ID()+`"]` || str(m, "bridge_ids") != `["b1"]` {
		t.Errorf("app %d %v", st, m)
	}
	c.Hangup()
	f.waitType(c.ID(), "StasisEnd") // events flow again
}

func TestSubscriptionsAndMessages(t *testing.T) {
	f := newFixture(t, Options{}, true)
	if got := f.s.InboundMessage(`"A" <sip:+1555@x>`, "pjsip:14155550100@127.0.0.1", "hi"); got != 404 {
		t.Errorf("unsubscribed MESSAGE got %d", got)
	}
	for i := 0; i < 2; i++ {
		if st, m := f.call("POST", "/ari/applications/vnum/subscription", "eventSource=endpoint:PJSIP", nil); st != 200 || str(m, "endpoint_ids") != `["PJSIP"]` {
			t.Fatalf("subscribe: %d %v", st, m)
		}
	}
	if got := f.s.InboundMessage(`"A" <sip:+1555@x>`, "pjsip:14155550100@127.0.0.1", "hi"); got != 202 {
		t.Errorf("subscribed MESSAGE got %d", got)
	}
	f.waitTrue("TextMessageReceived", func() bool { return slices.Contains(f.types(""), "TextMessageReceived") })
	for i, want := range []int{200, 200, 422} {
		if st, _ := f.call("DELETE", "/ari/applications/vnum/subscription", "eventSource=endpoint:PJSIP", nil); st != want {
			t.Errorf("unsubscribe %d: %d, want %d", i, st, want)
		}
	}
	if st, _ := f.call("POST", "/ari/applications/vnum/subscription", "eventSource=bogus:x", nil); st != 400 {
		t.Errorf("bad scheme: %d", st)
	}
	if st, _ := f.call("PUT", "/ari/endpoints/sendMessage", "to=pjsip:user-phone/sip:+33612345678@127.0.0.1:5080&from=14155550100&body=yo", nil); st != 202 {
		t.Errorf("sendMessage: %d", st)
	}
	if st, m := f.call("PUT", "/ari/endpoints/sendMessage", "to=pjsip:nosuch&from=1&body=x", nil); st != 404 || m["message"] != "Endpoint not found" {
		t.Errorf("sendMessage nosuch: %d %v", st, m)
	}
	if ms := f.s.Messages(); len(ms) != 1 || ms[0].Body != "yo" || ms[0].From != "14155550100" {
		t.Errorf("messages %+v", ms)
	}
}

func TestRecordingsStopCancelAndFile(t *testing.T) {
	f := newFixture(t, Options{}, true)
	c, _ := f.s.Inbound(InboundCall{DID: "1"})
	f.waitType(c.ID(), "StasisStart")
	f.call("POST", "/ari/channels/"+c.ID()+"/answer", "", nil)
	if st, m := f.call("POST", "/ari/channels/"+c.ID()+"/record", "", map[string]any{"name": "r1", "format": "wav"}); st != 201 || m["state"] != "recording" {
		t.Fatalf("record: %d %v", st, m)
	}
	if st, _ := f.call("POST", "/ari/channels/"+c.ID()+"/record", "", map[string]any{"name": "r1", "format": "wav"}); st != 409 {
		t.Errorf("second record: %d", st)
	}
	if st, _ := f.call("POST", "/ari/recordings/live/r1/stop", "", nil); st != 204 {
		t.Fatalf("stop: %d", st)
	}
	f.call("POST", "/ari/channels/"+c.ID()+"/record", "", map[string]any{"name": "r2", "format": "wav"})
	if st, _ := f.call("DELETE", "/ari/recordings/live/r2", "", nil); st != 204 {
		t.Fatalf("cancel: %d", st)
	}
	if got := f.s.Recordings(); !slices.Equal(got, []string{"r1"}) {
		t.Errorf("recordings %v", got)
	}
	if st, m := f.call("POST", "/ari/channels/"+c.ID()+"/record", "", map[string]any{"name": "r1", "format": "wav"}); st != 409 {
		t.Errorf("ifExists=fail on stored: %d %v", st, m)
	}
	resp, err := f.rest.hc.Get(strings.Replace(f.s.URL(), "http://", "http://"+testUser+":"+testPass+"@", 1) + "/recordings/stored/r1/file")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "audio/wav" {
		t.Errorf("file: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	recStates := func() []string {
		var states []string
		for _, e := range f.log.snapshot() {
			if strings.HasPrefix(str(e, "type"), "Recording") {
				states = append(states, str(e, "type")+":"+str(e, "recording", "state"))
			}
		}
		return states
	}
	f.waitTrue("4 recording events", func() bool { return len(recStates()) >= 4 })
	states := recStates()
	want := []string{"RecordingStarted:recording", "RecordingFinished:done", "RecordingStarted:recording", "RecordingFinished:canceled"}
	if !slices.Equal(states, want) {
		t.Errorf("recording events %v", states)
	}
}

func TestPlaybackQueueAndTones(t *testing.T) {
	f := newFixture(t, Options{}, true)
	c, _ := f.s.Inbound(InboundCall{DID: "1"})
	f.waitType(c.ID(), "StasisStart")
	f.call("POST", "/ari/channels/"+c.ID()+"/play/p1", "", map[string]any{"media": []string{"sound:hello"}})
	if st, m := f.call("POST", "/ari/channels/"+c.ID()+"/play/p2", "", map[string]any{"media": "tone:busy"}); st != 201 || m["state"] != "queued" {
		t.Fatalf("queued play: %d %v", st, m)
	}
	f.waitTrue("p2 playing", func() bool {
		_, m := f.call("GET", "/ari/playbacks/p2", "", nil)
		return m["state"] == "playing"
	})
	if got := c.Tones(); !slices.Equal(got, []string{"busy"}) {
		t.Errorf("tones %v", got)
	}
	if got := c.Played(); !slices.Equal(got, []string{"sound:hello", "tone:busy"}) {
		t.Errorf("played %v", got)
	}
	c.Hangup() // CANCEL: tone playback ends with the channel
	<-c.Done()
	if c.SIPStatus() != 487 || c.HangupCause() != 127 {
		t.Errorf("cancel: %d %d", c.SIPStatus(), c.HangupCause())
	}
	if st, _ := f.call("GET", "/ari/playbacks/p2", "", nil); st != 404 {
		t.Errorf("playback after hangup: %d", st)
	}
}

func TestCloseEndsCallsAndConnections(t *testing.T) {
	s, err := New(Options{User: testUser, Password: testPass})
	if err != nil {
		t.Fatal(err)
	}
	log := newEventLog()
	ws, err := dialTestWS(s, testUser, testPass, "vnum", log)
	if err != nil {
		t.Fatal(err)
	}
	log.waitFor(time.Second, func([]map[string]any) bool { return s.Connected("vnum") })
	c, err := s.Inbound(InboundCall{DID: "1", HangupAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Fatal("call not done after Close")
	}
	ws.wg.Wait() // the server closed the socket
	ws.Close()
	if _, err := s.Inbound(InboundCall{DID: "1"}); !errors.Is(err, ErrClosed) {
		t.Errorf("after close: %v", err)
	}
}

func TestCreateThenDial(t *testing.T) {
	f := newFixture(t, Options{}, true)
	f.s.SetDestination("PJSIP/alice", Behavior{RingEvent: true, AnswerAfter: 10 * time.Millisecond})
	st, m := f.call("POST", "/ari/channels/create", "", map[string]any{"endpoint": "PJSIP/alice", "app": "vnum", "channelId": "a1"})
	if st != 200 || m["state"] != "Down" {
		t.Fatalf("create: %d %v", st, m)
	}
	f.waitType("a1", "StasisStart")
	if st, m := f.call("POST", "/ari/channels/a1/answer", "", nil); st != 412 || m["message"] != "Channel in invalid state" {
		t.Errorf("answer of a Down channel: %d %v", st, m)
	}
	if st, _ := f.call("POST", "/ari/channels/a1/dial", "", map[string]any{"timeout": 5}); st != 204 {
		t.Fatalf("dial: %d", st)
	}
	f.waitTrue("answered", func() bool { return f.s.Call("a1").Answered() })
	f.waitTrue("Dial ANSWER", func() bool { return len(f.types("a1")) == 6 })
	if got := f.types("a1"); !slices.Equal(got, []string{"StasisStart", "Dial", "ChannelStateChange", "Dial", "ChannelStateChange", "Dial"}) {
		t.Errorf("events %v", got)
	}
	if st, _ := f.call("POST", "/ari/channels/a1/dial", "", nil); st != 409 {
		t.Errorf("second dial: %d", st)
	}
}

func TestSubscribeAllAndBridgeMOH(t *testing.T) {
	f := newFixture(t, Options{}, true)
	other := newEventLog()
	ws, err := dialTestWSFunc(f.s, testUser, testPass, "monitor", other.add)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	// without subscribeAll the monitor app sees nothing of vnum's calls
	c, _ := f.s.Inbound(InboundCall{DID: "1"})
	f.waitType(c.ID(), "StasisStart")
	f.call("POST", "/ari/bridges/b1", "", nil)
	if st, _ := f.call("DELETE", "/ari/bridges/b1/moh", "", nil); st != 409 {
		t.Errorf("stop moh not playing: %d", st)
	}
	if st, _ := f.call("POST", "/ari/bridges/b1/moh", "", nil); st != 204 {
		t.Errorf("moh: %d", st)
	}
	time.Sleep(20 * time.Millisecond)
	if n := len(other.snapshot()); n != 0 {
		t.Errorf("monitor got %d events", n)
	}
	ws.Close()
	all, err := dialTestWSFunc(f.s, testUser, testPass, "monitor&subscribeAll=true", other.add)
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	f.waitTrue("monitor connected", func() bool { return f.s.Connected("monitor") })
	c2, _ := f.s.Inbound(InboundCall{DID: "2"})
	if !other.waitFor(time.Second, func(evs []map[string]any) bool { return len(evs) > 0 }) {
		t.Fatal("subscribeAll app got nothing")
	}
	if e := other.snapshot()[0]; str(e, "channel", "id") != c2.ID() || str(e, "application") != "monitor" {
		t.Errorf("monitor event %v", e)
	}
}

func TestHoldingBridgeAndSnoop(t *testing.T) {
	f := newFixture(t, Options{}, true)
	c, _ := f.s.Inbound(InboundCall{DID: "1"})
	f.waitType(c.ID(), "StasisStart")
	f.call("POST", "/ari/channels/"+c.ID()+"/answer", "", nil)
	if st, m := f.call("POST", "/ari/bridges", "", map[string]any{"type": "holding", "bridgeId": "h1"}); st != 200 || m["technology"] != "holding_bridge" || m["bridge_type"] != "holding" {
		t.Fatalf("holding bridge: %d %v", st, m)
	}
	f.call("POST", "/ari/bridges/h1/addChannel", "", map[string]any{"channel": c.ID()})
	f.waitType(c.ID(), "ChannelEnteredBridge")
	if bs := f.s.Bridges(); bs[0].Technology != "holding_bridge" {
		t.Errorf("bridge %+v", bs[0])
	}
	st, m := f.call("POST", "/ari/channels/"+c.ID()+"/snoop/sn1", "", map[string]any{"app": "vnum", "spy": "both", "appArgs": "snoop,x"})
	if st != 200 || m["state"] != "Up" || !strings.HasPrefix(m["name"].(string), "Snoop/"+c.ID()+"-") {
		t.Fatalf("snoop: %d %v", st, m)
	}
	f.waitType("sn1", "StasisStart")
	if st, m := f.call("POST", "/ari/channels/sn1/record", "", map[string]any{"name": "sn1", "format": "wav"}); st != 201 || m["state"] != "queued" {
		t.Errorf("snoop record: %d %v", st, m)
	}
	f.call("DELETE", "/ari/channels/sn1", "", nil)
	f.waitType("sn1", "StasisEnd")
	if got := f.types("sn1"); !slices.Equal(got, []string{"StasisStart", "ChannelHangupRequest", "StasisEnd"}) {
		t.Errorf("snoop events %v (no ChannelDestroyed expected)", got)
	}
	if got := f.s.Recordings(); !slices.Equal(got, []string{"sn1"}) {
		t.Errorf("recordings %v", got)
	}
}

// TestChannelAndBridgeOperations sweeps the remaining REST operations a
// forwarding/recording controller uses and checks what the parties got.
func TestChannelAndBridgeOperations(t *testing.T) {
	f := newFixture(t, Options{}, true)
	f.s.SetDestination("PJSIP/bob", Behavior{NoAnswer: true})
	c, _ := f.s.Inbound(InboundCall{DID: "15551230001", CallerNumber: "+14155550100", CallerName: "Ann"})
	id := c.ID()
	f.waitType(id, "StasisStart")
	if st, m := f.call("GET", "/ari/asterisk/ping", "", nil); st != 200 || m["ping"] != "pong" {
		t.Errorf("ping %d %v", st, m)
	}
	if st, m := f.call("GET", "/ari/channels/"+id, "", nil); st != 200 || str(m, "caller", "number") != "+14155550100" || m["state"] != "Ring" {
		t.Errorf("get channel %d %v", st, m)
	}
	if st, m := f.call("GET", "/ari/channels/"+id+"/variable", "variable=CALLERID(name)", nil); st != 200 || m["value"] != "Ann" {
		t.Errorf("CALLERID(name) %d %v", st, m)
	}
	if st, _ := f.call("GET", "/ari/channels/"+id+"/variable", "variable=NOPE", nil); st != 404 {
		t.Errorf("missing var %d", st)
	}
	if st, _ := f.call("POST", "/ari/channels/"+id+"/variable", "", map[string]any{"variable": "VNUM", "value": "1"}); st != 204 {
		t.Errorf("set var %d", st)
	}
	f.waitType(id, "ChannelVarset")
	if _, m := f.call("GET", "/ari/channels/"+id+"/variable", "variable=VNUM", nil); m["value"] != "1" {
		t.Errorf("VNUM %v", m)
	}
	f.call("POST", "/ari/channels/"+id+"/answer", "", nil)
	f.call("POST", "/ari/channels/"+id+"/dtmf", "", map[string]any{"dtmf": "12"})
	f.call("POST", "/ari/channels/"+id+"/moh", "", nil)
	f.call("DELETE", "/ari/channels/"+id+"/moh", "", nil)
	f.call("POST", "/ari/channels/"+id+"/hold", "", nil)
	f.waitType(id, "ChannelHold")

	// A ringing destination the test answers by hand.
	f.call("POST", "/ari/channels", "", map[string]any{"endpoint": "PJSIP/bob", "app": "vnum", "channelId": "bob", "timeout": -1})
	f.waitType("bob", "Dial")
	if st, m := f.call("POST", "/ari/channels/bob/answer", "", nil); st != 409 {
		t.Errorf("answer a channel not in Stasis: %d %v", st, m)
	}
	f.s.Call("bob").Answer()
	f.waitType("bob", "StasisStart")

	f.call("POST", "/ari/bridges/b1", "", map[string]any{"type": "mixing", "name": "n"})
	if st, _ := f.call("POST", "/ari/bridges/b1/addChannel", "", map[string]any{"channel": []string{id, "bob"}}); st != 204 {
		t.Fatalf("addChannel %d", st)
	}
	if st, m := f.call("GET", "/ari/bridges/b1", "", nil); st != 200 || str(m, "channels") != `["`+id+`","bob"]` {
		t.Errorf("get bridge %d %v", st, m)
	}
	if st, _ := f.call("POST", "/ari/bridges/b1/play/bp", "", map[string]any{"media": "sound:conf-onlyperson"}); st != 201 {
		t.Errorf("bridge play %d", st)
	}
	if st, _ := f.call("POST", "/ari/playbacks/bp/control", "operation=pause", nil); st != 204 {
		t.Errorf("control %d", st)
	}
	if st, _ := f.call("POST", "/ari/playbacks/bp/control", "operation=bogus", nil); st != 400 {
		t.Errorf("bad control %d", st)
	}
	if st, _ := f.call("POST", "/ari/bridges/b1/removeChannel", "", map[string]any{"channel": "bob"}); st != 204 {
		t.Errorf("removeChannel %d", st)
	}
	if st, m := f.call("POST", "/ari/bridges/b1/removeChannel", "", map[string]any{"channel": "bob"}); st != 422 || m["message"] != "Channel not in this bridge" {
		t.Errorf("removeChannel again %d %v", st, m)
	}
	f.waitType("bob", "ChannelLeftBridge")
	if got := f.s.Call("bob").Played(); !slices.Equal(got, []string{"sound:conf-onlyperson"}) {
		t.Errorf("bob heard %v", got)
	}
	if got := c.Played(); !slices.Equal(got, []string{"dtmf:12", "moh", "sound:conf-onlyperson"}) {
		t.Errorf("caller heard %v", got)
	}
	// channel subscriptions from a second app
	other := newEventLog()
	ws, err := dialTestWSFunc(f.s, testUser, testPass, "other", other.add)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	f.waitTrue("other connected", func() bool { return f.s.Connected("other") })
	if st, m := f.call("POST", "/ari/applications/other/subscription", "eventSource=channel:bob", nil); st != 200 || str(m, "channel_ids") != `["bob"]` {
		t.Errorf("subscribe channel %d %v", st, m)
	}
	if st, _ := f.call("POST", "/ari/applications/other/subscription", "eventSource=channel:nosuch", nil); st != 422 {
		t.Errorf("subscribe unknown channel %d", st)
	}
	// continue: no dialplan here, the channel leaves Stasis and is hung up.
	if st, _ := f.call("POST", "/ari/channels/bob/continue", "", nil); st != 204 {
		t.Errorf("continue %d", st)
	}
	if !other.waitFor(time.Second, func(evs []map[string]any) bool {
		return slices.ContainsFunc(evs, func(e map[string]any) bool { return str(e, "type") == "ChannelDestroyed" })
	}) {
		t.Error("subscribed app did not see bob destroyed")
	}
	<-f.s.Call("bob").Done()
	if st, m := f.call("GET", "/ari/endpoints", "", nil); st != 200 || m != nil {
		t.Errorf("endpoints %d", st) // a list: m stays nil
	}
	if st, _ := f.call("GET", "/ari/endpoints/PJSIP/bob", "", nil); st != 200 {
		t.Errorf("endpoint bob %d", st)
	}
	c.Hangup()
	<-c.Done()
	if c.SIPStatus() != 200 || c.HangupCause() != 16 {
		t.Errorf("caller %d %d", c.SIPStatus(), c.HangupCause())
	}
}

func TestStoredRecordingCopy(t *testing.T) {
	f := newFixture(t, Options{}, true)
	c, _ := f.s.Inbound(InboundCall{DID: "1"})
	f.waitType(c.ID(), "StasisStart")
	f.call("POST", "/ari/channels/"+c.ID()+"/answer", "", nil)
	f.call("POST", "/ari/channels/"+c.ID()+"/record", "", map[string]any{"name": "vm", "format": "wav", "terminateOn": "#"})
	c.SendDTMF("#")
	f.waitTrue("stored", func() bool { return slices.Equal(f.s.Recordings(), []string{"vm"}) })
	if st, m := f.call("POST", "/ari/recordings/stored/vm/copy", "", map[string]any{"destinationRecordingName": "vm2"}); st != 200 || m["name"] != "vm2" {
		t.Errorf("copy %d %v", st, m)
	}
	if st, _ := f.call("POST", "/ari/recordings/stored/vm/copy", "", map[string]any{"destinationRecordingName": "vm2"}); st != 409 {
		t.Errorf("copy onto existing %d", st)
	}
	if st, _ := f.call("POST", "/ari/channels/"+c.ID()+"/record", "", map[string]any{"name": "x", "format": "mp9"}); st != 422 {
		t.Errorf("unknown format %d", st)
	}
	if st, _ := f.call("POST", "/ari/channels/"+c.ID()+"/record", "", map[string]any{"name": "x", "format": "wav", "terminateOn": "5"}); st != 400 {
		t.Errorf("bad terminateOn %d", st)
	}
}
