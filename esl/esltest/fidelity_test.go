package esltest_test

// Fidelity of the emulator against a real FreeSWITCH 1.10.12.
//
// Each test replays one controller connection captured in the lab
// (testdata/*.ctl2fs.raw, copied from ../shared/freeswitch/fixtures*):
// the same command bytes are sent to the emulator, with the captured
// channel UUID replaced by the emulator's, and the frames that come back
// are compared with what FreeSWITCH sent (testdata/*.fs2ctl.raw).
//
// Compared, in order and exactly:
//   - the reply frames: Content-Type, Reply-Text / body (UUIDs replaced by
//     "<uuid>"; the `status` body only on its first word);
//   - the event frames: Content-Type, Event-Name, which channel (by order
//     of first appearance), Hangup-Cause, variable_originate_disposition,
//     Caller-Caller-ID-Number, BACKGROUND_JOB body;
//   - Job-UUID pairing: every bgapi reply's Job-UUID has exactly one
//     BACKGROUND_JOB, and it comes after the reply;
//   - that every "header that matters" FreeSWITCH put in an event is also
//     in the emulator's (see mattering);
//   - the first frame (auth/request) and the end (+OK bye,
//     text/disconnect-notice with the same 67-byte body, then EOF).
//
// Not compared, on purpose:
//   - how replies and events interleave with each other. In the captures
//     FreeSWITCH's event thread delivered e.g. the CHANNEL_ANSWER caused by
//     `api uuid_answer` after the replies to three later pipelined
//     commands; the emulator sends a command's events right after its
//     reply. Both orders are legal and a client must accept either.
//   - BACKGROUND_JOBs of other connections' bgapi (events are global;
//     conn1 of the captures saw conn2's `bgapi version`).
//   - the full header set: FreeSWITCH sends 120-200 headers per channel
//     event, the emulator about 40 plus the channel variables.
//
// Result when written (all subtests pass): replies, events, Job-UUID
// pairing and the mattering headers are identical for a_caller_hangup,
// b_callee_hangup, c1_busy, c2_noanswer, g_errors (conn1, conn2),
// caller_name_injection_3, caller_name_escaping (13 originates, each
// caller-ID name as FreeSWITCH parsed it, t11's missing INVITE included)
// and inbound_drop_midcall conn2 (show channels as json row set,
// uuid_exists, uuid_getvar, the hang-up order with the B-leg first).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/esl/esltest"
)

const labPassword = "ClueCon-vnum"

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// mattering are the headers a controller relies on.
var mattering = []string{"Event-Name", "Unique-ID", "Caller-Caller-ID-Number", "Caller-Caller-ID-Name",
	"Caller-Destination-Number", "Call-Direction", "Answer-State", "Hangup-Cause", "Other-Leg-Unique-ID",
	"Job-UUID", "Job-Command", "Bridge-A-Unique-ID", "Bridge-B-Unique-ID", "Record-File-Path",
	"variable_vnum_did", "variable_originate_disposition", "variable_DIALSTATUS", "variable_last_bridge_hangup_cause",
	"variable_effective_caller_id_number", "variable_hangup_after_bridge", "variable_vnum_sentinel", "DTMF-Digit"}

func readFrames(t *testing.T, data []byte) []*eslconn.Frame {
	t.Helper()
	var out []*eslconn.Frame
	fr := eslconn.NewFrameReader(bytes.NewReader(data), 0)
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
}

// splitCommands splits a controller's byte stream into command packets
// (blank-line terminated; "\r\n\r\n" from goesl too).
func splitCommands(data []byte) []string {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	var out []string
	for _, p := range strings.Split(s, "\n\n") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// stream is what one connection received, reduced for comparison.
type stream struct {
	replies []string
	events  []string
	jobs    []string // Job-UUIDs of bgapi replies, in order
	jobEvs  map[string]int
	evs     []eslconn.Event
	first   string
	tail    []string
}

func reduce(t *testing.T, frames []*eslconn.Frame, foreignJobsOK bool) stream {
	t.Helper()
	st := stream{jobEvs: map[string]int{}}
	roles := map[string]string{}
	role := func(id string) string {
		if id == "" {
			return "-"
		}
		if r, ok := roles[id]; ok {
			return r
		}
		roles[id] = fmt.Sprintf("L%d", len(roles)+1)
		return roles[id]
	}
	ours := map[string]bool{}
	for i, f := range frames {
		ct := f.ContentType()
		if i == 0 {
			st.first = ct
		}
		switch ct {
		case eslconn.TypeCommandReply:
			rt := f.Get("Reply-Text")
			if j := f.Get("Job-UUID"); j != "" {
				st.jobs = append(st.jobs, j)
				ours[j] = true
			}
			st.replies = append(st.replies, ct+" "+uuidRE.ReplaceAllString(rt, "<uuid>"))
		case eslconn.TypeAPIResponse:
			body := uuidRE.ReplaceAllString(string(f.Body), "<uuid>")
			if strings.HasPrefix(body, "UP ") {
				body = "UP ..."
			}
			if strings.HasPrefix(body, `{"row_count"`) {
				body = "show-json"
			}
			st.replies = append(st.replies, ct+" "+body)
		case eslconn.TypeEventJSON, eslconn.TypeEventPlain:
			ev, err := eslconn.ParseEvent(f)
			if err != nil {
				t.Fatal(err)
			}
			if ev.Name == "BACKGROUND_JOB" {
				j := ev.Headers["Job-UUID"]
				if !ours[j] {
					if !foreignJobsOK {
						t.Errorf("BACKGROUND_JOB %s before its reply or for another connection", j)
					}
					continue
				}
				st.jobEvs[j]++
			}
			st.evs = append(st.evs, ev)
			st.events = append(st.events, fmt.Sprintf("%s %s %s cause=%s disp=%s cid=%s body=%q", ct, ev.Name,
				role(ev.Headers["Unique-ID"]), ev.Headers["Hangup-Cause"], ev.Headers["variable_originate_disposition"],
				ev.Headers["Caller-Caller-ID-Number"], uuidRE.ReplaceAllString(ev.Body, "<uuid>")))
		default:
			st.replies = append(st.replies, ct+" "+string(f.Body))
		}
	}
	for _, f := range frames[max(0, len(frames)-2):] {
		st.tail = append(st.tail, f.ContentType()+" "+f.Get("Reply-Text")+string(f.Body))
	}
	return st
}

func compare(t *testing.T, want, got stream) {
	t.Helper()
	if got.first != want.first {
		t.Errorf("first frame %q, FreeSWITCH %q", got.first, want.first)
	}
	diff := func(what string, w, g []string) {
		n := max(len(w), len(g))
		bad := 0
		for i := 0; i < n; i++ {
			var a, b string
			if i < len(w) {
				a = w[i]
			}
			if i < len(g) {
				b = g[i]
			}
			mark := "  "
			if a != b {
				mark, bad = "!=", bad+1
			}
			t.Logf("%s %2d FS:  %s", mark, i, a)
			if a != b {
				t.Logf("%s %2d EMU: %s", mark, i, b)
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d differ", what, bad, n)
		}
	}
	t.Logf("replies:")
	diff("replies", want.replies, got.replies)
	t.Logf("events:")
	diff("events", want.events, got.events)
	for _, j := range got.jobs {
		if got.jobEvs[j] != 1 {
			t.Errorf("Job-UUID %s: %d BACKGROUND_JOB events", j, got.jobEvs[j])
		}
	}
	if len(got.jobs) != len(want.jobs) {
		t.Errorf("%d bgapi replies, FreeSWITCH %d", len(got.jobs), len(want.jobs))
	}
	for i := range min(len(want.evs), len(got.evs)) {
		for _, h := range mattering {
			if _, ok := want.evs[i].Headers[h]; ok {
				if _, ok := got.evs[i].Headers[h]; !ok {
					t.Errorf("event %d %s: header %s missing", i, got.evs[i].Name, h)
				}
			}
		}
	}
	if strings.Join(got.tail, "|") != strings.Join(want.tail, "|") {
		t.Errorf("end of stream %q, FreeSWITCH %q", got.tail, want.tail)
	}
}

// rawConn is a controller speaking raw bytes.
type rawConn struct {
	t      *testing.T
	nc     net.Conn
	frames chan *eslconn.Frame
	all    []*eslconn.Frame
}

func rawDial(t *testing.T, s *esltest.Server) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	rc := &rawConn{t: t, nc: nc, frames: make(chan *eslconn.Frame, 1000)}
	go func() {
		defer close(rc.frames)
		fr := eslconn.NewFrameReader(nc, 0)
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			rc.frames <- f
		}
	}()
	t.Cleanup(func() {
		_ = nc.Close()
		for range rc.frames {
		}
	})
	return rc
}

func (rc *rawConn) send(cmd string) {
	if _, err := io.WriteString(rc.nc, cmd); err != nil {
		rc.t.Fatal(err)
	}
}

// until reads frames until match returns true (or EOF when match is nil).
func (rc *rawConn) until(match func(*eslconn.Frame) bool) {
	rc.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case f, ok := <-rc.frames:
			if !ok {
				if match != nil {
					rc.t.Fatal("connection closed early")
				}
				return
			}
			rc.all = append(rc.all, f)
			if match != nil && match(f) {
				return
			}
		case <-timeout:
			rc.t.Fatal("timeout waiting for a frame")
		}
	}
}

func isEvent(name, uuid string) func(*eslconn.Frame) bool {
	return func(f *eslconn.Frame) bool {
		ct := f.ContentType()
		if ct != eslconn.TypeEventJSON && ct != eslconn.TypeEventPlain {
			return false
		}
		ev, err := eslconn.ParseEvent(f)
		return err == nil && ev.Name == name && (uuid == "" || ev.Headers["Unique-ID"] == uuid)
	}
}

func isReply(f *eslconn.Frame) bool {
	return f.ContentType() == eslconn.TypeCommandReply || f.ContentType() == eslconn.TypeAPIResponse
}

func load(t *testing.T, name string) (cmds []string, want []*eslconn.Frame) {
	t.Helper()
	c, err := os.ReadFile("testdata/" + name + ".ctl2fs.raw")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.ReadFile("testdata/" + name + ".fs2ctl.raw")
	if err != nil {
		t.Fatal(err)
	}
	return splitCommands(c), readFrames(t, f)
}

// capturedALeg is the first channel UUID in the captured events.
func capturedALeg(t *testing.T, frames []*eslconn.Frame) string {
	for _, f := range frames {
		if isEvent("CHANNEL_CREATE", "")(f) {
			ev, _ := eslconn.ParseEvent(f)
			return ev.Headers["Unique-ID"]
		}
	}
	t.Fatal("no CHANNEL_CREATE in capture")
	return ""
}

func newLab(t *testing.T) *esltest.Server {
	t.Helper()
	s, err := esltest.New(esltest.Options{Password: labPassword})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestFidelityInboundCalls replays the goesl probe of fixtures a–c: the
// call arrives parked, the probe answers (not in c1/c2), sets variables,
// records and bridges with `bgapi uuid_transfer ... inline`.
func TestFidelityInboundCalls(t *testing.T) {
	const user = "sofia/lab/user@127.0.0.1:5082"
	tests := []struct {
		name     string
		behavior esltest.Behavior
		hangup   bool // the caller hangs up once bridged
	}{
		{"a_caller_hangup", esltest.Behavior{After: 20 * time.Millisecond}, true},
		{"b_callee_hangup", esltest.Behavior{After: 20 * time.Millisecond, HangupAfter: 30 * time.Millisecond}, false},
		{"c1_busy", esltest.Behavior{Outcome: esltest.Busy, After: 20 * time.Millisecond}, false},
		{"c2_noanswer", esltest.Behavior{Outcome: esltest.NoAnswer, After: 50 * time.Millisecond}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmds, want := load(t, tt.name+".conn1")
			capA := capturedALeg(t, want)
			s := newLab(t)
			s.SetDestination(user, tt.behavior)
			rc := rawDial(t, s)
			rc.until(func(f *eslconn.Frame) bool { return f.ContentType() == eslconn.TypeAuthRequest })
			rc.send(cmds[0] + "\n\n") // auth
			rc.until(isReply)
			rc.send(cmds[1] + "\n\n") // event json ...
			rc.until(isReply)
			call, err := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "15550009999", CallerName: "Carrier Caller"})
			if err != nil {
				t.Fatal(err)
			}
			rc.until(isEvent("CHANNEL_PARK", call.UUID()))
			var batch strings.Builder // pipelined, like the probe
			for _, c := range cmds[2 : len(cmds)-1] {
				batch.WriteString(strings.ReplaceAll(c, capA, call.UUID()) + "\r\n\r\n")
			}
			rc.send(batch.String())
			if tt.hangup {
				rc.until(isEvent("CHANNEL_BRIDGE", call.UUID()))
				if err := call.Hangup(""); err != nil {
					t.Fatal(err)
				}
			}
			rc.until(isEvent("CHANNEL_HANGUP_COMPLETE", call.UUID()))
			rc.send(cmds[len(cmds)-1] + "\r\n\r\n") // exit
			rc.until(nil)
			compare(t, reduce(t, want, true), reduce(t, rc.all, false))
			if inj := s.Injected(); len(inj) != 0 {
				t.Errorf("well-formed commands flagged: %q", inj)
			}
		})
	}
}

// TestFidelityErrors replays fixture g: a wrong password (conn1) and bad
// commands (conn2).
func TestFidelityErrors(t *testing.T) {
	t.Run("wrong_password", func(t *testing.T) {
		cmds, want := load(t, "g_errors.conn1")
		s := newLab(t)
		rc := rawDial(t, s)
		rc.send(cmds[0] + "\n\n")
		rc.until(nil)
		compare(t, reduce(t, want, false), reduce(t, rc.all, false))
	})
	t.Run("bad_commands", func(t *testing.T) {
		cmds, want := load(t, "g_errors.conn2")
		s := newLab(t)
		rc := rawDial(t, s)
		for _, c := range cmds {
			rc.send(c + "\n\n")
			rc.until(isReply)
			if strings.HasPrefix(c, "bgapi") {
				rc.until(isEvent("BACKGROUND_JOB", ""))
			}
		}
		compare(t, reduce(t, want, false), reduce(t, rc.all, false))
	})
}

// TestFidelityCallerNameEscaping replays the 13 originates of
// fixtures2/caller_name_escaping: the emulator must parse every variable
// block as FreeSWITCH did (checked through the B-leg CHANNEL_CREATE's
// Caller-Caller-ID-Name), fail t1 like it, and never send t11's INVITE.
func TestFidelityCallerNameEscaping(t *testing.T) {
	cmds, want := load(t, "caller_name_escaping.conn1")
	s := newLab(t)
	rc := rawDial(t, s)
	for _, c := range cmds {
		rc.send(c + "\n\n")
		rc.until(isReply)
		if !strings.HasPrefix(c, "bgapi originate") {
			continue
		}
		// Wait for the job, or give up after a while (t11 never completes).
		timeout := time.After(300 * time.Millisecond)
	wait:
		for {
			select {
			case f := <-rc.frames:
				rc.all = append(rc.all, f)
				if isEvent("BACKGROUND_JOB", "")(f) {
					break wait
				}
			case <-timeout:
				break wait
			}
		}
	}
	rc.until(nil)
	w, g := reduce(t, want, false), reduce(t, rc.all, false)
	compare(t, w, g)
	names := func(st stream) (out []string) {
		for _, ev := range st.evs {
			if ev.Name == "CHANNEL_CREATE" {
				out = append(out, ev.Headers["variable_vnum_sentinel"]+"="+ev.Headers["Caller-Caller-ID-Name"])
			}
		}
		return out
	}
	wn, gn := names(w), names(g)
	t.Logf("caller-ID names as parsed (sentinel=name): FreeSWITCH %q", wn)
	if strings.Join(wn, "|") != strings.Join(gn, "|") {
		t.Errorf("emulator parsed %q", gn)
	}
	if len(s.Injected()) == 0 {
		t.Error("t1/t3/t4/t8/t12 (item without '=' or duplicate variable) not flagged")
	}
}

// TestFidelityInjection replays fixtures2/caller_name_injection_3: a naive
// controller pasted a caller name with a blank line into its commands and
// FreeSWITCH ran the rest as extra commands. The emulator must answer the
// same frames and flag those commands in Injected().
func TestFidelityInjection(t *testing.T) {
	cmds, want := load(t, "caller_name_injection_3.conn1")
	capA := capturedALeg(t, want)
	s := newLab(t)
	rc := rawDial(t, s)
	rc.send(cmds[0] + "\n\n")
	rc.until(isReply)
	rc.send(cmds[1] + "\n\n")
	rc.until(isReply)
	call, err := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "15550009999", CallerName: "Evil\n\napi eval INJECTED"})
	if err != nil {
		t.Fatal(err)
	}
	rc.until(isEvent("CHANNEL_PARK", call.UUID()))
	for _, c := range cmds[2:] {
		rc.send(strings.ReplaceAll(c, capA, call.UUID()) + "\n\n")
		rc.until(isReply)
		if strings.HasPrefix(c, "bgapi") {
			rc.until(isEvent("BACKGROUND_JOB", ""))
		}
	}
	rc.until(nil)
	compare(t, reduce(t, want, false), reduce(t, rc.all, false))
	inj := s.Injected()
	flagged := 0
	for _, p := range inj {
		if strings.Contains(p, "api eval INJECTED") {
			flagged++
		}
	}
	// The 3 injected `api eval ...` commands and the 2 originates cut short.
	if flagged < 3 || len(inj) < 5 {
		t.Errorf("injected commands not all flagged: %q", inj)
	}
	t.Logf("flagged: %q", inj)
}

// TestFidelityReconnect replays fixtures2/inbound_drop_midcall conn2: a
// controller connecting to a call already bridged by a dead one.
func TestFidelityReconnect(t *testing.T) {
	cmds, want := load(t, "inbound_drop_midcall.conn2")
	var capA string
	for _, c := range cmds {
		if m := uuidRE.FindString(c); m != "" {
			capA = m
			break
		}
	}
	s := newLab(t)
	s.SetDestination("sofia/lab/user@127.0.0.1:5082", esltest.Behavior{HangupAfter: 400 * time.Millisecond})
	call, err := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "15550009999", CallerName: "Carrier Caller"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ctl1, err := eslconn.Dial(ctx, eslconn.Options{Addr: s.Addr(), Password: labPassword})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{"uuid_answer", call.UUID()}, {"uuid_setvar_multi", call.UUID(), "effective_caller_id_number=15551230001;hangup_after_bridge=true"},
		{"uuid_transfer", call.UUID(), "'bridge:sofia/lab/user@127.0.0.1:5082'", "inline"}} {
		if _, err := ctl1.API(ctx, c[0], c[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	for call.State().BridgedTo == "" {
		time.Sleep(5 * time.Millisecond)
	}
	_ = ctl1.Close() // the controller dies; the call goes on

	rc := rawDial(t, s)
	for i, c := range cmds {
		rc.send(strings.ReplaceAll(c, capA, call.UUID()) + "\n\n")
		rc.until(isReply)
		if i == len(cmds)-3 { // before the last uuid_exists: wait for the hang-up
			rc.until(isEvent("CHANNEL_HANGUP_COMPLETE", call.UUID()))
		}
		if c == "api show channels as json" {
			body := string(rc.all[len(rc.all)-1].Body)
			if !strings.HasPrefix(body, `{"row_count":2,"rows":[{"uuid":"`+call.UUID()) || !strings.Contains(body, `"cid_name":"Carrier Caller"`) {
				t.Errorf("show channels as json: %s", body)
			}
		}
	}
	rc.until(nil)
	compare(t, reduce(t, want, false), reduce(t, rc.all, false))
}
