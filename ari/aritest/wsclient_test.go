package aritest

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"
)

// testWS is an ARI event-stream client for tests; received events go to a
// callback.
type testWS struct {
	ws *websocket.Conn
	wg sync.WaitGroup
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

// dialTestWSFunc connects (appQuery is the app name, optionally followed by
// more query parameters) and calls onEvent for every message, from the
// client's reader goroutine.
func dialTestWSFunc(s *Server, user, pass, appQuery string, onEvent func([]byte)) (*testWS, error) {
	cfg, err := websocket.NewConfig(s.WebsocketURL()+"?app="+appQuery, "http://localhost/")
	if err != nil {
		return nil, err
	}
	cfg.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		return nil, err
	}
	c := &testWS{ws: ws}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			var b []byte
			if err := websocket.Message.Receive(ws, &b); err != nil {
				return
			}
			onEvent(b)
		}
	}()
	return c, nil
}

func (c *testWS) Close() {
	_ = c.ws.Close()
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
