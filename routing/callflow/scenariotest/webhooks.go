package scenariotest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vnum/vnum/internal/webhook"
	"github.com/vnum/vnum/internal/webhook/webhooktest"
)

const hookSecret = "scenario-webhook-secret-0123456789"

// webhooks: the number's endpoint gets signed call events (one retried
// after a 500), while a global endpoint that never answers slows nothing.
func webhooks(t *testing.T, e *Env) {
	ctx := context.Background()
	addNumber(t, e)
	good := webhooktest.New(t, hookSecret)
	good.FailNext(1, 500)
	dead := webhooktest.New(t, hookSecret)
	dead.Hang()
	if _, err := e.Store.AddWebhook(ctx, webhook.Endpoint{URL: good.URL, DID: did, Secret: hookSecret}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.AddWebhook(ctx, webhook.Endpoint{URL: dead.URL, Secret: hookSecret}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // vnumd re-reads endpoints every 100 ms in tests

	e.PBX.Target(mobile, Behavior{AnswerAfter: 50 * time.Millisecond})
	// Several calls while the dead endpoint holds every request: each is
	// set up and ends as usual.
	for i := range 3 {
		c := e.PBX.Inbound(t, did, caller, callerNam)
		callee := reached(t, e, mobile, i+1)[i]
		eventually(t, "the call connected while an endpoint hangs", func() bool { return c.Answered() && callee.Answered() })
		c.Hangup()
		wait(t, callee, "the callee")
		noLiveCalls(t, e)
	}
	select {
	case <-dead.Arrived():
	default:
		t.Fatal("the dead endpoint was never called: the test proves nothing")
	}

	got := good.WaitDelivered(t, 9, 15*time.Second)
	var types []string
	for _, d := range got {
		if d.Verified != nil {
			t.Fatalf("delivery %s: signature not valid: %v", d.Event.Type, d.Verified)
		}
		if d.Event.DID != did {
			t.Fatalf("the number's endpoint got an event of %q", d.Event.DID)
		}
		types = append(types, d.Event.Type)
	}
	for _, want := range []string{webhook.CallStarted, webhook.CallAnswered, webhook.CallEnded} {
		if !slices.Contains(types, want) {
			t.Fatalf("no %s delivered; got %v", want, types)
		}
	}
	retried := false
	for _, r := range good.Requests() {
		if r.Status == 500 {
			retried = true
		}
	}
	if !retried || len(good.Requests()) < len(got)+1 {
		t.Fatalf("the 500 was not retried: %d requests for %d deliveries", len(good.Requests()), len(got))
	}
	for _, d := range got {
		if caller := d.Event.Data["caller"]; caller != nil && caller == "+447700900123" {
			t.Fatalf("a webhook carried the raw caller number under a last4 policy: %v", d.Event.Data)
		}
	}
}
