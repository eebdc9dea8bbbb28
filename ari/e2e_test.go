package ari_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vnum/vnum/ari"
	"github.com/vnum/vnum/ari/aritest"
	"github.com/vnum/vnum/internal/daemon"
	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
	"github.com/vnum/vnum/routing/callflow/scenariotest"
	"github.com/vnum/vnum/routing/redisstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"))
}

const trunk = "PJSIP/{e164}@carrier"

// emu adapts the ARI emulator to the scenario suite.
type emu struct{ s *aritest.Server }

type party struct{ c *aritest.Call }

func (p party) Hangup()                         { p.c.Hangup() }
func (p party) Done() <-chan struct{}           { return p.c.Done() }
func (p party) Answered() bool                  { return p.c.Answered() }
func (p party) CallerID() (name, number string) { return p.c.CallerID() }
func (p party) Heard() []string {
	var out []string
	out = append(out, p.c.Tones()...)
	for _, m := range p.c.Played() {
		switch m {
		case "sound:ss-noservice":
			out = append(out, "not-in-service")
		case "sound:vm-intro":
			out = append(out, "voicemail-greeting")
		case "sound:beep":
			out = append(out, "beep")
		default:
			out = append(out, m)
		}
	}
	return out
}

func endpoint(t routing.Target) string {
	if t.IsSIP() {
		return "PJSIP/" + t.SIPURI
	}
	return strings.ReplaceAll(trunk, "{e164}", t.E164)
}

func (e emu) Inbound(t *testing.T, did, num, name string) scenariotest.Party {
	t.Helper()
	c, err := e.s.Inbound(aritest.InboundCall{DID: did, CallerNumber: num, CallerName: name})
	if err != nil {
		t.Fatal(err)
	}
	return party{c}
}

func (e emu) Target(t routing.Target, b scenariotest.Behavior) {
	e.s.SetDestination(endpoint(t), aritest.Behavior{AnswerAfter: b.AnswerAfter, Busy: b.Busy, NoAnswer: b.NoAnswer,
		Fail: b.Fail, HangupAfter: b.HangupAfter, RingEvent: true})
}

func (e emu) Reached(t routing.Target) []scenariotest.Party {
	var out []scenariotest.Party
	for _, c := range e.s.CallsTo(endpoint(t)) {
		out = append(out, party{c})
	}
	return out
}

func (e emu) Requests() []string {
	var out []string
	for _, r := range e.s.Requests() {
		out = append(out, r.Method+" "+r.Path+"?"+r.Query+" "+string(r.Body))
	}
	return out
}

func (e emu) DropLink()            { e.s.DropWebSocket() }
func (e emu) Recordings() []string { return e.s.Recordings() }

// vnumd is one in-process vnumd on the emulator.
type vnumd struct {
	d      *daemon.Daemon
	cancel context.CancelFunc
	done   chan struct{}
}

func startVnumd(t *testing.T, srv *aritest.Server, r *redistest.Server) *vnumd {
	t.Helper()
	var log *slog.Logger
	if os.Getenv("VNUM_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	drv, err := ari.New(ari.Options{URL: srv.URL(), User: "vnum", Password: "s3cret-ari", App: "vnum", Trunk: trunk, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	fb, _ := callflow.ParseFallback("busy", "")
	d, err := daemon.New(daemon.Config{Node: "node-1", Region: "FR", Fallback: fb, Redis: r.Client(), Driver: drv,
		Privacy: routing.Privacy{Caller: routing.StoreLast4}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &vnumd{d: d, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(v.done)
		_ = d.Run(ctx)
	}()
	<-d.Ready()
	deadline := time.Now().Add(5 * time.Second)
	for !drv.Connected() || !srv.Connected("vnum") {
		if time.Now().After(deadline) {
			t.Fatal("vnumd did not connect to the emulator")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return v
}

func (v *vnumd) stop() {
	v.cancel()
	<-v.done
}

func newEnv(t *testing.T) *scenariotest.Env {
	r := redistest.Start(t)
	srv, err := aritest.New(aritest.Options{User: "vnum", Password: "s3cret-ari", App: "vnum",
		PlaybackDuration: func(string) time.Duration { return 50 * time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	cur := startVnumd(t, srv, r)
	store := redisstore.New(r.Client(), redisstore.Options{})
	t.Cleanup(func() {
		mu.Lock()
		cur.stop()
		mu.Unlock()
		srv.Close()
	})
	return &scenariotest.Env{
		PBX:   emu{srv},
		Redis: r,
		Store: store,
		// As vnumctl calls hangup does: through the store to the node
		// that owns the call.
		HangupCall: func(id string) error {
			_, err := store.RequestHangup(context.Background(), id)
			return err
		},
		Drain: func() {
			mu.Lock()
			defer mu.Unlock()
			cur.d.Drain()
		},
		Restart: func() {
			mu.Lock()
			defer mu.Unlock()
			cur.stop()
			cur = startVnumd(t, srv, r)
		},
	}
}

// TestScenarios runs the shared scenario suite on Asterisk (emulated).
func TestScenarios(t *testing.T) { scenariotest.Run(t, newEnv) }
