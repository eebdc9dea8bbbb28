// Package esltest is a FreeSWITCH emulator speaking the real Event Socket
// protocol (inbound mode) on 127.0.0.1, for tests of vnum's ESL client and
// FreeSWITCH driver. Its frames follow the captures of a real FreeSWITCH
// 1.10.12 in ../shared/freeswitch (see fidelity_test.go for what is
// checked against them).
//
// It simulates calls the way FreeSWITCH presents them to an inbound-mode
// controller: an inbound call arrives parked (CHANNEL_CREATE, CHANNEL_PARK
// with variable_vnum_did set by the dialplan) and the controller drives it
// with api/bgapi/sendmsg. Outbound legs (originate, bridge) follow scripted
// Behaviors per dial string. The emulator records every command, every
// malformed command (Injected) and what caller ID each outbound leg showed
// to the far end (Legs).
package esltest

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure the emulator.
type Options struct {
	// Password clients must send with `auth`. Empty: a random one, see
	// Server.Password. (There is no default password, as in vnum.)
	Password string
	Logger   *slog.Logger
	// Default is the Behavior of dial strings without SetDestination. The
	// zero value answers at once and never hangs up.
	Default Behavior
	// PlaybackDuration is how long uuid_broadcast / playback "plays"
	// (default 10 ms).
	PlaybackDuration time.Duration
	// RecordDir, when set, is the emulated host's recording directory: a
	// recording started (uuid_record start, record_session) into a file
	// directly in it is written there, as FreeSWITCH writes it on its
	// host, so that deleting it can be tested (StoredRecordings).
	RecordDir string
}

// Server is a running emulator.
type Server struct {
	opts Options
	log  *slog.Logger
	ln   net.Listener

	mu        sync.Mutex
	conns     map[*conn]struct{}
	channels  map[string]*channel
	calls     map[string]*Call
	confs     map[string]*conference
	dests     map[string]Behavior
	commands  []string
	injected  []string
	legs      []LegInfo
	delays    []delayRule
	schedDel  map[string]int
	tainted   []string // caller-supplied text that followed a line break
	seq       uint64
	coreUUID  string
	deferring bool
	deferred  []*event
	sched     scheduler

	// sentMessages are the SMS::SEND_MESSAGE events sent (messages.go).
	sentMessages []SentMessage

	quit      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

type delayRule struct {
	prefix string
	d      time.Duration
}

// New starts an emulator on 127.0.0.1 with a free port.
func New(opts Options) (*Server, error) {
	if opts.Password == "" {
		opts.Password = newUUID()
	}
	if opts.PlaybackDuration <= 0 {
		opts.PlaybackDuration = 10 * time.Millisecond
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("esltest: listen: %w", err)
	}
	s := &Server{
		opts: opts, log: log, ln: ln,
		conns:    map[*conn]struct{}{},
		channels: map[string]*channel{},
		calls:    map[string]*Call{},
		confs:    map[string]*conference{},
		dests:    map[string]Behavior{},
		schedDel: map[string]int{},
		coreUUID: newUUID(),
		sched:    scheduler{wake: make(chan struct{}, 1)},
		quit:     make(chan struct{}),
	}
	s.wg.Add(2)
	go s.acceptLoop()
	go s.runScheduler()
	return s, nil
}

// Addr is the host:port to dial.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Password is the password clients must use.
func (s *Server) Password() string { return s.opts.Password }

// Close stops the listener, every connection and the scheduler, and waits
// for all goroutines.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.quit)
		_ = s.ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.kill()
		}
		s.mu.Unlock()
	})
	s.wg.Wait()
	return nil
}

// SetDestination scripts what happens when a leg is originated or bridged
// to dialstring (the endpoint without {..}/[..] variable blocks, e.g.
// "sofia/lab/user@127.0.0.1:5082").
func (s *Server) SetDestination(dialstring string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dests[dialstring] = b
}

// SetReplyDelay delays the handling of every command whose line starts
// with prefix ("" for all, e.g. "api uuid_record"). Like FreeSWITCH, a
// connection handles its commands one at a time, so a slow command holds up
// the ones behind it on that connection. d <= 0 removes the rule.
func (s *Server) SetReplyDelay(prefix string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.delays[:0]
	for _, r := range s.delays {
		if r.prefix != prefix {
			out = append(out, r)
		}
	}
	s.delays = out
	if d > 0 {
		s.delays = append(s.delays, delayRule{prefix, d})
	}
}

// DropConnections closes every client connection abruptly (no
// disconnect-notice), as a crash or network cut would. Calls go on, as
// they do in FreeSWITCH when the controller goes away.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.kill()
	}
}

// Commands returns every command packet received, in order, as sent
// (multi-line packets keep their "\n"; a body follows the blank line).
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// Injected returns the command packets that were not one well-formed
// command, each prefixed with the reason ("reason: packet"). A non-empty
// result means caller-controlled text changed or added a command.
func (s *Server) Injected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.injected...)
}

// Legs returns every outbound leg created (originate or bridge), in order.
func (s *Server) Legs() []LegInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LegInfo, len(s.legs))
	copy(out, s.legs)
	return out
}

// SchedDeleted reports how many times `sched_del <group>` was received.
func (s *Server) SchedDeleted(group string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.schedDel[group]
}

// ActiveChannels is the number of live channels.
func (s *Server) ActiveChannels() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.channels)
}

// ConnCount is the number of connected clients.
func (s *Server) ConnCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			return
		}
		c := &conn{s: s, nc: nc, wake: make(chan struct{}, 1), dead: make(chan struct{}), wdone: make(chan struct{})}
		s.mu.Lock()
		select {
		case <-s.quit:
			s.mu.Unlock()
			_ = nc.Close()
			return
		default:
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(2)
		go c.writeLoop()
		go c.readLoop()
	}
}

// conn is one client connection.
type conn struct {
	s      *Server
	nc     net.Conn
	authed bool
	format string // "", "json" or "plain"
	all    bool
	subs   map[string]bool
	custom map[string]bool

	qmu     sync.Mutex
	queue   [][]byte
	closing bool // close after the queue is written
	wake    chan struct{}
	dead    chan struct{}
	wdone   chan struct{} // closed when writeLoop returns
	once    sync.Once
}

// send queues a frame; a nil frame means "close after what is queued".
func (c *conn) send(b []byte) {
	c.qmu.Lock()
	if !c.closing {
		if b == nil {
			c.closing = true
		}
		c.queue = append(c.queue, b)
	}
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) kill() {
	c.once.Do(func() {
		close(c.dead)
		_ = c.nc.Close()
	})
}

func (c *conn) writeLoop() {
	defer c.s.wg.Done()
	defer close(c.wdone)
	defer c.kill()
	for {
		c.qmu.Lock()
		q := c.queue
		c.queue = nil
		c.qmu.Unlock()
		for _, b := range q {
			if b == nil {
				return
			}
			if _, err := c.nc.Write(b); err != nil {
				return
			}
		}
		select {
		case <-c.wake:
		case <-c.dead:
			return
		}
	}
}

func (c *conn) readLoop() {
	defer c.s.wg.Done()
	defer func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
		c.kill()
	}()
	c.send([]byte("Content-Type: auth/request\n\n"))
	r := bufio.NewReader(c.nc)
	for {
		pkt, err := readPacket(r)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				c.s.log.Debug("esltest: read", "err", err)
			}
			return
		}
		if d := c.s.delayFor(pkt.line); d > 0 {
			select {
			case <-time.After(d):
			case <-c.dead:
				return
			}
		}
		if !c.s.handle(c, pkt) {
			// exit / failed auth: let the writer flush the reply and
			// the disconnect-notice, then close.
			select {
			case <-c.wdone:
			case <-c.dead:
			case <-time.After(2 * time.Second):
			}
			return
		}
	}
}

func (s *Server) delayFor(line string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d time.Duration
	for _, r := range s.delays {
		if strings.HasPrefix(line, r.prefix) && r.d > d {
			d = r.d
		}
	}
	return d
}

// packet is one command as FreeSWITCH's read_packet sees it.
type packet struct {
	raw     string   // every byte received for it
	line    string   // the command line (cut at a CR like FreeSWITCH)
	headers []header // following "name: value" lines
	bad     []string // well-formedness problems
	body    string
}

type header struct{ name, value string }

func (p *packet) get(name string) string {
	for _, h := range p.headers {
		if strings.EqualFold(h.name, name) {
			return h.value
		}
	}
	return ""
}

const maxPacket = 1 << 20

// readPacket reads lines up to a blank line ("\n\n" or "\r\n\r\n"), then a
// Content-Length body if announced.
func readPacket(r *bufio.Reader) (*packet, error) {
	var raw strings.Builder
	var lines []string
	crlf := 0
	for {
		l, err := r.ReadString('\n')
		raw.WriteString(l)
		if raw.Len() > maxPacket {
			return nil, errors.New("esltest: packet too large")
		}
		if err != nil {
			if l == "" && len(lines) == 0 {
				return nil, io.EOF
			}
			return nil, io.ErrUnexpectedEOF
		}
		l = strings.TrimSuffix(l, "\n")
		if strings.HasSuffix(l, "\r") {
			crlf++
			l = strings.TrimSuffix(l, "\r")
		}
		if l == "" {
			if len(lines) == 0 {
				raw.Reset()
				crlf = 0
				continue // stray blank line between commands
			}
			break
		}
		lines = append(lines, l)
	}
	p := &packet{raw: raw.String(), line: lines[0]}
	if crlf > 0 && crlf != len(lines)+1 && len(lines) > 1 {
		p.bad = append(p.bad, "mixed CRLF and LF line endings (FreeSWITCH reads one garbage line)")
	}
	for _, l := range lines {
		for i := 0; i < len(l); i++ {
			if c := l[i]; c < 0x20 || c == 0x7f {
				p.bad = append(p.bad, fmt.Sprintf("control character 0x%02x inside a line", c))
				break
			}
		}
	}
	if i := strings.IndexByte(p.line, '\r'); i >= 0 {
		p.line = p.line[:i] // FreeSWITCH cuts the command at a CR
	}
	for _, l := range lines[1:] {
		i := strings.Index(l, ":")
		if i <= 0 {
			p.bad = append(p.bad, "header line without name: "+l)
			continue
		}
		p.headers = append(p.headers, header{l[:i], strings.TrimLeft(l[i+1:], " ")})
	}
	if cl := p.get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || n > maxPacket {
			return nil, fmt.Errorf("esltest: bad content-length %q", cl)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, io.ErrUnexpectedEOF
		}
		p.body = string(buf)
		p.raw += p.body
	}
	return p, nil
}

// knownVerbs are ESL commands of mod_event_socket.
var knownVerbs = map[string]bool{
	"auth": true, "event": true, "api": true, "bgapi": true, "sendmsg": true, "sendevent": true,
	"exit": true, "noevents": true, "nixevent": true, "linger": true, "nolinger": true,
	"log": true, "nolog": true, "filter": true, "myevents": true, "divert_events": true, "resume": true,
}

var sendmsgHeaders = map[string]bool{
	"call-command": true, "execute-app-name": true, "execute-app-arg": true, "loops": true,
	"event-lock": true, "event-uuid": true, "hangup-cause": true, "content-type": true,
	"content-length": true, "async": true, "nomedia-uuid": true, "unicast": true,
}

// wellFormed lists why a packet is not one well-formed command.
func wellFormed(p *packet) []string {
	bad := append([]string(nil), p.bad...)
	verb, rest, _ := strings.Cut(p.line, " ")
	if !knownVerbs[verb] {
		bad = append(bad, "unknown command "+strconv.Quote(verb))
	}
	switch verb {
	case "sendmsg", "sendevent":
		for _, h := range p.headers {
			if verb == "sendmsg" && !sendmsgHeaders[strings.ToLower(h.name)] {
				bad = append(bad, "unexpected sendmsg header "+strconv.Quote(h.name))
			}
		}
	case "bgapi", "api":
		for _, h := range p.headers {
			if !(verb == "bgapi" && strings.EqualFold(h.name, "Job-UUID")) {
				bad = append(bad, "unexpected line after command: "+h.name)
			}
		}
		if !balanced(rest) {
			bad = append(bad, "unbalanced {} or [] in arguments")
		}
		if cmd, args, _ := strings.Cut(rest, " "); cmd == "originate" {
			f := SeparateString(args, ' ', 0)
			if len(f) > 0 {
				if vb, ok := ParseVarBlock(f[0]); ok {
					bad = append(bad, vb.Problems...)
				}
			}
		}
	default:
		if len(p.headers) > 0 {
			bad = append(bad, "unexpected lines after command")
		}
	}
	return bad
}

func commandReply(text string) []byte {
	return []byte("Content-Type: command/reply\nReply-Text: " + text + "\n\n")
}

func apiResponse(body string) []byte {
	return []byte("Content-Type: api/response\nContent-Length: " + strconv.Itoa(len(body)) + "\n\n" + body)
}

const disconnectBody = "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

func disconnectNotice() []byte {
	return []byte("Content-Type: text/disconnect-notice\nContent-Length: " + strconv.Itoa(len(disconnectBody)) + "\n\n" + disconnectBody)
}

// taint remembers the parts of a caller-supplied value that follow a CR
// or LF: if one of them starts a command line, caller text has produced a
// command of its own.
func (s *Server) taint(v string) {
	parts := strings.FieldsFunc(v, func(r rune) bool { return r == '\r' || r == '\n' })
	if len(parts) < 2 && !strings.HasPrefix(v, "\n") && !strings.HasPrefix(v, "\r") {
		return
	}
	if !strings.HasPrefix(v, "\n") && !strings.HasPrefix(v, "\r") {
		parts = parts[1:]
	}
	for _, p := range parts {
		if p = strings.TrimSpace(p); len(p) >= 3 {
			s.tainted = append(s.tainted, p)
		}
	}
}

func (s *Server) taintedLine(p *packet) string {
	lines := []string{p.line}
	for _, h := range p.headers {
		lines = append(lines, h.name+":"+h.value)
	}
	for _, l := range lines {
		l = strings.TrimSpace(l)
		for _, t := range s.tainted {
			if strings.HasPrefix(l, t) {
				return t
			}
		}
	}
	return ""
}

// handle executes one packet. It returns false when the connection must
// stop reading.
func (s *Server) handle(c *conn, p *packet) bool {
	s.mu.Lock()
	s.commands = append(s.commands, p.raw)
	bad := wellFormed(p)
	if t := s.taintedLine(p); t != "" {
		bad = append(bad, "caller-supplied text starts a command line: "+strconv.Quote(t))
	}
	if len(bad) > 0 {
		s.injected = append(s.injected, strings.Join(bad, "; ")+": "+p.raw)
		s.log.Warn("esltest: malformed command", "problems", bad)
	}
	verb, rest, _ := strings.Cut(p.line, " ")
	if !c.authed {
		defer s.mu.Unlock()
		if verb != "auth" {
			c.send(commandReply("-ERR command not found"))
			return true
		}
		if rest != s.opts.Password {
			c.send(commandReply("-ERR invalid"))
			c.send(disconnectNotice())
			c.send(nil)
			return false
		}
		c.authed = true
		c.send(commandReply("+OK accepted"))
		return true
	}
	s.deferring = true
	keep := true
	var wait chan string
	switch verb {
	case "auth":
		c.send(commandReply("+OK accepted"))
	case "event", "myevents":
		c.send(commandReply(c.subscribe(rest)))
	case "noevents":
		c.all, c.subs, c.custom, c.format = false, nil, nil, ""
		c.send(commandReply("+OK no events"))
	case "linger":
		c.send(commandReply("+OK will linger"))
	case "nolinger":
		c.send(commandReply("+OK will not linger"))
	case "log", "nolog", "filter", "nixevent", "divert_events", "resume":
		c.send(commandReply("+OK"))
	case "exit":
		c.send(commandReply("+OK bye"))
		c.send(disconnectNotice())
		c.send(nil)
		keep = false
	case "api":
		cmd, args, _ := strings.Cut(rest, " ")
		if cmd == "originate" {
			wait = make(chan string, 1)
			s.originate(args, "", func(res string) { wait <- res })
		} else {
			c.send(apiResponse(s.api(cmd, args)))
		}
	case "bgapi":
		cmd, args, _ := strings.Cut(rest, " ")
		job := p.get("Job-UUID")
		if job == "" {
			job = newUUID()
		}
		c.send([]byte("Content-Type: command/reply\nReply-Text: +OK Job-UUID: " + job + "\nJob-UUID: " + job + "\n\n"))
		if cmd == "originate" {
			s.originate(args, "", func(res string) { s.backgroundJob(job, cmd, args, res) })
		} else {
			// The job's result event comes before what the command set in
			// motion (fixture a_caller_hangup: BACKGROUND_JOB of
			// uuid_transfer, then the B-leg's CHANNEL_CREATE).
			mark := len(s.deferred)
			res := s.api(cmd, args)
			s.backgroundJob(job, cmd, args, res)
			last := s.deferred[len(s.deferred)-1]
			copy(s.deferred[mark+1:], s.deferred[mark:len(s.deferred)-1])
			s.deferred[mark] = last
		}
	case "sendmsg":
		c.send(commandReply(s.sendmsg(strings.TrimSpace(rest), p)))
	case "sendevent":
		c.send(commandReply(s.sendevent(p)))
	default:
		c.send(commandReply("-ERR command not found"))
	}
	s.deferring = false
	ev := s.deferred
	s.deferred = nil
	for _, e := range ev {
		s.broadcast(e)
	}
	s.mu.Unlock()
	if wait != nil {
		select {
		case res := <-wait:
			c.send(apiResponse(res))
		case <-c.dead:
			return false
		}
	}
	return keep
}

// knownEvents are the event names the emulator accepts in `event`.
var knownEvents = map[string]bool{
	"ALL": true, "CUSTOM": true, "CHANNEL_CREATE": true, "CHANNEL_DESTROY": true, "CHANNEL_STATE": true,
	"CHANNEL_CALLSTATE": true, "CHANNEL_ANSWER": true, "CHANNEL_HANGUP": true, "CHANNEL_HANGUP_COMPLETE": true,
	"CHANNEL_EXECUTE": true, "CHANNEL_EXECUTE_COMPLETE": true, "CHANNEL_BRIDGE": true, "CHANNEL_UNBRIDGE": true,
	"CHANNEL_PROGRESS": true, "CHANNEL_PROGRESS_MEDIA": true, "CHANNEL_OUTGOING": true, "CHANNEL_PARK": true,
	"CHANNEL_UNPARK": true, "CHANNEL_ORIGINATE": true, "CHANNEL_UUID": true, "API": true, "BACKGROUND_JOB": true,
	"DTMF": true, "RECORD_START": true, "RECORD_STOP": true, "PLAYBACK_START": true, "PLAYBACK_STOP": true,
	"HEARTBEAT": true, "MESSAGE": true, "RECV_MESSAGE": true, "DETECTED_SPEECH": true, "CHANNEL_DATA": true,
}

func (c *conn) subscribe(rest string) string {
	f := strings.Fields(rest)
	if len(f) == 0 {
		return "-ERR no keywords supplied"
	}
	format := f[0]
	if format != "json" && format != "plain" {
		return "-ERR unsupported event format " + format
	}
	ok := false
	custom := false
	for _, w := range f[1:] {
		if custom && !knownEvents[w] {
			if c.custom == nil {
				c.custom = map[string]bool{}
			}
			c.custom[w] = true
			continue
		}
		if !knownEvents[w] {
			continue
		}
		ok = true
		switch w {
		case "ALL":
			c.all = true
		case "CUSTOM":
			custom = true
		default:
			if c.subs == nil {
				c.subs = map[string]bool{}
			}
			c.subs[w] = true
		}
	}
	if !ok {
		return "-ERR no keywords supplied"
	}
	c.format = format
	return "+OK event listener enabled " + format
}

func (c *conn) wants(e *event) bool {
	if c.format == "" {
		return false
	}
	if c.all {
		return true
	}
	if e.name == "CUSTOM" {
		return c.custom[e.subclass]
	}
	return c.subs[e.name]
}

// emit fires an event: at once, or after the current command's reply
// when called while a command is being handled (FreeSWITCH fires events
// from its event thread, so they reach the client after the reply).
func (s *Server) emit(e *event) {
	if s.deferring {
		s.deferred = append(s.deferred, e)
		return
	}
	s.broadcast(e)
}

func (s *Server) broadcast(e *event) {
	var js, pl []byte
	for c := range s.conns {
		if !c.authed || !c.wants(e) {
			continue
		}
		if c.format == "json" {
			if js == nil {
				js = e.frame("json")
			}
			c.send(js)
		} else {
			if pl == nil {
				pl = e.frame("plain")
			}
			c.send(pl)
		}
	}
}

func (s *Server) backgroundJob(job, cmd, args, result string) {
	e := s.newEvent("BACKGROUND_JOB", "mod_event_socket.c", "api_exec", 1572)
	e.add("Job-UUID", job)
	e.add("Job-Command", cmd)
	if args != "" {
		e.add("Job-Command-Arg", args)
	}
	e.body = result
	s.emit(e)
}

// newUUID returns a random version 4 UUID.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
