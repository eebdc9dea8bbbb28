package aritest

import (
	"bufio"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/websocket"
)

// Sentinel errors.
var (
	// ErrClosed is returned by calls on a closed Server.
	ErrClosed = errors.New("aritest: server closed")
	// ErrStasisFailed is returned by Inbound when no connected application
	// could take the call (Asterisk: STASISSTATUS=FAILED, carrier gets 603).
	ErrStasisFailed = errors.New("aritest: Stasis() failed, no active application")
	// ErrBadOptions reports unusable Options.
	ErrBadOptions = errors.New("aritest: bad options")
)

// Options configure a Server.
type Options struct {
	// User and Password are the ARI credentials (both required).
	User, Password string
	// App is the Stasis application inbound calls are sent to (default "vnum").
	App string
	// Logger receives debug logs; nil discards.
	Logger *slog.Logger
	// TimerB is SIP Timer B: how long an INVITE to a destination that never
	// responds is retransmitted before failing with 408 (default 32 s).
	TimerB time.Duration
	// PlaybackDuration gives how long a media URI plays. Nil uses a table of
	// the lab prompts (sound:beep 250 ms, sound:vnum-ivr-menu 8.49 s, ...),
	// 1 s for other sounds, and tone: URIs play until stopped. A negative
	// duration plays until stopped.
	PlaybackDuration func(mediaURI string) time.Duration
	// DisableRequestLog stops Requests() from recording (for load tests).
	DisableRequestLog bool
}

// Request is one REST request the server received.
type Request struct {
	Method string
	Path   string // e.g. /ari/channels/ID/answer
	Query  string // raw query string
	Body   []byte
	Status int // status code answered
}

// Server is a running ARI emulator. All methods are safe for concurrent use.
type Server struct {
	opts Options
	log  *slog.Logger
	ln   net.Listener
	http *http.Server
	mux  *http.ServeMux
	url  string

	mu         sync.Mutex
	closed     bool
	rejectWS   bool
	apps       map[string]*application
	conns      map[*wsConn]struct{}
	channels   map[string]*channel
	bridges    map[string]*bridge
	playbacks  map[string]*playback
	liveRecs   map[string]*liveRec
	stored     map[string]string // name -> format
	endpoints  map[string]bool   // known PJSIP endpoint resources
	dests      map[string]Behavior
	def        Behavior
	calls      map[string]*Call // by channel id, live and finished
	originated []*Call
	allApps    int // connected apps with subscribeAll
	requests   []Request
	messages   []Message
	timers     map[*timer]struct{}
	seq        int
	nameSeq    int
	epoch      int64

	wsWG    sync.WaitGroup
	timerWG sync.WaitGroup
	serveWG sync.WaitGroup
}

// New starts an emulator listening on 127.0.0.1:0.
func New(opts Options) (*Server, error) {
	if opts.User == "" || opts.Password == "" {
		return nil, fmt.Errorf("%w: User and Password are required", ErrBadOptions)
	}
	if opts.App == "" {
		opts.App = "vnum"
	}
	if opts.TimerB <= 0 {
		opts.TimerB = 32 * time.Second
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("aritest: listen: %w", err)
	}
	s := &Server{
		opts: opts, log: log, ln: ln,
		apps: map[string]*application{}, conns: map[*wsConn]struct{}{},
		channels: map[string]*channel{}, bridges: map[string]*bridge{},
		playbacks: map[string]*playback{}, liveRecs: map[string]*liveRec{},
		stored: map[string]string{}, endpoints: map[string]bool{"carrier": true, "user-phone": true},
		dests: map[string]Behavior{}, def: Behavior{RingEvent: true},
		calls: map[string]*Call{}, timers: map[*timer]struct{}{},
		epoch: time.Now().Unix(),
	}
	s.url = "http://" + ln.Addr().String() + "/ari"
	s.mux = http.NewServeMux()
	s.routes()
	s.http = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 5 * time.Second}
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		_ = s.http.Serve(ln)
	}()
	return s, nil
}

// URL is the ARI base URL, e.g. "http://127.0.0.1:PORT/ari".
func (s *Server) URL() string { return s.url }

// WebsocketURL is the event stream URL, e.g. "ws://127.0.0.1:PORT/ari/events".
func (s *Server) WebsocketURL() string { return "ws" + strings.TrimPrefix(s.url, "http") + "/events" }

// Close stops the listener, every WebSocket and every timer, and waits for
// all of the server's goroutines. Calls still up are marked done.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for t := range s.timers {
		if t.t.Stop() {
			s.timerWG.Done()
		}
	}
	clear(s.timers)
	for c := range s.conns {
		c.close()
	}
	for _, c := range s.calls {
		c.finishLocked()
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.http.Shutdown(ctx)
	s.serveWG.Wait()
	s.wsWG.Wait()
	s.timerWG.Wait()
	if err != nil {
		return fmt.Errorf("aritest: shutdown: %w", err)
	}
	return nil
}

// Requests returns every REST request received so far, in order of arrival.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// DropWebSocket closes every application WebSocket from the server side.
// Events raised until the application reconnects are lost, as on Asterisk;
// channels, bridges and subscriptions survive.
func (s *Server) DropWebSocket() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		s.detachLocked(c)
		c.close()
	}
}

// SetRejectWebSocket makes new event-stream connections fail (HTTP 503)
// while reject is true.
func (s *Server) SetRejectWebSocket(reject bool) {
	s.mu.Lock()
	s.rejectWS = reject
	s.mu.Unlock()
}

// Connected reports whether app has a live WebSocket.
func (s *Server) Connected(app string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[app]
	return a != nil && a.active()
}

// SubscribedToMessages reports whether app would receive the carrier's
// SIP MESSAGEs now (subscribed to endpoint:PJSIP or endpoint:PJSIP/carrier).
func (s *Server) SubscribedToMessages(app string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[app]
	return a != nil && (a.endpoints["PJSIP/carrier"] > 0 || a.endpoints["PJSIP"] > 0)
}

// ---- timers ----

type timer struct{ t *time.Timer }

// afterLocked runs fn under s.mu after d. Caller holds s.mu.
func (s *Server) afterLocked(d time.Duration, fn func()) *timer {
	if s.closed {
		return &timer{t: time.NewTimer(time.Hour)} // never registered, stopped below
	}
	tm := &timer{}
	s.timerWG.Add(1)
	tm.t = time.AfterFunc(d, func() {
		defer s.timerWG.Done()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.closed {
			return
		}
		if _, ok := s.timers[tm]; !ok {
			return
		}
		delete(s.timers, tm)
		fn()
	})
	s.timers[tm] = struct{}{}
	return tm
}

// stopLocked cancels a timer; caller holds s.mu.
func (s *Server) stopLocked(tm *timer) {
	if tm == nil {
		return
	}
	if _, ok := s.timers[tm]; !ok {
		tm.t.Stop()
		return
	}
	delete(s.timers, tm)
	if tm.t.Stop() {
		s.timerWG.Done()
	}
}

// ---- events ----

func (s *Server) newEvent(typ string) *wireEvent {
	return &wireEvent{Type: typ, Timestamp: ariTime(time.Now()), AsteriskID: asteriskID}
}

// sendLocked delivers ev to the apps in the lists (each once) and to apps
// connected with subscribeAll, if they have a connected WebSocket.
func (s *Server) sendLocked(ev *wireEvent, lists ...[]string) {
	var buf [4]string
	targets := buf[:0]
	for _, l := range lists {
		for _, name := range l {
			if !slices.Contains(targets, name) {
				targets = append(targets, name)
			}
		}
	}
	if s.allApps > 0 {
		for name, a := range s.apps {
			if a.all && !slices.Contains(targets, name) {
				targets = append(targets, name)
			}
		}
	}
	for _, name := range targets {
		a := s.apps[name]
		if a == nil || a.conn == nil {
			s.log.Debug("event lost, app inactive", "app", name, "type", ev.Type)
			continue
		}
		ev.Application = name
		b, err := json.Marshal(ev)
		if err != nil {
			s.log.Error("marshal event", "err", err)
			continue
		}
		a.conn.enqueue(b)
	}
}

func (s *Server) chanEventLocked(typ string, c *channel) *wireEvent {
	ev := s.newEvent(typ)
	ev.Channel = c.json()
	s.sendLocked(ev, c.subs)
	return ev
}

func addSub(list []string, app string) []string {
	for _, x := range list {
		if x == app {
			return list
		}
	}
	return append(list, app)
}

func removeSub(list []string, app string) []string {
	for i, x := range list {
		if x == app {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

// ---- HTTP plumbing ----

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Hijack is for the WebSocket handshake (x/net/websocket asserts
// http.Hijacker).
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.status == 0 {
		w.status = http.StatusSwitchingProtocols
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }

const maxBody = 1 << 20

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(r.Body, maxBody))
		_ = r.Body.Close()
	}
	r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, body))
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if s.opts.DisableRequestLog {
			return
		}
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Status: sw.status})
		s.mu.Unlock()
	}()
	if !s.authorised(r) {
		sw.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
		writeMsg(sw, http.StatusUnauthorized, "Authentication required")
		return
	}
	if p := r.URL.Path; len(p) > len("/ari/") && strings.HasSuffix(p, "/") {
		writeMsg(sw, http.StatusNotFound, "ARI URLs do not end with a slash. Try "+strings.TrimSuffix(p, "/"))
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		probe := &discardWriter{h: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.code == http.StatusMethodNotAllowed {
			writeMsg(sw, http.StatusMethodNotAllowed, "Invalid method")
			return
		}
		writeMsg(sw, http.StatusNotFound, "Resource not found")
		return
	}
	s.mux.ServeHTTP(sw, r) // sets the path values

}

func (s *Server) authorised(r *http.Request) bool {
	u, p, ok := r.BasicAuth()
	if !ok {
		key := r.URL.Query().Get("api_key")
		u, p, ok = strings.Cut(key, ":")
	}
	if !ok {
		return false
	}
	uo := subtle.ConstantTimeCompare([]byte(u), []byte(s.opts.User))
	po := subtle.ConstantTimeCompare([]byte(p), []byte(s.opts.Password))
	return uo&po == 1
}

type bodyKey struct{}

func reqBody(r *http.Request) []byte {
	b, _ := r.Context().Value(bodyKey{}).([]byte)
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"internal error"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeMsg(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, struct {
		Message string `json:"message"`
	}{msg})
}

func writeNoContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// ---- WebSocket event stream ----

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var names []string
	for _, n := range strings.Split(q.Get("app"), ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		writeMsg(w, http.StatusBadRequest, "Missing parameter app")
		return
	}
	s.mu.Lock()
	refuse := s.rejectWS || s.closed
	s.mu.Unlock()
	if refuse {
		writeMsg(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	websocket.Server{
		// Asterisk only logs a mismatched Origin; accept any.
		Handshake: func(*websocket.Config, *http.Request) error { return nil },
		Handler:   func(ws *websocket.Conn) { s.runEvents(ws, names, r.URL.Query()) },
	}.ServeHTTP(w, r)
}

func (s *Server) runEvents(ws *websocket.Conn, names []string, q url.Values) {
	c := newWSConn(ws, names)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wsWG.Add(1)
	defer s.wsWG.Done()
	s.conns[c] = struct{}{}
	all, _ := strconv.ParseBool(q.Get("subscribeAll"))
	for _, n := range names {
		a := s.appLocked(n)
		if a.conn != nil && a.conn != c {
			old := a.conn
			s.detachLocked(old)
			old.close()
		}
		a.conn = c
		a.all = all
		if all {
			s.allApps++
		}
	}
	s.mu.Unlock()
	s.log.Debug("websocket connected", "apps", names)
	c.run()
	s.mu.Lock()
	s.detachLocked(c)
	s.mu.Unlock()
	s.log.Debug("websocket closed", "apps", names)
}

// detachLocked deactivates the apps served by c.
func (s *Server) detachLocked(c *wsConn) {
	delete(s.conns, c)
	for _, n := range c.apps {
		if a := s.apps[n]; a != nil && a.conn == c {
			a.conn = nil
			if a.all {
				a.all = false
				s.allApps--
			}
		}
	}
}

func (s *Server) appLocked(name string) *application {
	a := s.apps[name]
	if a == nil {
		a = &application{name: name, endpoints: map[string]int{}}
		s.apps[name] = a
	}
	return a
}

func timeNow() time.Time { return time.Now() }

func secs(n int) time.Duration { return time.Duration(n) * time.Second }
