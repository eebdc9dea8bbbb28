// These tests drive the emulator with the production client,
// github.com/CyCoreSystems/ari/v6/client/native.

package aritest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/CyCoreSystems/ari/v6/client/native"
)

func stopClient(t *testing.T, s *Server, cancel context.CancelFunc) {
	cancel()
	deadline := time.Now().Add(3 * time.Second)
	for s.Connected("vnum") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s.Connected("vnum") {
		t.Error("client did not disconnect")
	}
}

// waitApp waits until the application is registered on the server: the
// client may return from ConnectWithContext before the server has taken
// its WebSocket (under load, a call placed at once found no application).
func waitApp(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !s.Connected("vnum") {
		if time.Now().After(deadline) {
			t.Fatal("the client's application never connected")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func waitEvent(t *testing.T, sub ari.Subscription, what string) ari.Event {
	t.Helper()
	select {
	case e := <-sub.Events():
		return e
	case <-time.After(3 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		return nil
	}
}

func TestNativeClientForwardCall(t *testing.T) {
	s, err := New(Options{User: testUser, Password: testPass, PlaybackDuration: playDurForTests})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const dest = "PJSIP/+33612345678@carrier"
	s.SetDestination(dest, Behavior{RingEvent: true, AnswerAfter: 20 * time.Millisecond})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, err := native.ConnectWithContext(ctx, &native.Options{
		Application: "vnum", URL: s.URL(), WebsocketURL: s.WebsocketURL(),
		Username: testUser, Password: testPass,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Not cl.Close(): it races with the client's own listen goroutine on
	// its connected flag (a known defect); cancelling the context suffices.
	defer stopClient(t, s, cancel)
	waitApp(t, s)

	info, err := cl.Asterisk().Info(nil)
	if err != nil || info.SystemInfo.Version != "22.10.1" {
		t.Fatalf("info: %+v %v", info, err)
	}

	starts := cl.Bus().Subscribe(nil, ari.Events.StasisStart)
	defer starts.Cancel()
	caller, err := s.Inbound(InboundCall{DID: "15551230001", CallerNumber: "+14155550100", CallerName: "Carrier Caller"})
	if err != nil {
		t.Fatal(err)
	}
	ss := waitEvent(t, starts, "inbound StasisStart").(*ari.StasisStart)
	if ss.Channel.ID != caller.ID() || len(ss.Args) != 1 || ss.Args[0] != "15551230001" {
		t.Fatalf("StasisStart: %+v", ss)
	}
	if ss.Channel.Caller.Number != "+14155550100" || ss.Channel.State != "Ring" {
		t.Fatalf("caller channel: %+v", ss.Channel)
	}
	in := cl.Channel().Get(ari.NewKey(ari.ChannelKey, caller.ID()))
	if err := in.Ring(); err != nil {
		t.Fatal(err)
	}
	if err := in.Answer(); err != nil {
		t.Fatal(err)
	}
	br, err := cl.Bridge().Create(ari.NewKey(ari.BridgeKey, "br-1"), "mixing", "vnum-br-1")
	if err != nil {
		t.Fatal(err)
	}
	if err := br.AddChannel(caller.ID()); err != nil {
		t.Fatal(err)
	}
	out, err := in.Originate(ari.OriginateRequest{
		Endpoint: dest, App: "vnum", AppArgs: "outbound,call-1",
		CallerID: `"15551230001" <15551230001>`, ChannelID: "out-1", Timeout: 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	ss = waitEvent(t, starts, "callee StasisStart").(*ari.StasisStart)
	if ss.Channel.ID != "out-1" || len(ss.Args) != 2 || ss.Args[0] != "outbound" {
		t.Fatalf("callee StasisStart: %+v", ss)
	}
	callee := s.Call("out-1")
	if name, num := callee.CallerID(); name != "15551230001" || num != "15551230001" {
		t.Errorf("far end saw caller ID %q <%s>, want the DID", name, num)
	}
	if err := br.AddChannel(out.ID()); err != nil {
		t.Fatal(err)
	}
	rec, err := br.Record("rec-1", &ari.RecordingOptions{Format: "wav", Exists: "overwrite"})
	if err != nil {
		t.Fatal(err)
	}
	bd, err := br.Data()
	if err != nil {
		t.Fatal(err)
	}
	if len(bd.ChannelIDs) != 2 || bd.Technology != "softmix" {
		t.Errorf("bridge data: %+v", bd)
	}
	cd, err := out.Data()
	if err != nil || cd.Caller.Number != "15551230001" || cd.State != "Up" {
		t.Errorf("callee data: %+v %v", cd, err)
	}
	if _, err := rec.Data(); err != nil {
		t.Errorf("live recording data: %v", err)
	}

	ended := cl.Bus().Subscribe(nil, ari.Events.StasisEnd)
	defer ended.Cancel()
	hups := cl.Bus().Subscribe(nil, ari.Events.ChannelHangupRequest)
	defer hups.Cancel()
	caller.Hangup()
	hr := waitEvent(t, hups, "caller hangup").(*ari.ChannelHangupRequest)
	if hr.Channel.ID != caller.ID() || hr.Cause != 0 || hr.Soft {
		t.Errorf("remote BYE: %+v", hr)
	}
	if se := waitEvent(t, ended, "caller StasisEnd").(*ari.StasisEnd); se.Channel.ID != caller.ID() {
		t.Errorf("StasisEnd for %s", se.Channel.ID)
	}
	err = in.Hangup()
	var re native.RequestError
	if !errors.As(err, &re) || re.Code() != 404 {
		t.Errorf("hangup of gone caller: %v", err)
	}
	destroyed := cl.Bus().Subscribe(nil, ari.Events.ChannelDestroyed)
	defer destroyed.Cancel()
	if err := out.Hangup(); err != nil {
		t.Fatal(err)
	}
	cdv := waitEvent(t, destroyed, "callee destroyed").(*ari.ChannelDestroyed)
	if cdv.Cause != 16 || cdv.Channel.ID != "out-1" {
		t.Errorf("ChannelDestroyed: %+v", cdv)
	}
	if err := br.Delete(); err != nil {
		t.Fatal(err)
	}
	stored, err := cl.StoredRecording().List(nil)
	if err != nil || len(stored) != 1 || stored[0].ID != "rec-1" {
		t.Errorf("stored recordings: %v %v", stored, err)
	}
	if !caller.Answered() || caller.Tones()[0] != "ring" {
		t.Errorf("caller: answered=%v tones=%v", caller.Answered(), caller.Tones())
	}
	app, err := cl.Application().Data(ari.NewKey(ari.ApplicationKey, "vnum"))
	if err != nil || len(app.ChannelIDs) != 0 || len(app.BridgeIDs) != 0 {
		t.Errorf("application: %+v %v", app, err)
	}
}

func TestNativeClientPlaybackAndBusy(t *testing.T) {
	s, err := New(Options{User: testUser, Password: testPass, PlaybackDuration: playDurForTests})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDestination("PJSIP/busy@carrier", Behavior{Busy: true})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cl, err := native.ConnectWithContext(ctx, &native.Options{
		Application: "vnum", URL: s.URL(), WebsocketURL: s.WebsocketURL(),
		Username: testUser, Password: testPass,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Not cl.Close(): it races with the client's own listen goroutine on
	// its connected flag (a known defect); cancelling the context suffices.
	defer stopClient(t, s, cancel)
	waitApp(t, s)
	starts := cl.Bus().Subscribe(nil, ari.Events.StasisStart)
	defer starts.Cancel()
	caller, err := s.Inbound(InboundCall{DID: "15551230001", CallerNumber: "+14155550100"})
	if err != nil {
		t.Fatal(err)
	}
	waitEvent(t, starts, "StasisStart")
	in := cl.Channel().Get(ari.NewKey(ari.ChannelKey, caller.ID()))
	dials := cl.Bus().Subscribe(nil, ari.Events.Dial)
	defer dials.Cancel()
	if _, err := in.Originate(ari.OriginateRequest{Endpoint: "PJSIP/busy@carrier", App: "vnum", ChannelID: "out-busy"}); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, dials, "Dial")
	if d := waitEvent(t, dials, "Dial BUSY").(*ari.Dial); d.Dialstatus != "BUSY" {
		t.Errorf("dialstatus %q", d.Dialstatus)
	}
	finished := cl.Bus().Subscribe(nil, ari.Events.PlaybackFinished)
	defer finished.Cancel()
	if err := in.Answer(); err != nil {
		t.Fatal(err)
	}
	pb, err := in.Play("pb-1", "sound:vm-goodbye")
	if err != nil {
		t.Fatal(err)
	}
	if pf := waitEvent(t, finished, "PlaybackFinished").(*ari.PlaybackFinished); pf.Playback.ID != pb.ID() || pf.Playback.State != "done" {
		t.Errorf("PlaybackFinished: %+v", pf.Playback)
	}
	if err := in.Hangup(); err != nil {
		t.Fatal(err)
	}
	<-caller.Done()
	if got := caller.Played(); len(got) != 1 || got[0] != "sound:vm-goodbye" {
		t.Errorf("caller heard %v", got)
	}
}

func TestNativeClientReconnectsAfterDrop(t *testing.T) {
	s, err := New(Options{User: testUser, Password: testPass})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cl, err := native.ConnectWithContext(ctx, &native.Options{
		Application: "vnum", URL: s.URL(), WebsocketURL: s.WebsocketURL(),
		Username: testUser, Password: testPass,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stopClient(t, s, cancel)
	waitApp(t, s)
	caller, err := s.Inbound(InboundCall{DID: "15551230001"})
	if err != nil {
		t.Fatal(err)
	}
	s.DropWebSocket()
	// Events while the client is away are lost, the call is not.
	ends := cl.Bus().Subscribe(nil, ari.Events.StasisEnd)
	defer ends.Cancel()
	deadline := time.Now().Add(3 * time.Second)
	for !s.Connected("vnum") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if !s.Connected("vnum") {
		t.Fatal("client did not reconnect")
	}
	infos := 0
	for _, r := range s.Requests() {
		if r.Path == "/ari/asterisk/info" {
			infos++
		}
	}
	if infos < 3 { // connect (twice: listen and ConnectWithContext) + reconnect
		t.Errorf("%d GET /asterisk/info", infos)
	}
	chans, err := cl.Channel().List(nil)
	if err != nil || len(chans) != 1 || chans[0].ID != caller.ID() {
		t.Fatalf("channels after reconnect: %v %v", chans, err)
	}
	caller.Hangup()
	if se := waitEvent(t, ends, "StasisEnd after reconnect").(*ari.StasisEnd); se.Channel.ID != caller.ID() {
		t.Errorf("StasisEnd for %s", se.Channel.ID)
	}
}
