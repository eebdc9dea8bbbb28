package aritest

import (
	"bufio"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// testWS is a tiny ARI event-stream client for tests (the module has no
// WebSocket client library). Received events are appended to a shared log.
type testWS struct {
	conn net.Conn
	wg   sync.WaitGroup
}

type eventLog struct {
	mu     sync.Mutex
	events []map[string]any
	raw    [][]byte
	notify chan struct{}
}

func newEventLog() *eventLog { return &eventLog{notify: make(chan struct{}, 1)} }

func (l *eventLog) add(b []byte) {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		m = map[string]any{"type": "UNPARSABLE", "raw": string(b)}
	}
	l.mu.Lock()
	l.events = append(l.events, m)
	l.raw = append(l.raw, b)
	l.mu.Unlock()
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

func (l *eventLog) snapshot() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]map[string]any(nil), l.events...)
}

// waitFor polls until cond holds on the log or the timeout passes.
func (l *eventLog) waitFor(d time.Duration, cond func([]map[string]any) bool) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if cond(l.snapshot()) {
			return true
		}
		select {
		case <-l.notify:
		case <-time.After(5 * time.Millisecond):
		case <-deadline.C:
			return cond(l.snapshot())
		}
	}
}

func dialTestWS(s *Server, user, pass, app string, log *eventLog) (*testWS, error) {
	return dialTestWSFunc(s, user, pass, app, log.add)
}

// dialTestWSFunc connects and calls onEvent for every text frame, from the
// client's reader goroutine.
func dialTestWSFunc(s *Server, user, pass, app string, onEvent func([]byte)) (*testWS, error) {
	u, err := url.Parse(s.URL())
	if err != nil {
		return nil, err
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		return nil, err
	}
	kb := make([]byte, 16)
	_, _ = rand.Read(kb)
	key := base64.StdEncoding.EncodeToString(kb)
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	req := fmt.Sprintf("GET /ari/events?app=%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nAuthorization: Basic %s\r\n\r\n", app, u.Host, key, auth)
	if _, err := conn.Write([]byte(req)); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		conn.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != wsAccept(key) {
		conn.Close()
		return nil, fmt.Errorf("bad accept %q", got)
	}
	c := &testWS{conn: conn}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			op, p, err := wsReadFrame(br)
			if err != nil || op == opClose {
				return
			}
			if op == opText {
				onEvent(p)
			}
		}
	}()
	return c, nil
}

func (c *testWS) Close() {
	_ = wsWriteFrame(c.conn, opClose, nil, true)
	_ = c.conn.Close()
	c.wg.Wait()
}

// restClient issues ARI REST calls with basic auth.
type restClient struct {
	base, user, pass string
	hc               *http.Client
}

func newRest(s *Server, user, pass string) *restClient {
	return &restClient{base: strings.TrimSuffix(s.URL(), "/ari"), user: user, pass: pass,
		hc: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}}
}

func (r *restClient) do(method, path, query string, body []byte) (int, []byte, error) {
	u := r.base + path
	if query != "" {
		u += "?" + query
	}
	var rd *strings.Reader
	if body != nil {
		rd = strings.NewReader(string(body))
	} else {
		rd = strings.NewReader("")
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(r.user, r.pass)
	resp, err := r.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, []byte(sb.String()), nil
}

func (r *restClient) close() { r.hc.CloseIdleConnections() }
