package callflow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
	"github.com/vnum/vnum/routing/redisstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakePBX is a PBX whose behaviour each test sets; unset methods succeed.
type fakePBX struct {
	answer    func(ctx context.Context, leg callflow.LegID) error
	originate func(ctx context.Context, o callflow.Originate) error
	play      func(ctx context.Context, leg callflow.LegID, p callflow.Prompt) error
	records   int
	mu        sync.Mutex
	hungUp    []callflow.LegID
}

func (f *fakePBX) Name() string                               { return "fake" }
func (f *fakePBX) Ring(context.Context, callflow.LegID) error { return nil }
func (f *fakePBX) Bridge(context.Context, string, callflow.LegID, callflow.LegID) (string, error) {
	return "br", nil
}
func (f *fakePBX) DestroyBridge(context.Context, string) error              { return nil }
func (f *fakePBX) Join(context.Context, string, callflow.LegID) error       { return nil }
func (f *fakePBX) DeleteRecording(context.Context, string) error            { return nil }
func (f *fakePBX) Mute(context.Context, string, callflow.LegID, bool) error { return nil }
func (f *fakePBX) MusicOnHold(context.Context, callflow.LegID, bool) error  { return nil }
func (f *fakePBX) PlayRoom(context.Context, string, callflow.Prompt) error  { return nil }
func (f *fakePBX) SendMessage(context.Context, string, routing.Target, string) error {
	return nil
}
func (f *fakePBX) RecordCall(context.Context, string, string, callflow.LegID) (string, error) {
	f.mu.Lock()
	f.records++
	f.mu.Unlock()
	return "rec", nil
}
func (f *fakePBX) RecordMessage(context.Context, string, callflow.LegID, time.Duration) (string, error) {
	return "vm", nil
}
func (f *fakePBX) Play(ctx context.Context, leg callflow.LegID, p callflow.Prompt) error {
	if f.play != nil {
		return f.play(ctx, leg, p)
	}
	return nil
}
func (f *fakePBX) Live(context.Context) (callflow.Live, error) { return callflow.Live{}, nil }
func (f *fakePBX) Answer(ctx context.Context, leg callflow.LegID) error {
	if f.answer != nil {
		return f.answer(ctx, leg)
	}
	return nil
}
func (f *fakePBX) Originate(ctx context.Context, o callflow.Originate) error {
	if f.originate != nil {
		return f.originate(ctx, o)
	}
	return nil
}
func (f *fakePBX) Hangup(_ context.Context, leg callflow.LegID, _ callflow.Cause) error {
	f.mu.Lock()
	f.hungUp = append(f.hungUp, leg)
	f.mu.Unlock()
	return nil
}

// A call busy in a slow PBX request while a burst of events and then the
// caller's hang-up arrive: Dispatch never stalls the driver, no event is
// lost, and the call ends properly (callee hung up, one CDR).
func TestSlowCallNeverStallsDispatchNorLosesHangup(t *testing.T) {
	r := redistest.Start(t)
	store := redisstore.New(r.Client(), redisstore.Options{})
	ctx := context.Background()
	if err := store.AddNumber(ctx, routing.Number{DID: "+33187654321", Route: routing.Route{Targets: []routing.Target{{E164: "+33612345678"}}}}); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	legs := make(chan callflow.LegID, 1)
	pbx := &fakePBX{
		answer: func(ctx context.Context, _ callflow.LegID) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		},
		originate: func(_ context.Context, o callflow.Originate) error { legs <- o.Leg; return nil },
	}
	e := callflow.New(callflow.Options{PBX: pbx, Store: store, Node: "n1", PBXTimeout: 10 * time.Second})
	e.Dispatch(callflow.Event{Kind: callflow.EvInbound, Leg: "in-1", Inbound: &callflow.Inbound{Leg: "in-1", DID: "+33187654321", CallerNumber: "+447700900123"}})
	callee := <-legs
	e.Dispatch(callflow.Event{Kind: callflow.EvAnswered, Leg: callee}) // the flow now waits in Answer
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	for range 50 {
		e.Dispatch(callflow.Event{Kind: callflow.EvDTMF, Leg: "in-1", Digit: "5"})
	}
	e.Dispatch(callflow.Event{Kind: callflow.EvHangup, Leg: "in-1"})
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Fatalf("51 events took %s to dispatch while the call was busy", d)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for e.Active() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the call never ended: its hang-up was lost")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cdrs, err := store.ListCDRs(ctx, "+33187654321", 10)
	if err != nil || len(cdrs) != 1 || cdrs[0].HangupBy != "caller" {
		t.Fatalf("CDRs %+v, %v", cdrs, err)
	}
	pbx.mu.Lock()
	defer pbx.mu.Unlock()
	found := false
	for _, l := range pbx.hungUp {
		found = found || l == callee
	}
	if !found {
		t.Fatalf("the callee was left up: hung up %v", pbx.hungUp)
	}
	e.Wait()
}

// Simultaneous ringing on a recorded number with consent: the losing
// target's hang-up arrives while both parties hear the announcement. It
// must not cancel the recording (nor be lost).
func TestConsentAnnouncementKeepsOtherLegsEvents(t *testing.T) {
	r := redistest.Start(t)
	store := redisstore.New(r.Client(), redisstore.Options{})
	ctx := context.Background()
	n := routing.Number{DID: "+33187654321", Consent: routing.ConsentAlways, Route: routing.Route{
		Targets:  []routing.Target{{E164: "+33612345678"}, {E164: "+33698765432"}},
		Strategy: routing.Simultaneous, Record: true}}
	if err := store.AddNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	legs := make(chan callflow.LegID, 2)
	played := make(chan callflow.LegID, 4)
	pbx := &fakePBX{
		originate: func(_ context.Context, o callflow.Originate) error { legs <- o.Leg; return nil },
		play: func(_ context.Context, leg callflow.LegID, p callflow.Prompt) error {
			if p == callflow.PromptConsent {
				played <- leg
			}
			return nil
		},
	}
	e := callflow.New(callflow.Options{PBX: pbx, Store: store, Node: "n1"})
	e.Dispatch(callflow.Event{Kind: callflow.EvInbound, Leg: "in-1", Inbound: &callflow.Inbound{Leg: "in-1", DID: n.DID, CallerNumber: "+447700900123"}})
	winner, loser := <-legs, <-legs
	e.Dispatch(callflow.Event{Kind: callflow.EvAnswered, Leg: winner})
	e.Dispatch(callflow.Event{Kind: callflow.EvHangup, Leg: loser, Cause: callflow.CauseNormal}) // the loser, hung up by vnumd
	for range 2 {
		select {
		case leg := <-played:
			e.Dispatch(callflow.Event{Kind: callflow.EvPlaybackDone, Leg: leg})
		case <-time.After(5 * time.Second):
			t.Fatal("the consent announcement was not played to both parties")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		pbx.mu.Lock()
		n := pbx.records
		pbx.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call was not recorded after both parties heard the announcement")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.Dispatch(callflow.Event{Kind: callflow.EvHangup, Leg: "in-1"})
	for e.Active() != 0 {
		if time.Now().After(deadline.Add(5 * time.Second)) {
			t.Fatal("the call never ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.Wait()
}
