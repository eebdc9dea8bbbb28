package callflow_test

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
	"github.com/vnum/vnum/routing/redisstore"
)

// roomPBX is a fake PBX that reports the end of every prompt and records
// what each leg heard and which room it joined.
type roomPBX struct {
	fakePBX
	e      *callflow.Engine
	wg     sync.WaitGroup
	mu     sync.Mutex
	played map[callflow.LegID][]callflow.Prompt
	joined map[callflow.LegID]string
}

func newRoomPBX() *roomPBX {
	return &roomPBX{played: map[callflow.LegID][]callflow.Prompt{}, joined: map[callflow.LegID]string{}}
}

func (p *roomPBX) Play(_ context.Context, leg callflow.LegID, pr callflow.Prompt) error {
	p.mu.Lock()
	p.played[leg] = append(p.played[leg], pr)
	p.mu.Unlock()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		time.Sleep(5 * time.Millisecond)
		p.e.Dispatch(callflow.Event{Kind: callflow.EvPlaybackDone, Leg: leg})
	}()
	return nil
}

func (p *roomPBX) Join(_ context.Context, room string, leg callflow.LegID) error {
	p.mu.Lock()
	p.joined[leg] = room
	p.mu.Unlock()
	return nil
}

func (p *roomPBX) heard(leg callflow.LegID) []callflow.Prompt {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.played[leg])
}

func (p *roomPBX) room(leg callflow.LegID) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.joined[leg]
}

func (p *roomPBX) wasHungUp(leg callflow.LegID) bool {
	p.fakePBX.mu.Lock()
	defer p.fakePBX.mu.Unlock()
	return slices.Contains(p.hungUp, leg)
}

func roomWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

const roomDID = "+33187654321"

func inbound(e *callflow.Engine, leg callflow.LegID, did string) {
	e.Dispatch(callflow.Event{Kind: callflow.EvInbound, Leg: leg, Inbound: &callflow.Inbound{Leg: leg, DID: did, CallerNumber: "+447700900123"}})
}

// A room lives on one node: a caller reaching another node while the
// room is hosted hears "locked", is hung up, and that node's log says
// which node hosts the room. Once the room empties, the other node may
// host it.
func TestRoomHostedByAnotherNode(t *testing.T) {
	r := redistest.Start(t)
	store := redisstore.New(r.Client(), redisstore.Options{})
	ctx := context.Background()
	if err := store.AddRoom(ctx, routing.Room{Name: "standup"}); err != nil {
		t.Fatal(err)
	}
	if err := store.AddNumber(ctx, routing.Number{DID: roomDID, Route: routing.Route{Conference: "standup"}}); err != nil {
		t.Fatal(err)
	}
	p1, p2 := newRoomPBX(), newRoomPBX()
	var logs syncBuffer
	e1 := callflow.New(callflow.Options{PBX: p1, Store: store, Node: "n1"})
	e2 := callflow.New(callflow.Options{PBX: p2, Store: store, Node: "n2", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	p1.e, p2.e = e1, e2
	inbound(e1, "a", roomDID)
	roomWait(t, "the first caller in the room on n1", func() bool { return p1.room("a") == callflow.PBXRoom("standup") })
	inbound(e2, "b", roomDID)
	roomWait(t, "the caller on n2 turned away", func() bool { return p2.wasHungUp("b") })
	if p2.room("b") != "" || !slices.Contains(p2.heard("b"), callflow.PromptRoomLocked) {
		t.Fatalf("n2's caller joined %q, heard %v", p2.room("b"), p2.heard("b"))
	}
	if l := logs.String(); !strings.Contains(l, "hosted by another node") || !strings.Contains(l, "host=n1") {
		t.Fatalf("n2 did not say why: %s", l)
	}
	e2.Dispatch(callflow.Event{Kind: callflow.EvHangup, Leg: "b"})
	// The room empties on n1: n2 may host it now.
	e1.Dispatch(callflow.Event{Kind: callflow.EvHangup, Leg: "a"})
	roomWait(t, "the room freed", func() bool { h, _ := store.RoomHost(ctx, "standup"); return h == "" })
	inbound(e2, "c", roomDID)
	roomWait(t, "n2 hosting the room", func() bool { return p2.room("c") == callflow.PBXRoom("standup") })
	e2.Dispatch(callflow.Event{Kind: callflow.EvHangup, Leg: "c"})
	roomWait(t, "every call over", func() bool { return e1.Active() == 0 && e2.Active() == 0 })
	e1.Wait()
	e2.Wait()
	p1.wg.Wait()
	p2.wg.Wait()
}

// storeOnly hides the store's conference methods.
type storeOnly struct{ callflow.Store }

// A number or IVR option naming a room that does not exist (or a store
// without rooms) is "not in service", never dead air.
func TestRoomMissingNotInService(t *testing.T) {
	r := redistest.Start(t)
	store := redisstore.New(r.Client(), redisstore.Options{})
	ctx := context.Background()
	if err := store.AddNumber(ctx, routing.Number{DID: roomDID, Route: routing.Route{Conference: "nope"}}); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]callflow.Store{"no such room": store, "store without rooms": storeOnly{store}} {
		t.Run(name, func(t *testing.T) {
			p := newRoomPBX()
			e := callflow.New(callflow.Options{PBX: p, Store: s, Node: "n1"})
			p.e = e
			inbound(e, "a", roomDID)
			roomWait(t, "the caller hung up", func() bool { return p.wasHungUp("a") })
			if !slices.Contains(p.heard("a"), callflow.PromptNotInService) || p.room("a") != "" {
				t.Fatalf("heard %v, room %q", p.heard("a"), p.room("a"))
			}
			roomWait(t, "the call over", func() bool { return e.Active() == 0 })
			e.Wait()
			p.wg.Wait()
		})
	}
}

// The store loses the roster (an outage longer than the lease, a failover
// to an empty replica): nobody in the room is dropped, not even in a room
// that ends with its moderator; each call puts its member back.
func TestRoomSurvivesLostRoster(t *testing.T) {
	r := redistest.Start(t)
	store := redisstore.New(r.Client(), redisstore.Options{})
	ctx := context.Background()
	if err := store.AddRoom(ctx, routing.Room{Name: "standup", ModeratorPIN: "9876", EndWithModerator: true}); err != nil {
		t.Fatal(err)
	}
	if err := store.AddNumber(ctx, routing.Number{DID: roomDID, Route: routing.Route{Conference: "standup"}}); err != nil {
		t.Fatal(err)
	}
	p := newRoomPBX()
	e := callflow.New(callflow.Options{PBX: p, Store: store, Node: "n1"})
	p.e = e
	inbound(e, "mod", roomDID)
	roomWait(t, "the PIN asked", func() bool { return slices.Contains(p.heard("mod"), callflow.PromptEnterPIN) })
	for _, d := range "9876#" {
		e.Dispatch(callflow.Event{Kind: callflow.EvDTMF, Leg: "mod", Digit: string(d)})
	}
	roomWait(t, "the moderator in", func() bool { return p.room("mod") != "" })
	inbound(e, "a", roomDID)
	roomWait(t, "the PIN asked", func() bool { return slices.Contains(p.heard("a"), callflow.PromptEnterPIN) })
	e.Dispatch(callflow.Event{Kind: callflow.EvDTMF, Leg: "a", Digit: "#"})
	roomWait(t, "the participant in", func() bool { return p.room("a") != "" })
	r.Client().Del(ctx, "vnum:conf:{standup}:roster", "vnum:conf:{standup}:live")
	roomWait(t, "both back in the roster", func() bool { m, _ := store.Roster(ctx, "standup"); return len(m) == 2 })
	time.Sleep(5 * callflow.RoomPoll)
	if p.wasHungUp("a") || p.wasHungUp("mod") {
		t.Fatal("a lost roster dropped a caller")
	}
	// The moderator leaves for real: the room ends.
	e.Dispatch(callflow.Event{Kind: callflow.EvHangup, Leg: "mod"})
	roomWait(t, "the participant hung up after the moderator left", func() bool { return p.wasHungUp("a") })
	e.Dispatch(callflow.Event{Kind: callflow.EvHangup, Leg: "a"})
	roomWait(t, "every call over", func() bool { return e.Active() == 0 })
	e.Wait()
	p.wg.Wait()
}
