package redisstore_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/ivr"
	"github.com/vnum/vnum/routing/redisstore"
)

const ivrFile = `start: main
menus:
  main:
    prompt: sound:ivr-welcome
    options:
      "1": {forward: ["+33612345678"], strategy: simultaneous}
      "2": {menu: sales}
    default: {voicemail: true}
  sales:
    prompt: file:sales
    options:
      "1": {forward: ["sip:sales@pbx.example.com"]}
`

func parseIVR(t *testing.T, src string) *ivr.Menu {
	t.Helper()
	m, err := ivr.Parse([]byte(src), "FR")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIVRRoundTripAndDecision(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{})
	m := parseIVR(t, ivrFile)

	// Unknown number: an error, nothing written.
	if err := s.SetIVR(ctx, did, m); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("unknown number: %v", err)
	}
	if keys := srv.Client().Keys(ctx, "*").Val(); len(keys) != 0 {
		t.Fatalf("wrote %v", keys)
	}
	if err := s.AddNumber(ctx, number(func(n *routing.Number) { n.Limits.MaxConcurrent = 2 })); err != nil {
		t.Fatal(err)
	}
	// A decision before: forward (and the spec is now cached).
	if d, _ := s.Simulate(ctx, call("c0", caller)); d.Action != routing.ActionForward {
		t.Fatalf("before: %+v", d)
	}
	if _, err := s.GetIVR(ctx, did); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("get before set: %v", err)
	}
	if err := s.SetIVR(ctx, did, m); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetIVR(ctx, did)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip:\n%+v\n%+v", got, m)
	}
	// The decision sees the IVR at once (the cached spec is stale) and
	// holds the slot.
	d, err := s.Decide(ctx, call("c1", caller))
	if err != nil || d.Action != routing.ActionIVR || !d.SlotHeld || d.CallerID.Number != did {
		t.Fatalf("decision with IVR: %+v %v", d, err)
	}
	if n := srv.Client().ZCard(ctx, "vnum:{"+did+"}:slots").Val(); n != 1 {
		t.Fatalf("slots %d", n)
	}
	// A blocked caller never reaches the menu.
	if err := s.AddEntry(ctx, redisstore.Blocklist, did, routing.Entry{Pattern: routing.Pattern(caller)}); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Simulate(ctx, call("c2", caller)); d.Action != routing.ActionReject {
		t.Fatalf("blocked: %+v", d)
	}
	// Updating the number keeps its IVR.
	n, err := s.GetNumber(ctx, did)
	if err != nil || !n.IVR {
		t.Fatalf("number %+v %v", n, err)
	}
	n.Owner = "bob"
	if err := s.UpdateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Simulate(ctx, call("c3", "+14155550100")); d.Action != routing.ActionIVR {
		t.Fatalf("after update: %+v", d)
	}
	// Removed: forwarded again.
	if err := s.RemoveIVR(ctx, did); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Simulate(ctx, call("c4", "+14155550100")); d.Action != routing.ActionForward {
		t.Fatalf("after remove: %+v", d)
	}
	if _, err := s.GetIVR(ctx, did); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("get after remove: %v", err)
	}
	if err := s.RemoveIVR(ctx, did); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("remove twice: %v", err)
	}
	if srv.Client().Exists(ctx, "vnum:{"+did+"}:ivr").Val() != 0 {
		t.Fatal("ivr key left")
	}
}

func TestIVRCountriesAndRemoval(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{})
	if err := s.AddNumber(ctx, number(func(n *routing.Number) {
		n.Limits.AllowCountries = []string{"GB"}
		n.Route.Targets = nil
		n.Route.Voicemail = true
	})); err != nil {
		t.Fatal(err)
	}
	before := srv.Client().HGetAll(ctx, "vnum:{"+did+"}:num").Val()
	// A French target on a number that may only call Britain: refused,
	// nothing changed.
	err := s.SetIVR(ctx, did, parseIVR(t, ivrFile))
	if !errors.Is(err, ivr.ErrInvalid) || err.Error() != `ivr +33187654321: menus.main.options."1".forward[0]: +33612345678 is in "FR", not in the number's allowed countries GB` {
		t.Fatalf("country: %v", err)
	}
	if after := srv.Client().HGetAll(ctx, "vnum:{"+did+"}:num").Val(); !reflect.DeepEqual(before, after) {
		t.Fatal("number changed")
	}
	if srv.Client().Exists(ctx, "vnum:{"+did+"}:ivr").Val() != 0 {
		t.Fatal("ivr written")
	}
	// Allowed at set time, then the number's countries change: the call
	// flow gets the menu without the target (a forward left empty hangs up).
	n, _ := s.GetNumber(ctx, did)
	n.Limits.AllowCountries = nil
	if err := s.UpdateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := s.SetIVR(ctx, did, parseIVR(t, ivrFile)); err != nil {
		t.Fatal(err)
	}
	n, _ = s.GetNumber(ctx, did)
	n.Limits.AllowCountries = []string{"GB"}
	if err := s.UpdateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	m, err := s.GetIVR(ctx, did)
	if err != nil {
		t.Fatal(err)
	}
	if k := m.Menus["main"].Options["1"].Kind(); k != ivr.KindHangup {
		t.Fatalf("restricted option: %s", k)
	}
	if k := m.Menus["sales"].Options["1"].Kind(); k != ivr.KindForward {
		t.Fatalf("SIP option: %s", k)
	}
	// Corrupt stored menu: ErrCorrupt, not a panic.
	srv.Client().Set(ctx, "vnum:{"+did+"}:ivr", "{not json", 0)
	if _, err := s.GetIVR(ctx, did); !errors.Is(err, redisstore.ErrCorrupt) {
		t.Fatalf("corrupt: %v", err)
	}
	// Removing the number removes its menu.
	if err := s.RemoveNumber(ctx, did); err != nil {
		t.Fatal(err)
	}
	if keys := srv.Client().Keys(ctx, "*").Val(); len(keys) != 0 {
		t.Fatalf("left %v", keys)
	}
}

// A caller over the velocity limit is refused the IVR as it would be a
// forward.
func TestIVRVelocity(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t, redisstore.Options{Velocity: redisstore.Velocity{PerDID: 1, Window: time.Minute, Block: time.Hour}})
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	if err := s.SetIVR(ctx, did, parseIVR(t, ivrFile)); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Decide(ctx, call("v1", caller)); err != nil || d.Action != routing.ActionIVR {
		t.Fatalf("first call: %+v %v", d, err)
	}
	// The velocity check runs in parallel with the decision: the block it
	// adds may already be read by this very decision (blocked-global).
	if d, err := s.Decide(ctx, call("v2", caller)); err != nil || d.Action != routing.ActionReject ||
		(d.Reason != routing.ReasonVelocity && d.Reason != routing.ReasonBlockedGlobal) {
		t.Fatalf("second call: %+v %v", d, err)
	}
}

// On a real Redis Cluster the IVR and the number's spec change together
// (one slot: the number's hash tag).
func TestIVROnRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	s := redisstore.New(rdb, redisstore.Options{})
	ctx := context.Background()
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	m := parseIVR(t, ivrFile)
	if err := s.SetIVR(ctx, did, m); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetIVR(ctx, did); err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("get: %v", err)
	}
	if d, err := s.Decide(ctx, call("k1", caller)); err != nil || d.Action != routing.ActionIVR {
		t.Fatalf("decide: %+v %v", d, err)
	}
	if err := s.RemoveIVR(ctx, did); err != nil {
		t.Fatal(err)
	}
	if d, err := s.Decide(ctx, call("k2", caller)); err != nil || d.Action != routing.ActionForward {
		t.Fatalf("decide after remove: %+v %v", d, err)
	}
}

// A rotated number keeps its IVR; the released one leaves none behind.
func TestIVRRotate(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{})
	if _, _, err := s.AddToPool(ctx, "eu", paris[:2], 0); err != nil {
		t.Fatal(err)
	}
	old := provision(t, s, "eu", "FR", "")
	m := parseIVR(t, ivrFile)
	if err := s.SetIVR(ctx, old.DID, m); err != nil {
		t.Fatal(err)
	}
	rot, err := s.Rotate(ctx, old.DID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetIVR(ctx, rot.New)
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("rotated menu: %v", err)
	}
	d, err := s.Simulate(ctx, routing.Call{ID: "r1", DID: rot.New, Caller: caller, At: time.Now()})
	if err != nil || d.Action != routing.ActionIVR {
		t.Fatalf("rotated decision: %+v %v", d, err)
	}
	if srv.Client().Exists(ctx, "vnum:{"+old.DID+"}:ivr").Val() != 0 {
		t.Fatal("released number's menu left")
	}
}
