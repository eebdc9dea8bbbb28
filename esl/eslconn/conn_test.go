package eslconn_test

import (
	"context"
	"errors"
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

const userDest = "sofia/lab/user@127.0.0.1:5082"

func newServer(t *testing.T) *esltest.Server {
	t.Helper()
	s, err := esltest.New(esltest.Options{Password: "s3cret-pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func dial(t *testing.T, s *esltest.Server, mod ...func(*eslconn.Options)) *eslconn.Conn {
	t.Helper()
	o := eslconn.Options{Addr: s.Addr(), Password: s.Password(), CommandTimeout: 2 * time.Second,
		Events: []string{"CHANNEL_CREATE", "CHANNEL_PARK", "CHANNEL_ANSWER", "CHANNEL_BRIDGE", "CHANNEL_HANGUP",
			"CHANNEL_HANGUP_COMPLETE", "PLAYBACK_START", "PLAYBACK_STOP", "CHANNEL_EXECUTE_COMPLETE", "DTMF"}}
	for _, f := range mod {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := eslconn.Dial(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// waitEvent reads events until one matches.
func waitEvent(t *testing.T, c *eslconn.Conn, name, uuid string) eslconn.Event {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed waiting for %s: %v", name, c.Err())
			}
			if ev.Name == name && (uuid == "" || ev.Headers["Unique-ID"] == uuid) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %s for %s", name, uuid)
		}
	}
}

func TestDialWrongPassword(t *testing.T) {
	s := newServer(t)
	_, err := eslconn.Dial(ctx(t), eslconn.Options{Addr: s.Addr(), Password: "wrong-pw-123"})
	if !errors.Is(err, eslconn.ErrAuth) {
		t.Fatalf("error %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), "wrong-pw-123") {
		t.Fatalf("password in error text: %v", err)
	}
	_, err = eslconn.Dial(ctx(t), eslconn.Options{Addr: s.Addr(), Password: "pw\n\napi hupall"})
	if !errors.Is(err, eslconn.ErrUnsafeArg) || strings.Contains(err.Error(), "hupall") {
		t.Fatalf("control characters in password: %v", err)
	}
}

func TestDialRefusedAndTimeout(t *testing.T) {
	s := newServer(t)
	addr := s.Addr()
	_ = s.Close()
	start := time.Now()
	_, err := eslconn.Dial(context.Background(), eslconn.Options{Addr: addr, Password: "x", DialTimeout: time.Second})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("dial to closed port: %v after %v", err, time.Since(start))
	}
}

func TestInboundCallEventsAndAPI(t *testing.T) {
	s := newServer(t)
	c := dial(t, s)
	call, err := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "15550009999", CallerName: "Carrier Caller"})
	if err != nil {
		t.Fatal(err)
	}
	create := waitEvent(t, c, "CHANNEL_CREATE", call.UUID())
	park := waitEvent(t, c, "CHANNEL_PARK", call.UUID())
	if park.Headers["variable_vnum_did"] != "15551230001" || create.Headers["Caller-Caller-ID-Number"] != "15550009999" {
		t.Fatalf("park headers: did %q caller %q", park.Headers["variable_vnum_did"], create.Headers["Caller-Caller-ID-Number"])
	}
	if got, err := c.API(ctx(t), "uuid_answer", call.UUID()); err != nil || got != "+OK" {
		t.Fatalf("uuid_answer: %q %v", got, err)
	}
	waitEvent(t, c, "CHANNEL_ANSWER", call.UUID())
	if got, err := c.API(ctx(t), "uuid_getvar", call.UUID(), "vnum_did"); err != nil || got != "15551230001" {
		t.Fatalf("uuid_getvar: %q %v", got, err)
	}
	if got, _ := c.API(ctx(t), "uuid_exists", call.UUID()); got != "true" {
		t.Fatalf("uuid_exists %q", got)
	}

	// -ERR is a CommandError and the connection stays usable (goesl
	// closed it).
	_, err = c.API(ctx(t), "uuid_kill", "00000000-0000-0000-0000-000000000000")
	var ce *eslconn.CommandError
	if !errors.As(err, &ce) || ce.Reply != "-ERR No such channel!" || !errors.Is(err, eslconn.ErrCommandFailed) {
		t.Fatalf("uuid_kill nonexistent: %v", err)
	}
	if _, err := c.API(ctx(t), "no_such_api_command"); !errors.As(err, &ce) {
		t.Fatalf("unknown api: %v", err)
	}
	if got, err := c.API(ctx(t), "uuid_kill", call.UUID()); err != nil || got != "+OK" {
		t.Fatalf("uuid_kill: %q %v", got, err)
	}
	hc := waitEvent(t, c, "CHANNEL_HANGUP_COMPLETE", call.UUID())
	if hc.Headers["Hangup-Cause"] != "NORMAL_CLEARING" {
		t.Fatalf("cause %q", hc.Headers["Hangup-Cause"])
	}
	if c.Err() != nil {
		t.Fatalf("connection failed: %v", c.Err())
	}
	if inj := s.Injected(); len(inj) != 0 {
		t.Fatalf("injected: %q", inj)
	}
}

// TestRepliesNeverMixWithEvents runs many concurrent commands while the
// emulator floods events: every command must get its own reply (goesl
// handed commands whatever message came next, often an event).
func TestRepliesNeverMixWithEvents(t *testing.T) {
	s := newServer(t)
	c := dial(t, s)
	const n = 40
	calls := make([]*esltest.Call, n)
	for i := range calls {
		var err error
		calls[i], err = s.Inbound(esltest.InboundCall{DID: fmt.Sprintf("1555123%04d", i), CallerNumber: "15550009999",
			DTMF: "123456789", DTMFInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
	}
	go func() { // drain events concurrently
		for range c.Events() {
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.API(ctx(t), "uuid_answer", call.UUID()); err != nil {
				errs <- err
				return
			}
			for j := 0; j < 5; j++ {
				want := fmt.Sprintf("v%d-%d", i, j)
				if _, err := c.API(ctx(t), "uuid_setvar", call.UUID(), "vnum_x", want); err != nil {
					errs <- err
					return
				}
				got, err := c.API(ctx(t), "uuid_getvar", call.UUID(), "vnum_x")
				if err != nil || got != want {
					errs <- fmt.Errorf("call %d: got %q (%v), want %q", i, got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestBgAPIOriginateDoesNotStallOtherCommands(t *testing.T) {
	s := newServer(t)
	s.SetDestination("sofia/lab/slow@127.0.0.1:5082", esltest.Behavior{After: 400 * time.Millisecond})
	s.SetDestination("sofia/lab/busy@127.0.0.1:5082", esltest.Behavior{Outcome: esltest.Busy, After: 10 * time.Millisecond})
	s.SetDestination("sofia/lab/noanswer@127.0.0.1:5082", esltest.Behavior{Outcome: esltest.NoAnswer, After: 20 * time.Millisecond})
	c := dial(t, s)
	vars, err := eslconn.OriginateVars(map[string]string{"origination_caller_id_number": "15551230001", "origination_caller_id_name": "15551230001"})
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		out string
		err error
		at  time.Duration
	}
	start := time.Now()
	slow := make(chan result, 1)
	go func() {
		out, err := c.BgAPI(ctx(t), "originate", vars+"sofia/lab/slow@127.0.0.1:5082", "&park()")
		slow <- result{out, err, time.Since(start)}
	}()
	time.Sleep(20 * time.Millisecond)
	if _, err := c.API(ctx(t), "status"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Fatalf("api status waited %v behind a ringing originate", d)
	}
	_, err = c.BgAPI(ctx(t), "originate", vars+"sofia/lab/busy@127.0.0.1:5082", "&park()")
	var ce *eslconn.CommandError
	if !errors.As(err, &ce) || ce.Reply != "-ERR USER_BUSY" {
		t.Fatalf("busy originate: %v", err)
	}
	_, err = c.BgAPI(ctx(t), "originate", vars+"sofia/lab/noanswer@127.0.0.1:5082", "&park()")
	if !errors.As(err, &ce) || ce.Reply != "-ERR NO_ANSWER" {
		t.Fatalf("no-answer originate: %v", err)
	}
	r := <-slow
	if r.err != nil || !strings.HasPrefix(r.out, "+OK ") || r.at < 400*time.Millisecond {
		t.Fatalf("slow originate: %q %v after %v", r.out, r.err, r.at)
	}
	legs := s.Legs()
	if len(legs) != 3 || legs[0].CallerIDNumber != "15551230001" || legs[0].UUID != strings.TrimPrefix(r.out, "+OK ") {
		t.Fatalf("legs %+v", legs)
	}
}

// TestCallerNameInjectionBlocked replays the attack of fixtures2
// caller_name_injection_3 through the client: a display name with real
// blank lines. Raw, the client refuses it; through OriginateVars it is
// stripped and no extra command reaches "FreeSWITCH".
func TestCallerNameInjectionBlocked(t *testing.T) {
	s := newServer(t)
	c := dial(t, s)
	evil := "Evil\n\napi eval INJECTED,origination_caller_id_number=15550009999}"
	call, err := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "15550009999", CallerName: evil})
	if err != nil {
		t.Fatal(err)
	}
	park := waitEvent(t, c, "CHANNEL_PARK", call.UUID())
	name := park.Headers["Caller-Caller-ID-Name"]
	if name != evil {
		t.Fatalf("caller name %q", name)
	}
	before := len(s.Commands())
	if _, err := c.API(ctx(t), "uuid_setvar", call.UUID(), "vnum_name", name); !errors.Is(err, eslconn.ErrUnsafeArg) {
		t.Fatalf("raw caller text accepted: %v", err)
	}
	if _, err := c.BgAPI(ctx(t), "originate", "{origination_caller_id_name="+name+"}"+userDest, "&park()"); !errors.Is(err, eslconn.ErrUnsafeArg) {
		t.Fatalf("raw caller text accepted: %v", err)
	}
	if err := c.SendMsg(ctx(t), call.UUID(), eslconn.SendMsg{App: "set", Arg: "x=" + name}); !errors.Is(err, eslconn.ErrUnsafeArg) {
		t.Fatalf("raw caller text accepted in sendmsg: %v", err)
	}
	if n := len(s.Commands()); n != before {
		t.Fatalf("%d commands reached the server", n-before)
	}

	vars, err := eslconn.OriginateVars(map[string]string{"origination_caller_id_name": name, "origination_caller_id_number": "15551230001"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.BgAPI(ctx(t), "originate", vars+userDest, "&park()")
	if err != nil {
		t.Fatalf("originate: %v", err)
	}
	v, _ := eslconn.SetVarValue(eslconn.Sanitize(name))
	if _, err := c.API(ctx(t), "uuid_setvar", call.UUID(), "effective_caller_id_name", v); err != nil {
		t.Fatal(err)
	}
	if inj := s.Injected(); len(inj) != 0 {
		t.Fatalf("injected commands reached the server: %q", inj)
	}
	legs := s.Legs()
	if len(legs) != 1 || legs[0].CallerIDNumber != "15551230001" || legs[0].UUID != strings.TrimPrefix(out, "+OK ") ||
		legs[0].CallerIDName != "Evilapi eval INJECTED,origination_caller_id_number=15550009999" {
		t.Fatalf("leg %+v", legs)
	}
	if got, _ := c.API(ctx(t), "uuid_getvar", call.UUID(), "effective_caller_id_name"); got != "Evilapi eval INJECTED,origination_caller_id_number=15550009999" {
		t.Fatalf("effective_caller_id_name %q", got)
	}
}

func TestSendMsgFraming(t *testing.T) {
	s := newServer(t)
	c := dial(t, s)
	call, _ := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "15550009999"})
	waitEvent(t, c, "CHANNEL_PARK", call.UUID())
	if err := c.SendMsg(ctx(t), call.UUID(), eslconn.SendMsg{App: "answer", EventLock: true, EventUUID: "vnum-answer-1"}); err != nil {
		t.Fatal(err)
	}
	long := "/recordings/" + strings.Repeat("a", 700) + ".wav"
	if err := c.SendMsg(ctx(t), call.UUID(), eslconn.SendMsg{App: "playback", Arg: long, EventUUID: "vnum-play-1"}); err != nil {
		t.Fatal(err)
	}
	for {
		ev := waitEvent(t, c, "CHANNEL_EXECUTE_COMPLETE", call.UUID())
		if ev.Headers["Application-UUID"] == "vnum-play-1" {
			if ev.Headers["Application-Data"] != long {
				t.Fatalf("playback arg %q", ev.Headers["Application-Data"])
			}
			break
		}
	}
	cmds := s.Commands()
	want := "sendmsg " + call.UUID() + "\ncall-command: execute\nexecute-app-name: answer\nevent-lock: true\nEvent-UUID: vnum-answer-1\n\n"
	if !contains(cmds, want) {
		t.Fatalf("answer sendmsg not framed as %q: %q", want, cmds)
	}
	wantLong := "sendmsg " + call.UUID() + "\ncall-command: execute\nexecute-app-name: playback\nEvent-UUID: vnum-play-1\ncontent-type: text/plain\ncontent-length: " + fmt.Sprint(len(long)) + "\n\n" + long
	if !contains(cmds, wantLong) {
		t.Fatalf("long sendmsg not framed with a body")
	}
	if err := c.SendMsg(ctx(t), "00000000-0000-0000-0000-000000000000", eslconn.SendMsg{App: "answer"}); !errors.Is(err, eslconn.ErrCommandFailed) {
		t.Fatalf("sendmsg to nonexistent channel: %v", err)
	}
	if inj := s.Injected(); len(inj) != 0 {
		t.Fatalf("malformed: %q", inj)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSlowReplyTimeoutKeepsPairing: a command that times out leaves its
// reply slot in the queue, so the late reply is discarded and the next
// command still gets its own answer.
func TestSlowReplyTimeoutKeepsPairing(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, func(o *eslconn.Options) { o.CommandTimeout = 100 * time.Millisecond })
	call, _ := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "15550009999"})
	s.SetReplyDelay("api uuid_getvar", 300*time.Millisecond)
	_, err := c.API(context.Background(), "uuid_getvar", call.UUID(), "vnum_did")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow reply: %v", err)
	}
	s.SetReplyDelay("api uuid_getvar", 0)
	time.Sleep(350 * time.Millisecond) // the late reply ("15551230001") arrives meanwhile
	got, err := c.API(context.Background(), "uuid_exists", call.UUID())
	if err != nil || got != "true" {
		t.Fatalf("uuid_exists after a timed-out command: %q %v (replies shifted?)", got, err)
	}
	got, err = c.API(context.Background(), "uuid_getvar", call.UUID(), "vnum_did")
	if err != nil || got != "15551230001" {
		t.Fatalf("after timeout: %q %v", got, err)
	}
}

func TestConnectionDropped(t *testing.T) {
	s := newServer(t)
	c := dial(t, s)
	s.SetReplyDelay("api status", time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := c.API(context.Background(), "status")
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	s.DropConnections()
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("Done not closed after the connection dropped")
	}
	if err := <-errc; !errors.Is(err, eslconn.ErrDisconnected) {
		t.Fatalf("pending command: %v", err)
	}
	if !errors.Is(c.Err(), eslconn.ErrDisconnected) {
		t.Fatalf("Err %v", c.Err())
	}
	if _, err := c.API(ctx(t), "status"); err == nil {
		t.Fatal("command on a dead connection succeeded")
	}
	for range c.Events() { // closed after the connection ended
	}
}

// TestEventsNeverDropped: a consumer that reads late still gets every
// event, in order.
func TestEventsNeverDropped(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, func(o *eslconn.Options) { o.Events = []string{"DTMF"} })
	call, _ := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "1"})
	const n = 500
	digits := strings.Repeat("0123456789", n/10)
	call.SendDTMF(digits)
	if _, err := c.API(ctx(t), "status"); err != nil { // the events are queued before this reply
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	var got strings.Builder
	for got.Len() < n {
		ev := waitEvent(t, c, "DTMF", "")
		got.WriteString(ev.Headers["DTMF-Digit"])
	}
	if got.String() != digits {
		t.Fatal("DTMF events lost or reordered")
	}
}

func TestEventBacklogLimitFailsLoudly(t *testing.T) {
	s := newServer(t)
	c := dial(t, s, func(o *eslconn.Options) { o.Events = []string{"DTMF"}; o.MaxEventBacklog = 100 })
	call, _ := s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "1"})
	call.SendDTMF(strings.Repeat("1", 1000)) // nobody reads Events()
	select {
	case <-c.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("connection survived an unbounded backlog")
	}
	if !errors.Is(c.Err(), eslconn.ErrEventBacklog) {
		t.Fatalf("Err %v", c.Err())
	}
}

func TestCloseStopsEverything(t *testing.T) {
	s := newServer(t)
	c := dial(t, s)
	_, _ = s.Inbound(esltest.InboundCall{DID: "15551230001", CallerNumber: "1"})
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	if !errors.Is(c.Err(), eslconn.ErrClosed) {
		t.Fatalf("Err %v", c.Err())
	}
	if _, err := c.API(ctx(t), "status"); !errors.Is(err, eslconn.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if _, ok := <-c.Events(); ok {
		// drain: the channel must be closed
		for range c.Events() {
		}
	}
}
