package daemon_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vnum/vnum/ari"
	"github.com/vnum/vnum/ari/aritest"
	"github.com/vnum/vnum/internal/daemon"
	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"))
}

// The health endpoint says whether the PBX link and the store are up, and
// the metrics count calls by action — on loopback.
func TestHealthAndMetrics(t *testing.T) {
	r := redistest.Start(t)
	srv, err := aritest.New(aritest.Options{User: "vnum", Password: "pw-for-tests", App: "vnum"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	store := redisstore.New(r.Client(), redisstore.Options{})
	if err := store.AddNumber(context.Background(), routing.Number{DID: "+33187654321",
		Route: routing.Route{Targets: []routing.Target{{E164: "+33612345678"}}}}); err != nil {
		t.Fatal(err)
	}
	drv, err := ari.New(ari.Options{URL: srv.URL(), User: "vnum", Password: "pw-for-tests", Trunk: "PJSIP/{e164}@carrier"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(daemon.Config{Node: "n1", Listen: "127.0.0.1:0", Redis: r.Client(), Driver: drv})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	<-d.Ready()
	if !strings.HasPrefix(d.Addr(), "127.0.0.1:") {
		t.Fatalf("health endpoint on %s", d.Addr())
	}
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + d.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := get("/readyz")
		var st struct {
			PBXConnected bool `json:"pbx_connected"`
			StoreOK      bool `json:"store_ok"`
		}
		_ = json.Unmarshal([]byte(body), &st)
		if code == 200 && st.PBXConnected && st.StoreOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c, err := srv.Inbound(aritest.InboundCall{DID: "+33187654321", CallerNumber: "+447700900123"})
	if err != nil {
		t.Fatal(err)
	}
	for !c.Answered() && time.Now().Before(deadline.Add(5*time.Second)) {
		time.Sleep(10 * time.Millisecond)
	}
	c.Hangup()
	<-c.Done()
	for {
		_, body := get("/metrics")
		if strings.Contains(body, `vnum_calls_total{action="forward"} 1`) && strings.Contains(body, `vnum_calls_ended_total{outcome="answered"} 1`) {
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("metrics lack the call:\n%s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	// The store going away shows in /readyz (the PBX link is what gates it).
	r.Pause()
	_, body := get("/readyz")
	r.Resume()
	if !strings.Contains(body, `"store_ok":false`) {
		t.Fatalf("/readyz with the store paused: %s", body)
	}
}

// A running vnumd sweeps the number lifecycle: an expired pool number goes
// to quarantine (not in service, its records purged) without an operator.
func TestSweepsExpiredNumbers(t *testing.T) {
	r := redistest.Start(t)
	srv, err := aritest.New(aritest.Options{User: "vnum", Password: "pw-for-tests", App: "vnum"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	store := redisstore.New(r.Client(), redisstore.Options{})
	if _, _, err := store.AddToPool(ctx, "paris", []string{"+33187654301"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	did, err := store.Allocate(ctx, "paris", "", "")
	if err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(300 * time.Millisecond)
	if err := store.AddNumber(ctx, routing.Number{DID: did, ExpiresAt: &soon, Labels: map[string]string{routing.LabelPool: "paris"},
		Route: routing.Route{Targets: []routing.Target{{E164: "+33612345678"}}}}); err != nil {
		t.Fatal(err)
	}
	drv, err := ari.New(ari.Options{URL: srv.URL(), User: "vnum", Password: "pw-for-tests", Trunk: "PJSIP/{e164}@carrier"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := daemon.New(daemon.Config{Node: "n1", Redis: r.Client(), Driver: drv, SweepEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(rctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		// In quarantine, and its record purged (the sweep finishes both).
		pool, _, err := store.QuarantineOf(ctx, did)
		_, gerr := store.GetNumber(ctx, did)
		if err == nil && pool == "paris" && gerr != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expired number was not quarantined and purged: %v / %v", err, gerr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
