package redisstore_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// callerForms are the ways the test caller's number could be written:
// E.164 with and without '+', and the national significant number (which
// the national format 07700 900123 contains too).
var callerForms = []string{"+447700900123", "447700900123", "7700900123"}

// rawCallerIn scans every key name and every value (strings, hashes, sets,
// zsets with scores, lists, streams) for any form of the caller's number
// and returns where it is found.
func rawCallerIn(t *testing.T, rdb redis.UniversalClient) []string {
	t.Helper()
	ctx := context.Background()
	var hits []string
	check := func(where, s string) {
		for _, f := range callerForms {
			if strings.Contains(s, f) {
				hits = append(hits, fmt.Sprintf("%s: %q", where, s))
				return
			}
		}
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		check("key name", k)
		typ, err := rdb.Type(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		var vals []string
		switch typ {
		case "string":
			vals = []string{rdb.Get(ctx, k).Val()}
		case "hash":
			for f, v := range rdb.HGetAll(ctx, k).Val() {
				vals = append(vals, f, v)
			}
		case "set":
			vals = rdb.SMembers(ctx, k).Val()
		case "zset":
			for _, z := range rdb.ZRangeWithScores(ctx, k, 0, -1).Val() {
				vals = append(vals, fmt.Sprint(z.Member), fmt.Sprint(int64(z.Score)))
			}
		case "list":
			vals = rdb.LRange(ctx, k, 0, -1).Val()
		case "stream":
			for _, m := range rdb.XRange(ctx, k, "-", "+").Val() {
				vals = append(vals, m.ID)
				for f, v := range m.Values {
					vals = append(vals, f, fmt.Sprint(v))
				}
			}
		case "none":
			continue
		default:
			t.Fatalf("key %s of type %s: the scan does not read it", k, typ)
		}
		for _, v := range vals {
			check(k, v)
		}
	}
	return hits
}

// With caller storage hmac, nothing the store keeps about a call holds
// the caller's number in any form: decisions with velocity limits on (up
// to an automatic block and the calls it rejects), the live-call registry,
// concurrency slots, daily minutes, CDRs, recording and voicemail
// metadata, the deletion queue, a release.
func TestHMACStoresNoRawCaller(t *testing.T) {
	ctx := context.Background()
	priv := routing.Privacy{Caller: routing.StoreHMAC, Key: []byte("a-deployment-key-of-32-bytes-xyz")}
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprint("split=", split), func(t *testing.T) {
			s, srv := newStore(t, redisstore.Options{Privacy: priv, SplitGlobal: split,
				Velocity: redisstore.Velocity{PerDID: 2, DIDs: 5, Window: time.Minute, Block: time.Hour}})
			rdb := srv.Client()
			if _, _, err := s.AddToPool(ctx, "eu", []string{did}, time.Hour); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Allocate(ctx, "eu", "", ""); err != nil {
				t.Fatal(err)
			}
			if err := s.AddNumber(ctx, number(func(n *routing.Number) {
				n.Route.Record, n.Route.Voicemail = true, true
				n.Limits = routing.Limits{MaxConcurrent: 3, DailyMinutes: 100}
				n.Labels = map[string]string{routing.LabelPool: "eu"}
			})); err != nil {
				t.Fatal(err)
			}
			if err := s.AddNumber(ctx, number(func(n *routing.Number) { n.DID = other })); err != nil {
				t.Fatal(err)
			}
			rec := priv.Record(caller)
			var reasons []routing.Reason
			for i := range 4 {
				c := call(fmt.Sprint("call-", i), caller)
				if i == 1 {
					c.DID = other
				}
				d, err := s.Decide(ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				reasons = append(reasons, d.Reason)
				if d.SlotHeld {
					// What the call flow registers, with the caller as the
					// privacy policy keeps it.
					lc := routing.LiveCall{ID: c.ID, DID: c.DID, Node: "n1", PBX: "asterisk", Caller: rec, State: "bridged",
						Started: c.At, Legs: []string{"leg-" + c.ID}, Record: "rec-" + c.ID, Slot: true}
					if err := s.PutCall(ctx, lc); err != nil {
						t.Fatal(err)
					}
				}
			}
			// Two calls to did and one to other, then the velocity limit
			// (with the global list read in parallel, the block the limit
			// just added may already be seen).
			if fmt.Sprint(reasons[:3]) != "[forward forward forward]" ||
				reasons[3] != routing.ReasonVelocity && reasons[3] != routing.ReasonBlockedGlobal {
				t.Fatalf("reasons %v, want 3 forwards then the velocity limit", reasons)
			}
			if d, _ := s.Decide(ctx, call("call-blocked", caller)); d.Reason != routing.ReasonBlockedGlobal {
				t.Fatalf("the blocked caller's next call: %+v", d)
			}
			if d, _ := s.Simulate(ctx, call("sim", caller)); d.Reason != routing.ReasonBlockedGlobal {
				t.Fatalf("simulated: %+v", d)
			}
			now := time.Now()
			if err := s.AddMinutes(ctx, did, 90*time.Second, now); err != nil {
				t.Fatal(err)
			}
			for _, r := range []routing.Recording{
				{Name: "rec-call-0", CallID: "call-0", DID: did, Kind: "call", Caller: rec, Started: now, Duration: time.Minute},
				{Name: "vm-call-2", CallID: "call-2", DID: did, Kind: "voicemail", Caller: rec, Started: now, Duration: 20 * time.Second},
			} {
				if err := s.PutRecording(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.WriteCDR(ctx, routing.CDR{CallID: "call-0", DID: did, Caller: rec, Node: "n1", PBX: "asterisk", Action: "forward",
				Outcome: "answered", Reason: "forward", Target: mobile, Started: now, Ended: now, Recording: "rec-call-0"}); err != nil {
				t.Fatal(err)
			}
			if hits := rawCallerIn(t, rdb); len(hits) > 0 {
				t.Fatalf("the caller's number is stored:\n%s", strings.Join(hits, "\n"))
			}
			// The release moves the rest around (quarantine, deletion queue).
			if _, err := s.ReleaseNumber(ctx, did); err != nil {
				t.Fatal(err)
			}
			if hits := rawCallerIn(t, rdb); len(hits) > 0 {
				t.Fatalf("after the release, the caller's number is stored:\n%s", strings.Join(hits, "\n"))
			}
			// The scan does find the number where it is (the test can fail).
			rdb.HSet(ctx, "vnum:call:{planted}", "caller", "07700900123")
			if hits := rawCallerIn(t, rdb); len(hits) != 1 {
				t.Fatalf("a planted national-format caller was not found: %v", hits)
			}
		})
	}
}
