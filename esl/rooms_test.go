package esl_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/esl"
	"github.com/vnum/vnum/esl/esltest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isHangup(leg callflow.LegID) func(callflow.Event) bool {
	return func(ev callflow.Event) bool { return ev.Kind == callflow.EvHangup && ev.Leg == leg }
}

// TestJoinRoomLiveAndDestroy: two callers and one originated target join
// one room; Live reports all three in it; one hangs up and the other two
// stay (and Live says so); DestroyBridge ends the room and hangs the rest
// up; destroying it again is not an error.
func TestJoinRoomLiveAndDestroy(t *testing.T) {
	const room = "vnum-room-abc123"
	l := newLab(t, nil)
	ctx := ctx5(t)
	c1, _ := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123", CallerName: "A"})
	c2, _ := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900124", CallerName: "B;1;x"})
	a, b := callflow.LegID(c1.UUID()), callflow.LegID(c2.UUID())
	target := callflow.LegID(c1.UUID() + "-1")
	if err := l.drv.Originate(ctx, callflow.Originate{Leg: target, CallID: c1.UUID(), Inbound: a,
		Target: routing.Target{E164: "+33612345678"}, CallerID: routing.CallerID{Number: "+33187654321"}, Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	l.snk.wait(t, "the target answered", func(ev callflow.Event) bool { return ev.Kind == callflow.EvAnswered && ev.Leg == target })
	for _, leg := range []callflow.LegID{a, b, target} {
		if err := l.drv.Join(ctx, room, leg); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "three members in the room", func() bool { return len(l.srv.Conferences()[room]) == 3 })
	if !c1.State().Answered || !c2.State().Answered {
		t.Fatal("a caller in the room was not answered")
	}
	checkLive := func(drv *esl.Driver, want ...callflow.LegID) {
		t.Helper()
		live, err := drv.Live(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, leg := range want {
			if st, ok := live.Legs[leg]; !ok || st.Bridge != room || !st.Answered {
				t.Fatalf("Live: leg %s is %+v (listed %v), want answered in %s", leg, st, ok, room)
			}
		}
		got := slices.Clone(live.Bridges[room])
		slices.Sort(got)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(got, want) || len(live.Bridges) != 1 {
			t.Fatalf("Live.Bridges %v, want only %s with %v", live.Bridges, room, want)
		}
	}
	checkLive(l.drv, a, b, target)
	// A restarted vnumd, which never saw these legs, finds the same room.
	checkLive(restarted(t, l), a, b, target)

	if err := c2.Hangup(""); err != nil {
		t.Fatal(err)
	}
	l.snk.wait(t, "EvHangup of the caller who left", isHangup(b))
	time.Sleep(50 * time.Millisecond)
	targetUUID := ""
	for _, li := range l.srv.Legs() {
		if li.Vars["vnum_leg"] == string(target) {
			targetUUID = li.UUID
		}
	}
	if !l.srv.LegAlive(c1.UUID()) || !l.srv.LegAlive(targetUUID) || len(l.srv.Conferences()[room]) != 2 {
		t.Fatalf("the others were hung up when one member left: room %v", l.srv.Conferences())
	}
	if n := l.snk.count(isHangup(a)) + l.snk.count(isHangup(target)); n != 0 {
		t.Fatalf("%d hang-ups reported for members still in the room", n)
	}
	checkLive(l.drv, a, target)

	if err := l.drv.DestroyBridge(ctx, room); err != nil {
		t.Fatal(err)
	}
	l.snk.wait(t, "EvHangup of the caller", isHangup(a))
	l.snk.wait(t, "EvHangup of the target", isHangup(target))
	eventually(t, "the room gone", func() bool { return len(l.srv.Conferences()) == 0 })
	if err := l.drv.DestroyBridge(ctx, room); err != nil {
		t.Fatalf("destroying a room already gone: %v", err)
	}
	if err := l.drv.DestroyBridge(ctx, ""); err != nil {
		t.Fatalf("destroying the id-less two-party bridge: %v", err)
	}
	if live, err := l.drv.Live(ctx); err != nil || len(live.Bridges) != 0 || len(live.Legs) != 0 {
		t.Fatalf("Live after the room ended: %+v, %v", live, err)
	}
	if inj := l.srv.Injected(); len(inj) != 0 {
		t.Fatalf("injected: %q", inj)
	}
}

// TestBadNamesRefused: room and recording names outside vnum's own set
// are refused before anything reaches FreeSWITCH or the file system.
func TestBadNamesRefused(t *testing.T) {
	dir := t.TempDir()
	l := newLab(t, nil, func(o *esl.Options, _ *esltest.Options) { o.RecordDir = dir })
	ctx := ctx5(t)
	c, _ := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123"})
	before := len(l.srv.Commands())
	for _, room := range []string{"", "room with space", "r;hupall", "r\n\napi hupall", "conf@other", "r+flags{mute}", "a/b",
		strings.Repeat("r", 129)} {
		err := l.drv.Join(ctx, room, callflow.LegID(c.UUID()))
		if !errors.Is(err, esl.ErrBadName) {
			t.Fatalf("Join(%q): %v, want ErrBadName", room, err)
		}
		if room != "" && !strings.Contains(err.Error(), "room name") {
			t.Fatalf("Join(%q): the error does not name the room: %v", room, err)
		}
		if err := l.drv.DestroyBridge(ctx, room); room != "" && !errors.Is(err, esl.ErrBadName) {
			t.Fatalf("DestroyBridge(%q): %v, want ErrBadName", room, err)
		}
	}
	if n := len(l.srv.Commands()); n != before {
		t.Fatalf("%d commands sent for refused names: %q", n-before, l.srv.Commands()[before:])
	}
	outside := filepath.Join(filepath.Dir(dir), "keep.wav")
	if err := os.WriteFile(outside, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"", "..", ".", "../keep.wav", dir + "/../keep.wav", outside, dir + "/sub/x.wav",
		dir + "//x.wav", "sub/x.wav", `sub\x.wav`, ".hidden", "a..b.wav", "x y.wav", "/etc/passwd"} {
		if err := l.drv.DeleteRecording(ctx, name); !errors.Is(err, esl.ErrBadName) {
			t.Fatalf("DeleteRecording(%q): %v, want ErrBadName", name, err)
		}
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("a file outside the record directory was touched: %v", err)
	}
}

// TestDeleteRecording: the recording RecordCall started (a file in
// RecordDir on the emulated host) is deleted by the name RecordCall
// returned; a second delete is not an error; the bare file name works
// too; a RecordDir this host cannot see is an error, not a silent no-op.
func TestDeleteRecording(t *testing.T) {
	dir := t.TempDir()
	l := newLab(t, nil, func(o *esl.Options, eo *esltest.Options) { o.RecordDir, eo.RecordDir = dir, dir })
	ctx := ctx5(t)
	c, _ := l.inbound(t, esltest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123"})
	a := callflow.LegID(c.UUID())
	if err := l.drv.Answer(ctx, a); err != nil {
		t.Fatal(err)
	}
	call, err := l.drv.RecordCall(ctx, c.UUID(), "", a)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := l.drv.RecordMessage(ctx, c.UUID(), a, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "both recordings stored", func() bool { return len(l.srv.StoredRecordings()) == 2 })
	if err := l.drv.DeleteRecording(ctx, call); err != nil {
		t.Fatal(err)
	}
	if got := l.srv.StoredRecordings(); !slices.Equal(got, []string{vm}) {
		t.Fatalf("stored after deleting %s: %v", call, got)
	}
	if err := l.drv.DeleteRecording(ctx, call); err != nil {
		t.Fatalf("a second delete: %v", err)
	}
	if err := l.drv.DeleteRecording(ctx, filepath.Base(vm)); err != nil {
		t.Fatal(err)
	}
	if got := l.srv.StoredRecordings(); len(got) != 0 {
		t.Fatalf("stored after deleting both: %v", got)
	}

	gone := filepath.Join(dir, "not-here")
	drv, err := esl.New(esl.Options{Addr: l.srv.Addr(), Password: l.srv.Password(), Trunk: trunk, RecordDir: gone})
	if err != nil {
		t.Fatal(err)
	}
	// Not "already gone" (fs.ErrNotExist): the retention sweep would then
	// forget a file that is still on the PBX.
	if err := drv.DeleteRecording(ctx, gone+"/vnum-x.wav"); !errors.Is(err, esl.ErrRecordDir) || errors.Is(err, fs.ErrNotExist) ||
		!strings.Contains(err.Error(), "FreeSWITCH host") {
		t.Fatalf("delete with an unreachable record dir: %v", err)
	}
}
