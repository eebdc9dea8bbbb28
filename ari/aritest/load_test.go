package aritest

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoad forwards many concurrent calls through the emulator with a
// controller that does what vnumd does over REST (answer, bridge,
// originate, add the callee) and reports the setup rate and latency.
// VNUM_ARITEST_LOAD_CALLS sets the number of calls (default 250), all up at
// the same time; VNUM_ARITEST_LOAD_CPS the offered rate (default 1000/s).
func TestLoad(t *testing.T) {
	n := envInt("VNUM_ARITEST_LOAD_CALLS", 250)
	cps := envInt("VNUM_ARITEST_LOAD_CPS", 1000)
	s, err := New(Options{User: testUser, Password: testPass, DisableRequestLog: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetDefaultDestination(Behavior{RingEvent: true})

	tr := &http.Transport{MaxIdleConnsPerHost: 128}
	rest := &restClient{base: s.URL()[:len(s.URL())-len("/ari")], user: testUser, pass: testPass,
		hc: &http.Client{Timeout: 10 * time.Second, Transport: tr}}
	defer rest.close()

	var (
		mu       sync.Mutex
		started  = map[string]time.Time{}
		latency  []time.Duration
		bridged  = make(chan struct{}, n)
		ended    = make(chan struct{}, n)
		failures atomic.Int64
	)
	jobs := make(chan func(), 4*n+16)
	var workers sync.WaitGroup
	for range 64 {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for j := range jobs {
				j()
			}
		}()
	}
	defer func() { close(jobs); workers.Wait() }()
	post := func(method, path, query string, body any) {
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		st, resp, err := rest.do(method, path, query, b)
		if err != nil || st >= 300 {
			failures.Add(1)
			t.Errorf("%s %s: %d %v %s", method, path, st, err, resp)
		}
	}
	type ev struct {
		Type    string   `json:"type"`
		Args    []string `json:"args"`
		Channel struct {
			ID string `json:"id"`
		} `json:"channel"`
		Bridge struct {
			ID       string   `json:"id"`
			Channels []string `json:"channels"`
		} `json:"bridge"`
	}
	onEvent := func(raw []byte) {
		var e ev
		if err := json.Unmarshal(raw, &e); err != nil {
			failures.Add(1)
			return
		}
		id := e.Channel.ID
		switch e.Type {
		case "StasisStart":
			if len(e.Args) == 2 && e.Args[0] == "outbound" {
				in := e.Args[1]
				jobs <- func() { post("POST", "/ari/bridges/br-"+in+"/addChannel", "", map[string]any{"channel": id}) }
				return
			}
			jobs <- func() {
				post("POST", "/ari/channels/"+id+"/answer", "", nil)
				post("POST", "/ari/bridges/br-"+id, "", map[string]any{"type": "mixing"})
				post("POST", "/ari/bridges/br-"+id+"/addChannel", "", map[string]any{"channel": id})
				post("POST", "/ari/channels", "", map[string]any{"endpoint": "PJSIP/user-phone", "app": "vnum",
					"appArgs": "outbound," + id, "callerId": `"15551230001" <15551230001>`, "channelId": "out-" + id, "originator": id})
			}
		case "ChannelEnteredBridge":
			if len(e.Bridge.Channels) == 2 {
				in := e.Bridge.ID[len("br-"):]
				mu.Lock()
				latency = append(latency, time.Since(started[in]))
				mu.Unlock()
				bridged <- struct{}{}
			}
		case "StasisEnd":
			if b := "br-" + id; len(id) < 4 || id[:4] != "out-" {
				jobs <- func() {
					post("DELETE", "/ari/channels/out-"+id, "reason=normal", nil)
					post("DELETE", "/ari/bridges/"+b, "", nil)
					ended <- struct{}{}
				}
			}
		}
	}
	ws, err := dialTestWSFunc(s, testUser, testPass, "vnum", onEvent)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for !s.Connected("vnum") {
		time.Sleep(time.Millisecond)
	}

	calls := make([]*Call, 0, n)
	t0 := time.Now()
	interval := time.Second / time.Duration(cps)
	for i := range n {
		if d := time.Until(t0.Add(time.Duration(i) * interval)); d > 0 {
			time.Sleep(d)
		}
		mu.Lock() // the id is known only after Inbound; hold the lock across it
		c, err := s.Inbound(InboundCall{DID: "15551230001", CallerNumber: "+1415555" + strconv.Itoa(i)})
		if err != nil {
			mu.Unlock()
			t.Fatal(err)
		}
		started[c.ID()] = time.Now()
		mu.Unlock()
		calls = append(calls, c)
	}
	timeout := time.After(60 * time.Second)
	for i := range n {
		select {
		case <-bridged:
		case <-timeout:
			t.Fatalf("only %d of %d calls bridged", i, n)
		}
	}
	setup := time.Since(t0)
	if got := len(s.Channels()); got != 2*n {
		t.Errorf("%d channels up, want %d", got, 2*n)
	}
	mu.Lock()
	slices.Sort(latency)
	p50, p99 := latency[len(latency)/2], latency[len(latency)*99/100]
	mu.Unlock()
	t.Logf("%d concurrent calls bridged in %v: %.0f setups/s (offered %d/s); setup latency p50 %v p99 %v",
		n, setup.Round(time.Millisecond), float64(n)/setup.Seconds(), cps, p50, p99)

	t1 := time.Now()
	for _, c := range calls {
		c.Hangup()
	}
	for i := range n {
		select {
		case <-ended:
		case <-time.After(60 * time.Second):
			t.Fatalf("only %d of %d calls torn down", i, n)
		}
	}
	t.Logf("torn down in %v", time.Since(t1).Round(time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for (len(s.Channels()) > 0 || len(s.Bridges()) > 0) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(s.Channels()) != 0 || len(s.Bridges()) != 0 {
		t.Errorf("left over: %d channels, %d bridges", len(s.Channels()), len(s.Bridges()))
	}
	if f := failures.Load(); f != 0 {
		t.Errorf("%d failed requests", f)
	}
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
