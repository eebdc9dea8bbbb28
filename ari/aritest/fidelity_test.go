package aritest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// The fidelity tests replay captures of a real Asterisk 22.10.1
// (testdata/*.timeline.jsonl, copied verbatim from ../shared/asterisk): the
// REST calls the lab app made are sent to the emulator in the captured order,
// the outside world (carrier calls, BYE, CANCEL, DTMF, SMS) is simulated at
// the moments the capture shows them, and the emulator's event stream is
// compared with the captured one.
//
// Comparison: ChannelVarset events are ignored (the emulator does not
// produce Asterisk's ~35 per call). Ids and timestamps are normalised
// (inbound channel ids become in1, in2...; ids the app chose are kept).
// Events are compared per entity (each channel, bridge, recording,
// playback): type, order and key fields (state, args, causes, dial status,
// bridge id/technology/members, connected line, digits, recording and
// playback names and states) plus the set of JSON keys of the event and of
// its channel object. The global interleaving of different channels' events
// is not compared: it varies between runs on a real Asterisk as well. REST
// calls must get the captured status code and the same JSON keys.

type tlRecord struct {
	Seq          int             `json:"seq"`
	Ts           time.Time       `json:"ts"`
	Kind         string          `json:"kind"`
	Event        map[string]any  `json:"event"`
	Method       string          `json:"method"`
	Path         string          `json:"path"`
	Query        string          `json:"query"`
	RequestBody  json.RawMessage `json:"request_body"`
	Status       int             `json:"status"`
	ResponseBody json.RawMessage `json:"response_body"`
}

func loadTimeline(t *testing.T, name string) []tlRecord {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name+".timeline.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tlRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var r tlRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	// Causal order: request start for REST, receipt for events.
	sort.SliceStable(out, func(i, j int) bool { return out[i].Ts.Before(out[j].Ts) })
	return out
}

type scenario struct {
	name             string
	dest             Behavior
	timerB           time.Duration
	originateTimeout int // rewrite the originate timeout (seconds), 0 keeps it
	noWS             bool
	hooks            map[int]func(rp *replay) // run before the record with this seq
}

const testUser, testPass = "vnum", "s3cret"

var ringing = Behavior{RingEvent: true, AnswerAfter: 30 * time.Millisecond}

func dropAndReconnect(hangupCallee string) func(rp *replay) {
	return func(rp *replay) {
		rp.s.DropWebSocket()
		rp.ws.wg.Wait()
		rp.ws.Close()
		if hangupCallee != "" {
			rp.s.Call(hangupCallee).Hangup()
		}
		time.Sleep(20 * time.Millisecond)
		ws, err := dialTestWS(rp.s, testUser, testPass, "vnum", rp.log)
		if err != nil {
			rp.t.Fatalf("reconnect: %v", err)
		}
		rp.ws = ws
		if !rp.log.waitFor(time.Second, func([]map[string]any) bool { return rp.s.Connected("vnum") }) {
			rp.t.Fatal("app not connected after reconnect")
		}
	}
}

var scenarios = []scenario{
	{name: "a_caller_hangup", dest: ringing},
	{name: "b_callee_hangup", dest: ringing},
	{name: "c_busy", dest: Behavior{Busy: true}},
	{name: "c_noanswer", dest: Behavior{NoAnswer: true}, originateTimeout: 1},
	{name: "c_noresponse", dest: Behavior{NoResponse: true}, originateTimeout: 1, timerB: 3 * time.Second},
	{name: "c_sip_timeout", dest: Behavior{NoResponse: true}, timerB: 300 * time.Millisecond},
	{name: "d_dtmf", dest: ringing},
	{name: "e_conference", dest: ringing},
	{name: "ring_then_answer", dest: ringing},
	{name: "early_hangup", dest: Behavior{NoAnswer: true}},
	{name: "ws_drop_midcall", dest: ringing, hooks: map[int]func(*replay){31: dropAndReconnect("")}},
	{name: "ws_drop_hangup_while_down", dest: ringing, hooks: map[int]func(*replay){31: dropAndReconnect("out-call-9133-1")}},
	{name: "playback_and_dtmf", dest: ringing},
	{name: "channel_record", dest: ringing},
	{name: "snoop_record", dest: ringing},
	{name: "x_addchannel_comma_string", dest: ringing},
	{name: "x_addchannel_query", dest: ringing},
	{name: "app_absent", noWS: true},
	{name: "sms", dest: ringing},
}

type replay struct {
	t      *testing.T
	s      *Server
	log    *eventLog
	ws     *testWS
	rest   *restClient
	capIDs map[string]string // captured inbound id -> role
	emuIDs map[string]string // emulator inbound id -> role
	toEmu  map[string]string // captured inbound id -> emulator id
}

func (rp *replay) capNorm(s string) string { return replaceIDs(s, rp.capIDs) }
func (rp *replay) emuNorm(s string) string { return replaceIDs(s, rp.emuIDs) }

func replaceIDs(s string, m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return len(keys[i]) > len(keys[j]) })
	for _, k := range keys {
		s = strings.ReplaceAll(s, k, m[k])
	}
	return s
}

func (rp *replay) toEmulator(s string) string { return replaceIDs(s, rp.toEmu) }

func TestFidelity(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			runScenario(t, sc)
		})
	}
}

func playDurForTests(uri string) time.Duration {
	switch uri {
	case "sound:vnum-ivr-menu":
		return 10 * time.Second
	case "sound:beep":
		return 20 * time.Millisecond
	}
	return 100 * time.Millisecond
}

func runScenario(t *testing.T, sc scenario) {
	recs := loadTimeline(t, sc.name)
	s, err := New(Options{User: testUser, Password: testPass, TimerB: sc.timerB, PlaybackDuration: playDurForTests})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDefaultDestination(sc.dest)
	rp := &replay{t: t, s: s, log: newEventLog(), rest: newRest(s, testUser, testPass),
		capIDs: map[string]string{}, emuIDs: map[string]string{}, toEmu: map[string]string{}}
	defer rp.rest.close()
	if !sc.noWS {
		rp.ws, err = dialTestWS(s, testUser, testPass, "vnum", rp.log)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { rp.ws.Close() }()
		if !rp.log.waitFor(time.Second, func([]map[string]any) bool { return s.Connected("vnum") }) {
			t.Fatal("app not connected")
		}
	}

	var want []map[string]any
	for _, r := range recs {
		if h := sc.hooks[r.Seq]; h != nil {
			h(rp)
		}
		switch r.Kind {
		case "rest":
			rp.doREST(r, sc)
		case "ws_event":
			if r.Event["type"] == "ChannelVarset" {
				continue
			}
			rp.stimulus(r.Event)
			want = append(want, r.Event)
			wantStreams := rp.streams(want, rp.capNorm)
			ok := rp.log.waitFor(2*time.Second, func(got []map[string]any) bool {
				gs := rp.streams(got, rp.emuNorm)
				for k, v := range wantStreams {
					if len(gs[k]) < len(v) {
						return false
					}
				}
				return true
			})
			if !ok {
				t.Errorf("seq %d: timed out waiting for %s", r.Seq, rp.capNorm(normEvent(r.Event)))
			}
		}
	}
	// Let stragglers arrive, then compare the complete streams.
	time.Sleep(100 * time.Millisecond)
	ws := rp.streams(want, rp.capNorm)
	gs := rp.streams(rp.log.snapshot(), rp.emuNorm)
	keys := map[string]bool{}
	for k := range ws {
		keys[k] = true
	}
	for k := range gs {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !slices.Equal(ws[k], gs[k]) {
			t.Errorf("stream %s differs:\n captured: %s\n emulator: %s", k,
				strings.Join(ws[k], "\n           "), strings.Join(gs[k], "\n           "))
		}
	}
}

func (rp *replay) stimulus(ev map[string]any) {
	typ, _ := ev["type"].(string)
	ch, _ := ev["channel"].(map[string]any)
	id, _ := ch["id"].(string)
	switch typ {
	case "StasisStart":
		dp, _ := ch["dialplan"].(map[string]any)
		if dp["context"] != "from-carrier" {
			return
		}
		caller, _ := ch["caller"].(map[string]any)
		var args []string
		for _, a := range ev["args"].([]any) {
			args = append(args, a.(string))
		}
		call, err := rp.s.Inbound(InboundCall{DID: dp["exten"].(string), CallerNumber: caller["number"].(string),
			CallerName: caller["name"].(string), Args: args})
		if err != nil {
			rp.t.Fatalf("Inbound: %v", err)
		}
		role := fmt.Sprintf("in%d", len(rp.capIDs)+1)
		rp.capIDs[id] = role
		rp.emuIDs[call.ID()] = role
		rp.toEmu[id] = call.ID()
	case "ChannelHangupRequest":
		if c, has := ev["cause"]; has && c.(float64) != 127 {
			return
		}
		if call := rp.s.Call(rp.toEmulator(id)); call != nil {
			call.Hangup()
		} else {
			rp.t.Errorf("no call for %s", id)
		}
	case "ChannelDtmfReceived":
		if call := rp.s.Call(rp.toEmulator(id)); call != nil {
			call.SendDTMF(ev["digit"].(string))
		}
	case "TextMessageReceived":
		m := ev["message"].(map[string]any)
		rp.s.InboundMessage(m["from"].(string), m["to"].(string), m["body"].(string))
	}
}

func (rp *replay) doREST(r tlRecord, sc scenario) {
	var body []byte
	if len(r.RequestBody) > 0 && !bytes.Equal(r.RequestBody, []byte("null")) {
		var str string
		if json.Unmarshal(r.RequestBody, &str) == nil {
			body = []byte(str)
		} else {
			body = r.RequestBody
		}
		if sc.originateTimeout > 0 && r.Method == "POST" && r.Path == "/ari/channels" {
			var m map[string]any
			if json.Unmarshal(body, &m) == nil {
				m["timeout"] = sc.originateTimeout
				body, _ = json.Marshal(m)
			}
		}
		body = []byte(rp.toEmulator(string(body)))
	}
	path := rp.toEmulator(r.Path)
	query := rp.toEmulator(r.Query)
	status, resp, err := rp.rest.do(r.Method, path, query, body)
	if err != nil {
		rp.t.Errorf("seq %d %s %s: %v", r.Seq, r.Method, path, err)
		return
	}
	what := fmt.Sprintf("seq %d %s %s?%s %s", r.Seq, r.Method, r.Path, r.Query, body)
	if status != r.Status {
		rp.t.Errorf("%s: status %d, captured %d (body %s)", what, status, r.Status, resp)
		return
	}
	if len(r.ResponseBody) == 0 || bytes.Equal(r.ResponseBody, []byte("null")) {
		if len(bytes.TrimSpace(resp)) != 0 {
			rp.t.Errorf("%s: body %s, captured none", what, resp)
		}
		return
	}
	if ws, gs := jsonShape(r.ResponseBody, !strings.Contains(r.Path, "/recordings/stored")), jsonShape(resp, !strings.Contains(r.Path, "/recordings/stored")); ws != gs {
		rp.t.Errorf("%s: response shape\n captured %s\n emulator %s (%s)", what, ws, gs, resp)
	}
}

// jsonShape describes a JSON value by its keys (objects), or length and
// first element (arrays).
func jsonShape(b []byte, withLen bool) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return "invalid:" + err.Error()
	}
	switch x := v.(type) {
	case map[string]any:
		return "{" + strings.Join(sortedKeys(x), ",") + "}"
	case []any:
		s := "["
		if withLen {
			s += fmt.Sprint(len(x))
		}
		if len(x) > 0 {
			fb, _ := json.Marshal(x[0])
			s += " " + jsonShape(fb, withLen)
		}
		return s + "]"
	}
	return fmt.Sprintf("%T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	if cur == nil {
		return ""
	}
	if f, ok := cur.(float64); ok {
		return fmt.Sprint(f)
	}
	if s, ok := cur.(string); ok {
		return s
	}
	b, _ := json.Marshal(cur)
	return string(b)
}

// normEvent renders the compared part of an event.
func normEvent(e map[string]any) string {
	typ := str(e, "type")
	parts := []string{typ}
	add := func(k, v string) { parts = append(parts, k+"="+v) }
	switch typ {
	case "StasisStart":
		add("args", str(e, "args"))
		add("state", str(e, "channel", "state"))
	case "StasisEnd", "ChannelStateChange":
		add("state", str(e, "channel", "state"))
	case "Dial":
		add("dialstatus", str(e, "dialstatus"))
		add("state", str(e, "peer", "state"))
	case "ChannelHangupRequest":
		add("cause", str(e, "cause"))
		add("tech_cause", str(e, "tech_cause"))
		add("soft", str(e, "soft"))
		add("state", str(e, "channel", "state"))
	case "ChannelDestroyed":
		add("cause", str(e, "cause"))
		add("cause_txt", str(e, "cause_txt"))
		add("tech_cause", str(e, "tech_cause"))
		add("state", str(e, "channel", "state"))
	case "ChannelEnteredBridge", "ChannelLeftBridge", "BridgeDestroyed":
		add("bridge", str(e, "bridge", "id"))
		add("tech", str(e, "bridge", "technology"))
		var members []string
		if l, ok := e["bridge"].(map[string]any)["channels"].([]any); ok {
			for _, m := range l {
				members = append(members, m.(string))
			}
		}
		add("members", strings.Join(members, ","))
		if typ != "BridgeDestroyed" {
			add("chan", str(e, "channel", "id"))
		}
	case "ChannelConnectedLine":
		add("connected", str(e, "channel", "connected"))
	case "ChannelDtmfReceived":
		add("digit", str(e, "digit"))
	case "RecordingStarted", "RecordingFinished":
		add("name", str(e, "recording", "name"))
		add("state", str(e, "recording", "state"))
		add("target", str(e, "recording", "target_uri"))
		if r, ok := e["recording"].(map[string]any); ok {
			add("keys", strings.Join(sortedKeys(r), ","))
		}
	case "PlaybackStarted", "PlaybackFinished":
		add("id", str(e, "playback", "id"))
		add("media", str(e, "playback", "media_uri"))
		add("state", str(e, "playback", "state"))
		add("target", str(e, "playback", "target_uri"))
	case "TextMessageReceived":
		add("body", str(e, "message", "body"))
		add("endpoint", str(e, "endpoint", "resource"))
	}
	add("keys", strings.Join(sortedKeys(e), ","))
	if ch, ok := e["channel"].(map[string]any); ok {
		add("chankeys", strings.Join(sortedKeys(ch), ","))
	}
	return strings.Join(parts, " ")
}

// streams groups normalised events per entity.
func (rp *replay) streams(evs []map[string]any, norm func(string) string) map[string][]string {
	out := map[string][]string{}
	for _, e := range evs {
		typ := str(e, "type")
		if typ == "ChannelVarset" {
			continue
		}
		n := norm(normEvent(e))
		var keys []string
		switch {
		case typ == "Dial":
			keys = []string{"ch:" + norm(str(e, "peer", "id"))}
		case strings.HasPrefix(typ, "Recording"):
			keys = []string{"rec:" + norm(str(e, "recording", "name"))}
		case strings.HasPrefix(typ, "Playback"):
			keys = []string{"pb:" + norm(str(e, "playback", "id"))}
		case typ == "BridgeDestroyed":
			keys = []string{"br:" + str(e, "bridge", "id")}
		case typ == "TextMessageReceived":
			keys = []string{"msg"}
		default:
			keys = []string{"ch:" + norm(str(e, "channel", "id"))}
			if _, ok := e["bridge"]; ok {
				keys = append(keys, "br:"+str(e, "bridge", "id"))
			}
		}
		for _, k := range keys {
			out[k] = append(out[k], n)
		}
	}
	// Asterisk sends a destination's Dial RINGING and its ChannelStateChange
	// Ringing in either order (compare c_noanswer with early_hangup).
	for k, l := range out {
		for i := 0; i+1 < len(l); i++ {
			if strings.HasPrefix(l[i], "Dial dialstatus=RINGING") && strings.HasPrefix(l[i+1], "ChannelStateChange state=Ringing") {
				l[i], l[i+1] = l[i+1], strings.Replace(l[i], " state=Down ", " state=Ringing ", 1)
			}
		}
		out[k] = l
	}
	return out
}
