package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vnum/vnum/ari/aritest"
	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

const (
	did    = "+33187654321"
	mobile = "+33612345678"
)

// buildVnumd compiles the real binary once per test run.
func buildVnumd(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vnumd")
	cmd := exec.Command("go", "build", "-race", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type proc struct {
	cmd *exec.Cmd
	out *syncBuffer
}

// syncBuffer is the process's output, written by exec's copier and read
// by the test.
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

func startVnumd(t *testing.T, bin string, srv *aritest.Server, r *redistest.Server, pwFile string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "asterisk", "--ari-url", srv.URL(), "--ari-user", "vnum", "--ari-password-file", pwFile,
		"--trunk", "PJSIP/{e164}@carrier", "--redis", r.URL(), "--node", "node-1", "--listen", "127.0.0.1:0",
		"--caller-storage", "last4", "--log-level", "debug")
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd, out}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !srv.Connected("vnum") {
		if time.Now().After(deadline) {
			t.Fatalf("vnumd did not connect:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return p
}

func world(t *testing.T) (*aritest.Server, *redistest.Server, *redisstore.Store, string) {
	t.Helper()
	r := redistest.Start(t)
	srv, err := aritest.New(aritest.Options{User: "vnum", Password: "s3cret-ari", App: "vnum"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	pw := filepath.Join(t.TempDir(), "ari.password")
	if err := os.WriteFile(pw, []byte("s3cret-ari\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	store := redisstore.New(r.Client(), redisstore.Options{})
	if err := store.AddNumber(context.Background(), routing.Number{DID: did,
		Route: routing.Route{Targets: []routing.Target{{E164: mobile}}}, Limits: routing.Limits{MaxConcurrent: 1}}); err != nil {
		t.Fatal(err)
	}
	return srv, r, store, pw
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// vnumd killed with SIGKILL mid-call: the call keeps talking, and the next
// vnumd adopts it and still ends it properly (hang-up propagation, one
// CDR, the concurrency slot back).
func TestKilledMidCallAndRestarted(t *testing.T) {
	bin := buildVnumd(t)
	srv, r, store, pw := world(t)
	ctx := context.Background()
	first := startVnumd(t, bin, srv, r, pw)
	c, err := srv.Inbound(aritest.InboundCall{DID: did, CallerNumber: "+447700900123", CallerName: "Alice"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the call bridged and registered", func() bool {
		calls, _ := store.ListCalls(ctx)
		return c.Answered() && len(calls) == 1 && calls[0].State == "bridged"
	})
	callee := srv.CallsTo("PJSIP/" + mobile + "@carrier")[0]
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-c.Done():
		t.Fatal("the call died with vnumd")
	default:
	}
	second := startVnumd(t, bin, srv, r, pw)
	waitFor(t, "the restarted vnumd's adoption", func() bool { return strings.Contains(second.out.String(), "adopted") })
	callee.Hangup()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("the caller stayed up after the callee hung up:\n%s", second.out.String())
	}
	waitFor(t, "one CDR", func() bool {
		cdrs, _ := store.ListCDRs(ctx, did, 10)
		return len(cdrs) == 1 && cdrs[0].HangupBy == "callee"
	})
	waitFor(t, "the slot back and the registry empty", func() bool {
		d, _ := store.Simulate(ctx, routing.Call{DID: did, Caller: "+14155550100"})
		calls, _ := store.ListCalls(ctx)
		return d.Action == routing.ActionForward && len(calls) == 0
	})
}

// SIGTERM drains: the running call finishes, a new call is refused with
// congestion (the carrier tries elsewhere), then vnumd exits 0.
func TestSIGTERMDrains(t *testing.T) {
	bin := buildVnumd(t)
	srv, r, _, pw := world(t)
	p := startVnumd(t, bin, srv, r, pw)
	c, err := srv.Inbound(aritest.InboundCall{DID: did, CallerNumber: "+447700900123"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bridged", c.Answered)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "draining", func() bool { return strings.Contains(p.out.String(), "draining") })
	refused, err := srv.Inbound(aritest.InboundCall{DID: did, CallerNumber: "+14155550100"})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-refused.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a call during the drain was left hanging")
	}
	if refused.Answered() || !strings.Contains(strings.Join(refused.Tones(), ","), "congestion") {
		t.Fatalf("during the drain the caller heard %v", refused.Tones())
	}
	select {
	case <-c.Done():
		t.Fatal("draining dropped the running call")
	default:
	}
	c.Hangup()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("vnumd exited with %v:\n%s", err, p.out.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("vnumd did not exit after the last call")
	}
}

// Bad configuration: one clear line, exit status 1, no secret printed.
func TestBadConfig(t *testing.T) {
	var errb bytes.Buffer
	code := run([]string{"vnumd", "asterisk", "--trunk", "PJSIP/{e164}@carrier", "--ari-password-file", "/nonexistent/pw"}, &errb)
	if code != 1 || strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 || !strings.Contains(errb.String(), "/nonexistent/pw") {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	pw := filepath.Join(t.TempDir(), "pw")
	_ = os.WriteFile(pw, []byte("hunter2-secret"), 0o600)
	code = run([]string{"vnumd", "asterisk", "--trunk", "PJSIP/carrier", "--ari-password-file", pw}, &errb)
	if code != 1 || !strings.Contains(errb.String(), "PJSIP/carrier") || strings.Contains(errb.String(), "hunter2") {
		t.Fatalf("bad trunk: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	code = run([]string{"vnumd", "asterisk", "--trunk", "PJSIP/{e164}@c", "--ari-password-file", pw, "--fallback", "voicemail:x"}, &errb)
	if code != 1 || !strings.Contains(errb.String(), "voicemail:x") {
		t.Fatalf("bad fallback: exit %d, stderr %q", code, errb.String())
	}
	for _, bad := range []struct{ pbx, flag, pwFlag, named string }{
		{"asterisk", "greeting=sound:x", "--ari-password-file", "greeting"},
		{"asterisk", "recording-consent", "--ari-password-file", "recording-consent"},
		{"asterisk", "recording-consent=file:/etc/passwd", "--ari-password-file", "/etc/passwd"},
		{"freeswitch", "beep", "--esl-password-file", "beep"},
	} {
		errb.Reset()
		code = run([]string{"vnumd", bad.pbx, "--trunk", "PJSIP/{e164}@c", bad.pwFlag, pw, "--sound", bad.flag}, &errb)
		if code != 1 || strings.Count(strings.TrimSpace(errb.String()), "\n") != 0 || !strings.Contains(errb.String(), bad.named) {
			t.Fatalf("--sound %s: exit %d, stderr %q", bad.flag, code, errb.String())
		}
	}
}
