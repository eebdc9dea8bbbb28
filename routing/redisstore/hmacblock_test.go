package redisstore_test

import (
	"context"
	"testing"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// An hmac deployment blocks a repeat caller by the form its records show,
// never knowing the number, and the entry can be removed the same way.
func TestBlockByHMACForm(t *testing.T) {
	ctx := context.Background()
	priv := routing.Privacy{Caller: routing.StoreHMAC, Key: []byte("deployment-key-0123456789")}
	s, _ := newStore(t, redisstore.Options{Privacy: priv})
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	form := priv.Record(caller) // what a CDR of this caller shows
	p, err := routing.ParsePattern(form, "")
	if err != nil {
		t.Fatal(err)
	}
	l := redisstore.Blocklist
	for _, target := range []string{did, ""} { // the number's list, then the global one
		want := routing.ReasonBlockedNumber
		if target == "" {
			want = routing.ReasonBlockedGlobal
		}
		if err := s.AddEntry(ctx, l, target, routing.Entry{Pattern: p, Reason: "repeat caller"}); err != nil {
			t.Fatal(err)
		}
		if d, err := s.Decide(ctx, call("b-"+string(want), caller)); err != nil || d.Action != routing.ActionReject || d.Reason != want {
			t.Fatalf("%s: caller blocked by its hmac form: %+v %v", want, d, err)
		}
		if err := s.RemoveEntry(ctx, l, target, p); err != nil {
			t.Fatal(err)
		}
		if d, err := s.Simulate(ctx, call("ok", caller)); err != nil || d.Action != routing.ActionForward {
			t.Fatalf("%s: after removal: %+v %v", want, d, err)
		}
	}
}
