package esltest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/esl/esltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const user = "sofia/lab/user@127.0.0.1:5082"

func client(t *testing.T, s *esltest.Server, events ...string) *eslconn.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := eslconn.Dial(ctx, eslconn.Options{Addr: s.Addr(), Password: s.Password(), Events: events})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func api(t *testing.T, c *eslconn.Conn, cmd string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := c.API(ctx, cmd, args...)
	if err != nil {
		t.Fatalf("%s %v: %v", cmd, args, err)
	}
	return out
}

func next(t *testing.T, c *eslconn.Conn, name string) eslconn.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed waiting for %s", name)
			}
			if ev.Name == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s", name)
		}
	}
}

func TestNoDefaultPassword(t *testing.T) {
	s, err := esltest.New(esltest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.Password()) < 16 {
		t.Fatalf("weak generated password %q", s.Password())
	}
	_, err = eslconn.Dial(context.Background(), eslconn.Options{Addr: s.Addr(), Password: "ClueCon"})
	if err == nil {
		t.Fatal("FreeSWITCH's default password accepted")
	}
}

// TestBridgeMasksCaller: the controller bridges with the DID as caller ID;
// Legs shows what the callee saw. Setting only effective_caller_id_number
// leaks the caller's name, as it did on the real FreeSWITCH.
func TestBridgeMasksCaller(t *testing.T) {
	s := newLab(t)
	c := client(t, s, "CHANNEL_PARK", "CHANNEL_BRIDGE", "CHANNEL_HANGUP_COMPLETE")
	call, _ := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "15550009999", CallerName: "Real Caller Name"})
	next(t, c, "CHANNEL_PARK")
	api(t, c, "uuid_setvar_multi", call.UUID(), "effective_caller_id_number=15551230001;hangup_after_bridge=true")
	api(t, c, "uuid_transfer", call.UUID(), "'bridge:"+user+"'", "inline")
	next(t, c, "CHANNEL_BRIDGE")
	legs := s.Legs()
	if len(legs) != 1 || legs[0].CallerIDNumber != "15551230001" || legs[0].CallerIDName != "Real Caller Name" || legs[0].ALeg != call.UUID() {
		t.Fatalf("legs %+v", legs)
	}
	if st := call.State(); !st.Answered || st.BridgedTo != legs[0].UUID {
		t.Fatalf("state %+v", st)
	}

	call2, _ := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "15550009999", CallerName: "Real Caller Name"})
	next(t, c, "CHANNEL_PARK")
	vars, _ := eslconn.OriginateVars(map[string]string{"effective_caller_id_number": "15551230001", "effective_caller_id_name": "15551230001"})
	api(t, c, "uuid_transfer", call2.UUID(), "'bridge:"+vars+user+"'", "inline")
	next(t, c, "CHANNEL_BRIDGE")
	legs = s.Legs()
	if l := legs[1]; l.CallerIDNumber != "15551230001" || l.CallerIDName != "15551230001" || l.Vars["effective_caller_id_name"] != "15551230001" {
		t.Fatalf("masked leg %+v", l)
	}
	if len(s.Injected()) != 0 {
		t.Fatalf("injected %q", s.Injected())
	}
}

func TestOriginateAndUUIDBridge(t *testing.T) {
	s := newLab(t)
	s.SetDestination(user, esltest.Behavior{After: 10 * time.Millisecond, HangupAfter: 50 * time.Millisecond})
	c := client(t, s, "CHANNEL_PARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_HANGUP_COMPLETE")
	call, _ := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "15550009999"})
	next(t, c, "CHANNEL_PARK")
	api(t, c, "uuid_answer", call.UUID())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	vars, _ := eslconn.OriginateVars(map[string]string{"origination_caller_id_number": "15551230001"})
	out, err := c.BgAPI(ctx, "originate", vars+user, "&park()")
	if err != nil || !strings.HasPrefix(out, "+OK ") {
		t.Fatalf("originate: %q %v", out, err)
	}
	b := strings.TrimPrefix(out, "+OK ")
	if got := api(t, c, "uuid_bridge", call.UUID(), b); got != "+OK "+b {
		t.Fatalf("uuid_bridge %q", got)
	}
	next(t, c, "CHANNEL_BRIDGE")
	// The callee hangs up after 50 ms; without hangup_after_bridge the
	// caller goes back to park.
	ev := next(t, c, "CHANNEL_HANGUP_COMPLETE")
	if ev.Headers["Unique-ID"] != b {
		t.Fatalf("first hang-up %s", ev.Headers["Unique-ID"])
	}
	next(t, c, "CHANNEL_UNBRIDGE")
	park := next(t, c, "CHANNEL_PARK")
	if park.Headers["Unique-ID"] != call.UUID() {
		t.Fatalf("re-park of %s", park.Headers["Unique-ID"])
	}
	if st := call.State(); st.HungUp || st.BridgedTo != "" {
		t.Fatalf("caller state %+v", st)
	}
	api(t, c, "uuid_kill", call.UUID(), "NORMAL_CLEARING")
	select {
	case <-call.HungUp():
	case <-time.After(time.Second):
		t.Fatal("call not hung up")
	}
	if got := api(t, c, "uuid_exists", call.UUID()); got != "false" {
		t.Fatalf("uuid_exists %q", got)
	}
}

func TestRecordPlaybackDTMFSched(t *testing.T) {
	s := newLab(t)
	c := client(t, s, "CHANNEL_PARK", "RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "DTMF")
	call, _ := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "1", DTMF: "42", DTMFInterval: 5 * time.Millisecond, HangupAfter: 200 * time.Millisecond})
	next(t, c, "CHANNEL_PARK")
	if got := api(t, c, "sched_del", call.UUID()); !strings.HasPrefix(got, "+OK") || s.SchedDeleted(call.UUID()) != 1 {
		t.Fatalf("sched_del %q", got)
	}
	api(t, c, "uuid_answer", call.UUID())
	if got := api(t, c, "uuid_record", call.UUID(), "start", "/tmp/r.wav"); got != "+OK Success" {
		t.Fatalf("uuid_record %q", got)
	}
	if ev := next(t, c, "RECORD_START"); ev.Headers["Record-File-Path"] != "/tmp/r.wav" {
		t.Fatal(ev.Headers)
	}
	if d := next(t, c, "DTMF"); d.Headers["DTMF-Digit"] != "4" {
		t.Fatal(d.Headers["DTMF-Digit"])
	}
	if d := next(t, c, "DTMF"); d.Headers["DTMF-Digit"] != "2" {
		t.Fatal(d.Headers["DTMF-Digit"])
	}
	api(t, c, "uuid_broadcast", call.UUID(), "/sounds/hello.wav", "aleg")
	next(t, c, "PLAYBACK_START")
	if ev := next(t, c, "PLAYBACK_STOP"); ev.Headers["Playback-File-Path"] != "/sounds/hello.wav" {
		t.Fatal(ev.Headers)
	}
	next(t, c, "RECORD_STOP") // the caller hangs up after 200 ms
	if st := call.State(); !st.HungUp || st.Cause != "NORMAL_CLEARING" || len(st.Played) != 1 {
		t.Fatalf("state %+v", st)
	}
}

// TestInjectionDetector checks the detector against naive controllers:
// every way of smuggling a command is flagged; well-formed ones are not.
func TestInjectionDetector(t *testing.T) {
	s := newLab(t)
	rc := rawDial(t, s)
	rc.send("auth " + labPassword + "\n\n")
	rc.until(isReply)
	call, _ := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "1", CallerName: "Bob\r\nsendmsg x"})
	good := []string{
		"api uuid_answer " + call.UUID() + "\n\n",
		"bgapi originate {origination_caller_id_name='a\\,b',x=y}" + user + " &park()\nJob-UUID: 1234\n\n",
		"sendmsg " + call.UUID() + "\ncall-command: execute\nexecute-app-name: playback\ncontent-type: text/plain\ncontent-length: 5\n\nx.wav",
		"api status\r\n\r\n", // goesl's terminator: fine for one line
	}
	for _, g := range good {
		rc.send(g)
		rc.until(isReply)
	}
	if inj := s.Injected(); len(inj) != 0 {
		t.Fatalf("well-formed commands flagged: %q", inj)
	}
	bad := []string{
		"bgapi originate {origination_caller_id_name=Evil,origination_caller_id_name=x}" + user + " &park()\n\n", // duplicate
		"bgapi originate {origination_caller_id_name=a,b}" + user + " &park()\n\n",                               // item without '='
		"api uuid_setvar " + call.UUID() + " x a}b\n\n",                                                          // unbalanced
		"sendmsg " + call.UUID() + "\ncall-command: execute\r\nexecute-app-name: answer\n\n",                     // mixed line endings
		"api uuid_setvar " + call.UUID() + " vnum_name Bob\n\n", "sendmsg x\n\n",                                 // caller text on its own line
		"nonsense\n\n",
	}
	for _, b := range bad {
		rc.send(b)
		rc.until(isReply)
	}
	inj := s.Injected()
	if len(inj) != len(bad)-1 { // "api uuid_setvar ... Bob" itself is well-formed
		t.Fatalf("flagged %d of %d: %q", len(inj), len(bad)-1, inj)
	}
	for _, want := range []string{"duplicate variable", "item without '='", "unbalanced", "mixed CRLF", "caller-supplied text", "unknown command"} {
		found := false
		for _, p := range inj {
			found = found || strings.Contains(p, want)
		}
		if !found {
			t.Errorf("no %q in %q", want, inj)
		}
	}
}

func TestDropConnectionsKeepsCalls(t *testing.T) {
	s := newLab(t)
	c := client(t, s, "CHANNEL_PARK")
	call, _ := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "1"})
	next(t, c, "CHANNEL_PARK")
	s.DropConnections()
	<-c.Done()
	c2 := client(t, s)
	if got := api(t, c2, "uuid_exists", call.UUID()); got != "true" {
		t.Fatalf("call lost with the controller: %q", got)
	}
	if got := api(t, c2, "show", "channels", "as", "json"); !strings.Contains(got, call.UUID()) {
		t.Fatalf("show channels: %s", got)
	}
}

// TestManyCalls drives a few thousand calls through one connection the
// way vnumd will (answer, set caller ID, bgapi bridge, callee hangs up),
// to keep the emulator cheap enough for load tests.
func TestManyCalls(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 200
	}
	s := newLab(t)
	s.SetDestination(user, esltest.Behavior{After: time.Millisecond, HangupAfter: 5 * time.Millisecond})
	c := client(t, s, "CHANNEL_PARK", "CHANNEL_HANGUP_COMPLETE")
	start := time.Now()
	var done sync.WaitGroup
	var mu sync.Mutex
	parked := map[string]bool{}
	hungup := 0
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for ev := range c.Events() {
			switch ev.Name {
			case "CHANNEL_PARK":
				if ev.Headers["Call-Direction"] != "inbound" {
					continue
				}
				id := ev.Headers["Unique-ID"]
				mu.Lock()
				parked[id] = true
				mu.Unlock()
				done.Add(1)
				go func() {
					defer done.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_, _ = c.API(ctx, "uuid_answer", id)
					_, _ = c.API(ctx, "uuid_setvar_multi", id, "effective_caller_id_number=15551230001;hangup_after_bridge=true")
					if _, err := c.BgAPI(ctx, "uuid_transfer", id, "'bridge:"+user+"'", "inline"); err != nil {
						t.Error(err)
					}
				}()
			case "CHANNEL_HANGUP_COMPLETE":
				if ev.Headers["Call-Direction"] == "inbound" {
					mu.Lock()
					hungup++
					all := hungup == n
					mu.Unlock()
					if all {
						return
					}
				}
			}
		}
	}()
	for i := 0; i < n; i++ {
		if _, err := s.Inbound(esltest.InboundCall{DID: fmt.Sprintf("1555123%04d", i%10000), CallerNumber: "15550009999"}); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		mu.Lock()
		t.Fatalf("%d of %d calls completed", hungup, n)
	}
	done.Wait()
	el := time.Since(start)
	t.Logf("%d calls (answer, setvar, bgapi bridge, hang-up) in %v: %.0f calls/s", n, el, float64(n)/el.Seconds())
	if s.ActiveChannels() != 0 || len(s.Legs()) != n || len(s.Injected()) != 0 {
		t.Fatalf("active %d legs %d injected %d", s.ActiveChannels(), len(s.Legs()), len(s.Injected()))
	}
}
