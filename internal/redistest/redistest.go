// Package redistest starts a real redis-server for tests: on a free
// loopback port, with its data in t.TempDir(), killed in t.Cleanup.
//
// A missing redis-server fails the test under CI=true and skips it
// elsewhere (the Makefile installs it).
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one redis-server process.
type Server struct {
	t     testing.TB
	bin   string
	extra []string
	dir   string
	port  int

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start runs a fresh redis-server and returns it ready (it answers PING).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found: install the Debian package redis-server (make test does it as root)")
		}
		t.Skip("redis-server not found: install the Debian package redis-server")
	}
	s := &Server{t: t, bin: bin, dir: t.TempDir(), port: freePort(t)}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// URL is the redis:// URL of the server, database 0.
func (s *Server) URL() string { return "redis://" + s.Addr() + "/0" }

// Client returns a new client, closed at cleanup.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second, MaxRetries: -1})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Start (re)starts the server on the same port and data directory.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	args := append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no"}, s.extra...)
	cmd := exec.Command(s.bin, args...)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	ready := make(chan struct{})
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			if log.Len() < 4096 {
				log.WriteString(line + "\n")
			}
			if !signalled && strings.Contains(line, "Ready to accept connections") {
				close(ready)
				signalled = true
			}
		}
		if !signalled {
			close(ready)
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		s.t.Fatalf("redis-server did not start")
	}
	s.cmd = cmd
	// Wait for PING.
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s does not answer PING: %v\n%s", s.Addr(), err, log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop kills the server (its data is kept in memory only, so a restart is
// empty unless the test wrote it again). Safe to call twice.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Pause stops the server from answering (SIGSTOP) without losing its data;
// Resume continues it. For "store unreachable" tests that need the data back.
func (s *Server) Pause() { s.signal("STOP") }

// Resume continues a paused server.
func (s *Server) Resume() { s.signal("CONT") }

func (s *Server) signal(sig string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	if err := exec.Command("kill", "-"+sig, strconv.Itoa(s.cmd.Process.Pid)).Run(); err != nil {
		s.t.Fatalf("kill -%s redis-server: %v", sig, err)
	}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// String describes the server.
func (s *Server) String() string { return fmt.Sprintf("redis-server %s", s.Addr()) }

// Cluster is a Redis Cluster of real redis-server processes.
type Cluster struct {
	Nodes []*Server
}

// Addrs are the nodes' addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// StartCluster runs n (≥ 3) masters with cluster mode on and joins them
// with redis-cli --cluster create, waiting until the cluster is ok.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 3 {
		n = 3
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-cli not found: install the Debian package redis-server (redis-tools)")
		}
		t.Skip("redis-cli not found")
	}
	c := &Cluster{}
	for range n {
		bin, err := exec.LookPath("redis-server")
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("redis-server not found: install the Debian package redis-server")
			}
			t.Skip("redis-server not found")
		}
		s := &Server{t: t, bin: bin, dir: t.TempDir(), port: freePort(t), extra: []string{"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"}}
		s.Start()
		t.Cleanup(s.Stop)
		c.Nodes = append(c.Nodes, s)
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok := true
		for _, s := range c.Nodes {
			out, _ := exec.Command(cli, "-p", strconv.Itoa(s.port), "cluster", "info").Output()
			if !strings.Contains(string(out), "cluster_state:ok") {
				ok = false
			}
		}
		if ok {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not become ok")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
