package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

func TestRoomSettings(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{})
	r := routing.Room{Name: "standup", PIN: "1234", ModeratorPIN: "9876", MaxParticipants: 5, Announce: true}
	if err := s.AddRoom(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := s.AddRoom(ctx, r); !errors.Is(err, redisstore.ErrExists) {
		t.Fatalf("second add: %v", err)
	}
	got, err := s.GetRoom(ctx, "standup")
	if err != nil || got != r {
		t.Fatalf("got %+v, %v", got, err)
	}
	// Invalid settings: one error naming the field, nothing written.
	before := srv.Client().DBSize(ctx).Val()
	for _, bad := range []routing.Room{
		{Name: "standup", PIN: "12"},
		{Name: "standup", MaxParticipants: 1000},
		{Name: "bad name"},
	} {
		err := s.UpdateRoom(ctx, bad)
		if !errors.Is(err, routing.ErrBadRoom) {
			t.Fatalf("update %+v: %v", bad, err)
		}
		if bad.Name != "standup" {
			continue
		}
		if err := s.AddRoom(ctx, routing.Room{Name: "other", PIN: bad.PIN, MaxParticipants: bad.MaxParticipants}); !errors.Is(err, routing.ErrBadRoom) {
			t.Fatalf("add: %v", err)
		}
	}
	if after := srv.Client().DBSize(ctx).Val(); after != before {
		t.Fatalf("refused settings wrote keys: %d -> %d", before, after)
	}
	if got, _ := s.GetRoom(ctx, "standup"); got.PIN != "1234" || got.MaxParticipants != 5 {
		t.Fatalf("refused update changed the room: %+v", got)
	}
	if err := s.UpdateRoom(ctx, routing.Room{Name: "nope"}); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("update of a missing room: %v", err)
	}
	if err := s.LockRoom(ctx, "standup", true); err != nil {
		t.Fatal(err)
	}
	r.MaxParticipants = 7
	if err := s.UpdateRoom(ctx, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetRoom(ctx, "standup"); !got.Locked || got.MaxParticipants != 7 {
		t.Fatalf("update lost the lock or the size: %+v", got)
	}
	if err := s.LockRoom(ctx, "nope", true); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("lock of a missing room: %v", err)
	}
	if err := s.AddRoom(ctx, routing.Room{Name: "alpha"}); err != nil {
		t.Fatal(err)
	}
	rooms, err := s.ListRooms(ctx)
	if err != nil || len(rooms) != 2 || rooms[0].Name != "alpha" || rooms[1].Name != "standup" {
		t.Fatalf("list %+v, %v", rooms, err)
	}
	if err := s.RemoveRoom(ctx, "alpha"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetRoom(ctx, "alpha"); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("removed room: %v", err)
	}
	if err := s.RemoveRoom(ctx, "alpha"); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
}

func TestRosterLimitsLockAndIntents(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{})
	if err := s.AddRoom(ctx, routing.Room{Name: "r", MaxParticipants: 3}); err != nil {
		t.Fatal(err)
	}
	// Ten callers at once into a room of three: exactly three get in.
	var mu sync.Mutex
	var in []routing.RoomMember
	full := 0
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := s.JoinRoom(ctx, "r", routing.RoomMember{CallID: "c" + string(rune('0'+i)), Node: "n1", Leg: "l"}, time.Minute)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				in = append(in, m)
			case errors.Is(err, routing.ErrRoomFull):
				full++
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(in) != 3 || full != 7 {
		t.Fatalf("%d joined, %d refused as full", len(in), full)
	}
	roster, err := s.Roster(ctx, "r")
	if err != nil || len(roster) != 3 || roster[0].ID != "1" || roster[2].ID != "3" {
		t.Fatalf("roster %+v, %v", roster, err)
	}
	// Intents.
	if err := s.MuteMember(ctx, "r", "2", true); err != nil {
		t.Fatal(err)
	}
	if err := s.KickMember(ctx, "r", "3"); err != nil {
		t.Fatal(err)
	}
	if err := s.MuteMember(ctx, "r", "42", true); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("mute of no member: %v", err)
	}
	if err := s.MuteMember(ctx, "r", "2 x", true); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("mute of a bad id: %v", err)
	}
	joined := time.Now().Truncate(time.Millisecond)
	if ok, err := s.TouchMember(ctx, "r", "1", joined, time.Minute); !ok || err != nil {
		t.Fatalf("touch: %v %v", ok, err)
	}
	roster, _ = s.Roster(ctx, "r")
	if roster[0].Joined.IsZero() || !roster[0].Joined.Equal(joined) || !roster[1].Muted || roster[1].Kicked || !roster[2].Kicked {
		t.Fatalf("roster %+v", roster)
	}
	if err := s.MuteMember(ctx, "r", "2", false); err != nil {
		t.Fatal(err)
	}
	// Locked: participants are refused, moderators enter.
	if _, err := s.LeaveRoom(ctx, "r", "3", "n1"); err != nil {
		t.Fatal(err)
	}
	if err := s.LockRoom(ctx, "r", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.JoinRoom(ctx, "r", routing.RoomMember{CallID: "x"}, time.Minute); !errors.Is(err, routing.ErrRoomLocked) {
		t.Fatalf("join of a locked room: %v", err)
	}
	m, err := s.JoinRoom(ctx, "r", routing.RoomMember{CallID: "mod", Moderator: true}, time.Minute)
	if err != nil || m.ID != "4" {
		t.Fatalf("moderator into a locked room: %+v %v", m, err)
	}
	roster, _ = s.Roster(ctx, "r")
	if len(roster) != 3 || roster[1].Muted || !roster[2].Moderator {
		t.Fatalf("roster %+v", roster)
	}
	if ok, _ := s.TouchMember(ctx, "r", "3", time.Time{}, time.Minute); ok {
		t.Fatal("a member who left was refreshed")
	}
	if _, err := s.JoinRoom(ctx, "gone", routing.RoomMember{}, time.Minute); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("join of no room: %v", err)
	}
}

func TestRoomHostLockAndExpiry(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s, _ := newStore(t, redisstore.Options{Now: clock})
	if err := s.AddRoom(ctx, routing.Room{Name: "r"}); err != nil {
		t.Fatal(err)
	}
	if owner, err := s.ClaimRoom(ctx, "r", "n1", time.Minute); err != nil || owner != "n1" {
		t.Fatalf("first claim: %q %v", owner, err)
	}
	a, _ := s.JoinRoom(ctx, "r", routing.RoomMember{CallID: "a", Node: "n1"}, 30*time.Second)
	if owner, _ := s.ClaimRoom(ctx, "r", "n2", time.Minute); owner != "n1" {
		t.Fatalf("a second node took a live room: %q", owner)
	}
	if owner, _ := s.ClaimRoom(ctx, "r", "n1", time.Minute); owner != "n1" {
		t.Fatalf("refresh: %q", owner)
	}
	if h, _ := s.RoomHost(ctx, "r"); h != "n1" {
		t.Fatalf("host %q", h)
	}
	// The last member leaves: the room is free for any node.
	if left, err := s.LeaveRoom(ctx, "r", a.ID, "n1"); err != nil || left != 0 {
		t.Fatalf("leave: %d %v", left, err)
	}
	if h, _ := s.RoomHost(ctx, "r"); h != "" {
		t.Fatalf("host after the last left: %q", h)
	}
	if owner, _ := s.ClaimRoom(ctx, "r", "n2", time.Minute); owner != "n2" {
		t.Fatalf("n2 could not host a free room: %q", owner)
	}
	// n2 dies with a member in the room: the member is no longer
	// refreshed, it drops out of the roster, and n1 may host the room.
	if _, err := s.JoinRoom(ctx, "r", routing.RoomMember{CallID: "b", Node: "n2"}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if owner, _ := s.ClaimRoom(ctx, "r", "n1", time.Minute); owner != "n2" {
		t.Fatalf("claim while n2's member lives: %q", owner)
	}
	advance(31 * time.Second)
	if r, _ := s.Roster(ctx, "r"); len(r) != 0 {
		t.Fatalf("a dead node's member is still listed: %+v", r)
	}
	if owner, _ := s.ClaimRoom(ctx, "r", "n1", time.Minute); owner != "n1" {
		t.Fatalf("a stale lock kept the room: %q", owner)
	}
	if _, err := s.JoinRoom(ctx, "r", routing.RoomMember{CallID: "c", Node: "n1"}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Roster(ctx, "r"); len(r) != 1 || r[0].CallID != "c" {
		t.Fatalf("roster %+v", r)
	}
}

func TestRoomKeysShareOneSlot(t *testing.T) {
	// Every key of a room has the name as its hash tag, so the scripts run
	// on a Cluster too.
	c := redistest.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	s := redisstore.New(rdb, redisstore.Options{})
	if err := s.AddRoom(ctx, routing.Room{Name: "cl", MaxParticipants: 2}); err != nil {
		t.Fatal(err)
	}
	if owner, err := s.ClaimRoom(ctx, "cl", "n1", time.Minute); err != nil || owner != "n1" {
		t.Fatal(owner, err)
	}
	m, err := s.JoinRoom(ctx, "cl", routing.RoomMember{CallID: "a"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.MuteMember(ctx, "cl", m.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LeaveRoom(ctx, "cl", m.ID, "n1"); err != nil {
		t.Fatal(err)
	}
	rooms, err := s.ListRooms(ctx)
	if err != nil || len(rooms) != 1 || !strings.EqualFold(rooms[0].Name, "cl") {
		t.Fatalf("%+v %v", rooms, err)
	}
}

// A member the store lost (outage, failover) is put back by its call with
// its id, join time and mute state, past the size check.
func TestRestoreMember(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{})
	if err := s.AddRoom(ctx, routing.Room{Name: "r", MaxParticipants: 2}); err != nil {
		t.Fatal(err)
	}
	a, _ := s.JoinRoom(ctx, "r", routing.RoomMember{CallID: "a", Node: "n1", Moderator: true}, time.Minute)
	b, _ := s.JoinRoom(ctx, "r", routing.RoomMember{CallID: "b", Node: "n1"}, time.Minute)
	srv.Client().Del(ctx, "vnum:conf:{r}:roster", "vnum:conf:{r}:live")
	if m, _ := s.Roster(ctx, "r"); len(m) != 0 {
		t.Fatalf("%+v", m)
	}
	joined := time.Now().Truncate(time.Millisecond)
	a.Joined, a.Muted = joined, true
	for _, m := range []routing.RoomMember{a, b} {
		if err := s.RestoreMember(ctx, "r", m, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	m, _ := s.Roster(ctx, "r")
	if len(m) != 2 || m[0].ID != a.ID || !m[0].Moderator || !m[0].Muted || !m[0].Joined.Equal(joined) || m[1].ID != b.ID || !m[1].Joined.IsZero() {
		t.Fatalf("restored roster %+v", m)
	}
	if _, err := s.JoinRoom(ctx, "r", routing.RoomMember{CallID: "c"}, time.Minute); !errors.Is(err, routing.ErrRoomFull) {
		t.Fatalf("the restored roster does not count: %v", err)
	}
}
