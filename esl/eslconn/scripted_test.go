package eslconn_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vnum/vnum/esl/eslconn"
)

// scripted is a one-connection server that answers the handshake, then
// writes the given bytes once the client sends its next command.
func scripted(t *testing.T, after string, closeAfter bool) string {
	return scriptedSub(t, "+OK event listener enabled json", after, closeAfter)
}

func scriptedSub(t *testing.T, sub, after string, closeAfter bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		r := bufio.NewReader(nc)
		readCmd := func() bool {
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return false
				}
				if l == "\n" {
					return true
				}
			}
		}
		_, _ = io.WriteString(nc, "Content-Type: auth/request\n\n")
		if !readCmd() {
			return
		}
		_, _ = io.WriteString(nc, "Content-Type: command/reply\nReply-Text: +OK accepted\n\n")
		if !readCmd() {
			return
		}
		_, _ = io.WriteString(nc, "Content-Type: command/reply\nReply-Text: "+sub+"\n\n")
		if !readCmd() {
			return
		}
		_, _ = io.WriteString(nc, after)
		if closeAfter { // as FreeSWITCH does after a disconnect-notice
			return
		}
		_, _ = io.Copy(io.Discard, r) // until the client closes
	}()
	t.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func TestScriptedServerEndings(t *testing.T) {
	const notice = "Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
	tests := []struct {
		name    string
		after   string
		close   bool
		wantErr error
	}{
		{"disconnect-notice then close", notice, true, eslconn.ErrDisconnected},
		{"disconnect-notice, socket left open", notice, false, eslconn.ErrDisconnected},
		{"unsolicited reply after the answer", "Content-Type: api/response\nContent-Length: 4\n\n+OK\nContent-Type: command/reply\nReply-Text: +OK\n\n", false, eslconn.ErrFrame},
		{"garbage Content-Length", "Content-Type: api/response\nContent-Length: 12abc\n\n", false, eslconn.ErrFrame},
		{"short -ERR (panicked goesl)", "Content-Type: command/reply\nReply-Text: -ERR\n\n" + notice, true, eslconn.ErrDisconnected},
		{"EOF mid-frame", "Content-Type: api/response\nContent-Length: 100\n\n+OK", true, eslconn.ErrFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := scripted(t, tt.after, tt.close)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := eslconn.Dial(ctx, eslconn.Options{Addr: addr, Password: "pw", CommandTimeout: time.Second, LingerGrace: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = c.API(ctx, "status")
			select {
			case <-c.Done():
			case <-time.After(2 * time.Second):
				t.Fatal("connection not ended")
			}
			if !errors.Is(c.Err(), tt.wantErr) {
				t.Fatalf("Err %v, want %v", c.Err(), tt.wantErr)
			}
		})
	}
}

func TestScriptedShortErrIsCommandError(t *testing.T) {
	addr := scripted(t, "Content-Type: api/response\nContent-Length: 4\n\n-ERR", false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := eslconn.Dial(ctx, eslconn.Options{Addr: addr, Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.API(ctx, "uuid_kill", "x")
	var ce *eslconn.CommandError
	if !errors.As(err, &ce) || ce.Reply != "-ERR" || strings.Contains(err.Error(), " x") {
		t.Fatalf("error %v", err)
	}
	if c.Err() != nil {
		t.Fatalf("connection ended: %v", c.Err())
	}
}

func TestScriptedSubscriptionRefused(t *testing.T) {
	addr := scriptedSub(t, "-ERR no keywords supplied", "", false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := eslconn.Dial(ctx, eslconn.Options{Addr: addr, Password: "pw"})
	var ce *eslconn.CommandError
	if !errors.As(err, &ce) || ce.Reply != "-ERR no keywords supplied" {
		t.Fatalf("error %v", err)
	}
}
