package eslconn

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// Defaults used when the Options field is zero.
const (
	DefaultDialTimeout     = 5 * time.Second
	DefaultCommandTimeout  = 10 * time.Second
	DefaultMaxEventBacklog = 100_000
)

// DefaultLingerGrace is the default Options.LingerGrace.
const DefaultLingerGrace = 2 * time.Second

// Options configure Dial.
type Options struct {
	Addr     string // host:port of FreeSWITCH's event socket, e.g. 127.0.0.1:8021
	Password string // never logged, never in an error
	Logger   *slog.Logger
	// DialTimeout bounds TCP connect + auth + subscription.
	DialTimeout time.Duration
	// CommandTimeout bounds the wait for each reply (api/response,
	// command/reply). It does not bound the wait for a BgAPI job's result:
	// that is bounded by the caller's ctx only (an originate rings for as
	// long as FreeSWITCH lets it).
	CommandTimeout time.Duration
	// Events to subscribe to with `event json`. BACKGROUND_JOB is added
	// when missing (BgAPI needs it); an empty list subscribes to
	// BACKGROUND_JOB only. "CUSTOM sub::class" entries are passed through.
	Events []string
	// MaxBody bounds one frame's body (0: DefaultMaxBody).
	MaxBody int
	// MaxEventBacklog is how many undelivered events may queue up behind a
	// slow Events() consumer before the connection is failed with
	// ErrEventBacklog (0: DefaultMaxEventBacklog). Events are never
	// dropped silently.
	MaxEventBacklog int
	// LingerGrace is how long the Conn keeps reading (lingering events)
	// after text/disconnect-notice before it closes the socket itself, in
	// case FreeSWITCH does not (0: DefaultLingerGrace).
	LingerGrace time.Duration
}

// Conn is one authenticated inbound ESL connection. All methods are safe
// for concurrent use.
type Conn struct {
	nc     net.Conn
	fr     *FrameReader
	log    *slog.Logger
	cmd    time.Duration
	max    int
	linger time.Duration

	wmu sync.Mutex // serialises writes so the pending FIFO matches the wire order

	mu      sync.Mutex
	pending []*pendingCmd
	jobs    map[string]chan Event
	queue   []Event
	qhead   int
	warnAt  int
	failed  bool
	err     error
	evWake  chan struct{}
	events  chan Event
	done    chan struct{}
	closing chan struct{}
	once    sync.Once
	wg      sync.WaitGroup
}

type pendingCmd struct {
	name  string
	jobID string
	ch    chan replyResult
}

type replyResult struct {
	f   *Frame
	err error
}

// Dial connects, authenticates and subscribes. A refused password returns
// an error matching ErrAuth.
func Dial(ctx context.Context, opts Options) (*Conn, error) {
	if err := CheckArg(opts.Password); err != nil {
		return nil, fmt.Errorf("esl: password: %w", ErrUnsafeArg)
	}
	events, err := eventList(opts.Events)
	if err != nil {
		return nil, err
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = DefaultCommandTimeout
	}
	if opts.MaxEventBacklog <= 0 {
		opts.MaxEventBacklog = DefaultMaxEventBacklog
	}
	if opts.LingerGrace <= 0 {
		opts.LingerGrace = DefaultLingerGrace
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("pbx", "freeswitch", "addr", opts.Addr)

	dctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(dctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("esl: dial %s: %w", opts.Addr, err)
	}
	stop := context.AfterFunc(dctx, func() { _ = nc.SetDeadline(time.Now()) })
	fr := NewFrameReader(nc, opts.MaxBody)
	if err := authenticate(nc, fr, opts.Password); err != nil {
		stop()
		_ = nc.Close()
		if dctx.Err() != nil && !errors.Is(err, ErrAuth) {
			return nil, fmt.Errorf("esl: connect %s: %w", opts.Addr, dctx.Err())
		}
		return nil, fmt.Errorf("esl: connect %s: %w", opts.Addr, err)
	}
	if !stop() {
		_ = nc.Close()
		return nil, fmt.Errorf("esl: connect %s: %w", opts.Addr, dctx.Err())
	}
	_ = nc.SetDeadline(time.Time{})

	c := &Conn{
		nc: nc, fr: fr, log: log, cmd: opts.CommandTimeout, max: opts.MaxEventBacklog, linger: opts.LingerGrace,
		jobs:    make(map[string]chan Event),
		warnAt:  1000,
		evWake:  make(chan struct{}, 1),
		events:  make(chan Event, 64),
		done:    make(chan struct{}),
		closing: make(chan struct{}),
	}
	c.wg.Add(2)
	go c.readLoop()
	go c.pump()
	f, err := c.command(dctx, "event", "event json "+strings.Join(events, " ")+"\n\n", "")
	if err == nil {
		if rt := f.Get("Reply-Text"); !strings.HasPrefix(rt, "+OK") {
			err = &CommandError{Command: "event json", Reply: rt}
		}
	}
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("esl: subscribe: %w", err)
	}
	log.Debug("esl connected", "events", len(events))
	return c, nil
}

func authenticate(nc net.Conn, fr *FrameReader, password string) error {
	f, err := fr.ReadFrame()
	if err != nil {
		return fmt.Errorf("read auth/request: %w", err)
	}
	if f.ContentType() != TypeAuthRequest {
		return fmt.Errorf("%w: expected auth/request, got %q", ErrFrame, clip(f.ContentType()))
	}
	if _, err := io.WriteString(nc, "auth "+password+"\n\n"); err != nil {
		return fmt.Errorf("send auth: %w", err)
	}
	f, err = fr.ReadFrame()
	if err != nil {
		return fmt.Errorf("read auth reply: %w", err)
	}
	if f.ContentType() != TypeCommandReply {
		return fmt.Errorf("%w: expected command/reply to auth, got %q", ErrFrame, clip(f.ContentType()))
	}
	if rt := f.Get("Reply-Text"); !strings.HasPrefix(rt, "+OK") {
		return ErrAuth // FreeSWITCH says "-ERR invalid"; the password is not echoed
	}
	return nil
}

func eventList(in []string) ([]string, error) {
	var out []string
	hasJob := false
	for _, e := range in {
		for _, w := range strings.Fields(e) {
			if err := CheckArg(w); err != nil {
				return nil, fmt.Errorf("esl: event name: %w", err)
			}
			if w == "BACKGROUND_JOB" || w == "ALL" {
				hasJob = true
			}
			out = append(out, w)
		}
	}
	if !hasJob {
		out = append(out, "BACKGROUND_JOB")
	}
	return out, nil
}

// Events returns the demultiplexed event stream. It carries events only,
// never replies, and never drops one: events wait in an unbounded queue
// until read (bounded by Options.MaxEventBacklog, beyond which the
// connection fails with ErrEventBacklog). The channel is closed after the
// connection ended and every queued event was delivered, or at once on
// Close.
func (c *Conn) Events() <-chan Event { return c.events }

// Done is closed when the connection has ended (Close, network error,
// disconnect-notice, framing error).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns nil while the connection is up, then why it ended.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.failed {
		return nil
	}
	return c.err
}

// Close ends the connection and waits for its goroutines. Queued events
// not yet read are discarded. Close is idempotent.
func (c *Conn) Close() error {
	c.once.Do(func() {
		close(c.closing)
		c.fail(ErrClosed)
		_ = c.nc.Close()
	})
	c.wg.Wait()
	return nil
}

// API runs `api <cmd> <args...>` and returns the response body without
// its trailing newline. A "-ERR"/"-USAGE" body is returned as a
// *CommandError; the connection stays open.
func (c *Conn) API(ctx context.Context, cmd string, args ...string) (string, error) {
	line, err := commandLine("api", cmd, args)
	if err != nil {
		return "", err
	}
	f, err := c.command(ctx, "api "+cmd, line+"\n\n", "")
	if err != nil {
		return "", err
	}
	if f.ContentType() != TypeAPIResponse {
		return "", fmt.Errorf("%w: api %s answered with %q", ErrFrame, cmd, clip(f.ContentType()))
	}
	body := strings.TrimRight(string(f.Body), "\n")
	if isNegative(body) {
		return "", &CommandError{Command: "api " + cmd, Reply: body}
	}
	return body, nil
}

// BgAPI runs `bgapi <cmd> <args...>` with a client-chosen Job-UUID and
// returns the body of the matching BACKGROUND_JOB event (trailing newline
// removed), e.g. "+OK <uuid>" for originate. Other commands are not held up
// while the job runs. A negative result is a *CommandError. If ctx ends
// first, the late BACKGROUND_JOB is delivered on Events() instead.
func (c *Conn) BgAPI(ctx context.Context, cmd string, args ...string) (string, error) {
	line, err := commandLine("bgapi", cmd, args)
	if err != nil {
		return "", err
	}
	jobID := newUUID()
	jobCh := make(chan Event, 1)
	c.mu.Lock()
	c.jobs[jobID] = jobCh
	c.mu.Unlock()
	forget := func() {
		c.mu.Lock()
		for k, ch := range c.jobs {
			if ch == jobCh {
				delete(c.jobs, k)
			}
		}
		c.mu.Unlock()
	}
	f, err := c.command(ctx, "bgapi "+cmd, line+"\nJob-UUID: "+jobID+"\n\n", jobID)
	if err != nil {
		forget()
		return "", err
	}
	if rt := f.Get("Reply-Text"); !strings.HasPrefix(rt, "+OK") {
		forget()
		return "", &CommandError{Command: "bgapi " + cmd, Reply: rt}
	}
	select {
	case ev := <-jobCh:
		body := strings.TrimRight(ev.Body, "\n")
		if isNegative(body) {
			return "", &CommandError{Command: "bgapi " + cmd, Reply: body}
		}
		return body, nil
	case <-ctx.Done():
		forget()
		return "", fmt.Errorf("esl: bgapi %s: %w", cmd, ctx.Err())
	case <-c.done:
		forget()
		return "", fmt.Errorf("esl: bgapi %s: %w", cmd, c.Err())
	}
}

// SendMsg is one `sendmsg` block (an application to execute on a channel,
// or a hangup).
type SendMsg struct {
	Command     string // call-command; "" means "execute"
	App         string // execute-app-name
	Arg         string // execute-app-arg; sent as a text/plain body when long
	Loops       int    // loops, if > 1
	EventLock   bool   // event-lock: true (apps run one after another)
	EventUUID   string // Event-UUID, echoed as Application-UUID in CHANNEL_EXECUTE_COMPLETE
	HangupCause string // hangup-cause, for Command "hangup"
}

// MaxHeaderArg is the longest execute-app-arg sent as a header; longer
// arguments go in a Content-Length body.
const MaxHeaderArg = 512

// SendMsg sends a sendmsg block for the channel uuid with LF-only line
// endings and a single blank-line terminator (or a Content-Length body).
// A "-ERR" reply is a *CommandError.
func (c *Conn) SendMsg(ctx context.Context, uuid string, m SendMsg) error {
	wire, err := m.encode(uuid)
	if err != nil {
		return err
	}
	f, err := c.command(ctx, "sendmsg", wire, "")
	if err != nil {
		return err
	}
	if rt := f.Get("Reply-Text"); !strings.HasPrefix(rt, "+OK") {
		return &CommandError{Command: "sendmsg " + m.App, Reply: rt}
	}
	return nil
}

func (m SendMsg) encode(uuid string) (string, error) {
	if m.Command == "" {
		m.Command = "execute"
	}
	for _, s := range []string{uuid, m.Command, m.App, m.EventUUID, m.HangupCause} {
		if err := CheckArg(s); err != nil {
			return "", fmt.Errorf("esl: sendmsg: %w", err)
		}
		if strings.ContainsAny(s, " :") {
			return "", fmt.Errorf("esl: sendmsg: %w: space or colon in %q", ErrUnsafeArg, clip(s))
		}
	}
	if err := CheckArg(m.Arg); err != nil {
		return "", fmt.Errorf("esl: sendmsg %s: %w", m.App, err)
	}
	if uuid == "" {
		return "", fmt.Errorf("esl: sendmsg: %w: empty uuid", ErrUnsafeArg)
	}
	var b strings.Builder
	b.WriteString("sendmsg " + uuid + "\ncall-command: " + m.Command + "\n")
	if m.App != "" {
		b.WriteString("execute-app-name: " + m.App + "\n")
	}
	if m.Loops > 1 {
		fmt.Fprintf(&b, "loops: %d\n", m.Loops)
	}
	if m.EventLock {
		b.WriteString("event-lock: true\n")
	}
	if m.EventUUID != "" {
		b.WriteString("Event-UUID: " + m.EventUUID + "\n")
	}
	if m.HangupCause != "" {
		b.WriteString("hangup-cause: " + m.HangupCause + "\n")
	}
	switch {
	case m.Arg == "":
		b.WriteString("\n")
	case len(m.Arg) <= MaxHeaderArg:
		b.WriteString("execute-app-arg: " + m.Arg + "\n\n")
	default:
		fmt.Fprintf(&b, "content-type: text/plain\ncontent-length: %d\n\n%s", len(m.Arg), m.Arg)
	}
	return b.String(), nil
}

// commandLine validates and joins a command. cmd must be one word.
func commandLine(verb, cmd string, args []string) (string, error) {
	if cmd == "" || strings.ContainsRune(cmd, ' ') {
		return "", fmt.Errorf("esl: %s: %w: command must be one word", verb, ErrUnsafeArg)
	}
	if err := CheckArg(cmd); err != nil {
		return "", fmt.Errorf("esl: %s: %w", verb, err)
	}
	var b strings.Builder
	b.WriteString(verb + " " + cmd)
	for _, a := range args {
		if err := CheckArg(a); err != nil {
			return "", fmt.Errorf("esl: %s %s: %w", verb, cmd, err)
		}
		b.WriteString(" " + a)
	}
	return b.String(), nil
}

// command writes one command and waits for its reply. jobID registers the
// client-chosen Job-UUID so the reader can re-key the waiter if
// FreeSWITCH picked another one.
func (c *Conn) command(ctx context.Context, name, wire, jobID string) (*Frame, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("esl: %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cmd)
	defer cancel()
	p := &pendingCmd{name: name, jobID: jobID, ch: make(chan replyResult, 1)}

	c.wmu.Lock()
	c.mu.Lock()
	if c.failed {
		err := c.err
		c.mu.Unlock()
		c.wmu.Unlock()
		return nil, fmt.Errorf("esl: %s: %w", name, err)
	}
	c.pending = append(c.pending, p)
	c.mu.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetWriteDeadline(dl)
	}
	_, err := io.WriteString(c.nc, wire)
	c.wmu.Unlock()
	if err != nil {
		// A partial write leaves the stream unusable for everyone.
		c.fail(fmt.Errorf("esl: write: %w", err))
		_ = c.nc.Close()
	}
	c.log.Debug("esl command", "cmd", name)

	select {
	case r := <-p.ch:
		if r.err != nil {
			return nil, fmt.Errorf("esl: %s: %w", name, r.err)
		}
		return r.f, nil
	case <-ctx.Done():
		// The slot stays in the FIFO: its reply, when it comes, is
		// discarded, so later commands still get their own replies.
		return nil, fmt.Errorf("esl: %s: %w", name, ctx.Err())
	}
}

// fail records the end of the connection once and releases every waiter.
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.failed {
		c.mu.Unlock()
		return
	}
	c.failed = true
	c.err = err
	pend := c.pending
	c.pending = nil
	c.mu.Unlock()
	for _, p := range pend {
		p.ch <- replyResult{err: err}
	}
}

func (c *Conn) readLoop() {
	defer c.wg.Done()
	defer close(c.done)
	defer c.nc.Close()
	disconnected := false
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			switch {
			case disconnected && (errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded)):
				err = ErrDisconnected
			case errors.Is(err, io.EOF):
				err = fmt.Errorf("%w: %w", ErrDisconnected, err)
			case errors.Is(err, ErrFrame):
				c.log.Error("esl framing error, closing connection", "err", err)
			}
			c.fail(err)
			return
		}
		switch f.ContentType() {
		case TypeCommandReply, TypeAPIResponse:
			if !c.deliverReply(f) {
				c.log.Error("esl reply without a pending command, closing connection", "content_type", f.ContentType())
				c.fail(fmt.Errorf("%w: unsolicited %s", ErrFrame, f.ContentType()))
				return
			}
		case TypeEventJSON, TypeEventPlain:
			ev, err := ParseEvent(f)
			if err != nil {
				c.log.Warn("esl event not parsed, skipped", "err", err)
				continue
			}
			if !c.enqueue(ev) {
				return
			}
		case TypeDisconnectNotice:
			c.log.Info("esl disconnect-notice from FreeSWITCH")
			disconnected = true
			c.fail(ErrDisconnected)
			// FreeSWITCH closes right after the notice (or after lingering
			// events); do not wait for ever if it does not.
			_ = c.nc.SetReadDeadline(time.Now().Add(c.linger))
		default:
			c.log.Warn("esl frame of unknown type skipped", "content_type", clip(f.ContentType()))
		}
	}
}

func (c *Conn) deliverReply(f *Frame) bool {
	c.mu.Lock()
	if len(c.pending) == 0 {
		c.mu.Unlock()
		return false
	}
	p := c.pending[0]
	c.pending[0] = nil
	c.pending = c.pending[1:]
	if p.jobID != "" {
		if got := f.Get("Job-UUID"); got != "" && got != p.jobID {
			if ch, ok := c.jobs[p.jobID]; ok {
				delete(c.jobs, p.jobID)
				c.jobs[got] = ch
			}
		}
	}
	c.mu.Unlock()
	p.ch <- replyResult{f: f}
	return true
}

// enqueue routes an event to its BgAPI waiter or to the Events queue. It
// returns false when the backlog limit failed the connection.
func (c *Conn) enqueue(ev Event) bool {
	c.mu.Lock()
	if ev.Name == "BACKGROUND_JOB" {
		if ch, ok := c.jobs[ev.Headers["Job-UUID"]]; ok {
			delete(c.jobs, ev.Headers["Job-UUID"])
			c.mu.Unlock()
			ch <- ev
			return true
		}
	}
	c.queue = append(c.queue, ev)
	n := len(c.queue) - c.qhead
	warn := n >= c.warnAt
	if warn {
		c.warnAt *= 10
	}
	c.mu.Unlock()
	if warn {
		c.log.Warn("esl event consumer is falling behind", "backlog", n)
	}
	if n > c.max {
		c.log.Error("esl event backlog limit reached, closing connection", "backlog", n)
		c.fail(ErrEventBacklog)
		_ = c.nc.Close()
		return false
	}
	select {
	case c.evWake <- struct{}{}:
	default:
	}
	return true
}

func (c *Conn) next() (Event, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.qhead == len(c.queue) {
		c.queue = c.queue[:0]
		c.qhead = 0
		return Event{}, false
	}
	ev := c.queue[c.qhead]
	c.queue[c.qhead] = Event{}
	c.qhead++
	return ev, true
}

// pump moves queued events to the Events channel.
func (c *Conn) pump() {
	defer c.wg.Done()
	defer close(c.events)
	readerDone := c.done
	for {
		ev, ok := c.next()
		if ok {
			select {
			case c.events <- ev:
			case <-c.closing:
				return
			}
			continue
		}
		if readerDone == nil {
			return // reader ended and the queue is drained
		}
		select {
		case <-c.evWake:
		case <-readerDone:
			readerDone = nil // drain what is left, then stop
		case <-c.closing:
			return
		}
	}
}

// newUUID returns a random (version 4) UUID string.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
