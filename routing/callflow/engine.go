package callflow

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/ivr"
)

// Store is what the call flow needs of the routing store
// (routing/redisstore implements it).
type Store interface {
	Decide(ctx context.Context, c routing.Call) (routing.Decision, error)
	Release(ctx context.Context, did, callID string) error
	PutCall(ctx context.Context, c routing.LiveCall) error
	DeleteCall(ctx context.Context, id string) error
	WriteCDR(ctx context.Context, c routing.CDR) error
	AddMinutes(ctx context.Context, did string, d time.Duration, at time.Time) error
	ListNodeCalls(ctx context.Context, node string) ([]routing.LiveCall, error)
	PutRecording(ctx context.Context, r routing.Recording) error
	// GetMailbox returns a number's voicemail settings (defaults when
	// unset).
	GetMailbox(ctx context.Context, did string) (routing.Mailbox, error)
	// GetIVR returns a number's menu (after an ActionIVR decision).
	GetIVR(ctx context.Context, did string) (*ivr.Menu, error)
}

// Fallback is what new calls get while the store is unreachable.
type Fallback struct {
	Action routing.Action // ActionReject (busy), ActionVoicemail or ActionForward
	Target routing.Target // for ActionForward
}

// ParseFallback reads "busy", "voicemail" or "forward:+E164".
func ParseFallback(s, region string) (Fallback, error) {
	switch {
	case s == "" || s == "busy":
		return Fallback{Action: routing.ActionReject}, nil
	case s == "voicemail":
		return Fallback{Action: routing.ActionVoicemail}, nil
	case len(s) > 8 && s[:8] == "forward:":
		t, err := routing.ParseTarget(s[8:], region)
		if err != nil {
			return Fallback{}, fmt.Errorf("fallback %q: %w", s, err)
		}
		return Fallback{Action: routing.ActionForward, Target: t}, nil
	}
	return Fallback{}, fmt.Errorf("fallback %q: want busy, voicemail or forward:+E164", s)
}

// Options configure an Engine.
type Options struct {
	PBX      PBX
	Store    Store
	Node     string // this vnumd's name; the registry says which node owns a call
	Region   string // default region for caller numbers in national format
	Privacy  routing.Privacy
	Fallback Fallback
	Logger   *slog.Logger
	Metrics  *Metrics
	// Refresh is how often live calls' registry entries and slots are
	// refreshed (default 30 s; must be well under the store's lease).
	Refresh time.Duration
	// MaxMessage caps a voicemail message (default 2 min).
	MaxMessage time.Duration
	// StoreTimeout bounds each store request of a call (default 1 s).
	StoreTimeout time.Duration
	// PBXTimeout bounds each PBX request (default 5 s).
	PBXTimeout time.Duration
	// Notify, when set, receives the calls' events for webhooks
	// (call.started, call.answered, call.ended, recording.ready,
	// voicemail.new). It must not block.
	Notify func(Notice)
	// ConfirmTimeout is how long a party who answered a call that needs
	// confirmation has to press a key (default 10 s).
	ConfirmTimeout time.Duration
	// OrphanGrace is how long a leg nobody owns must stay so before
	// reconciliation removes it (default 2 s).
	OrphanGrace time.Duration
	// Messages decides text messages (SMS relay); nil: Store, if it
	// implements MessageStore.
	Messages MessageStore
}

// Notice is one event of a call, for webhooks. Caller numbers in Data are
// in the form the privacy policy lets records keep.
type Notice struct {
	Type   string
	DID    string
	CallID string
	At     time.Time
	Data   map[string]any
}

// notify hands a notice to Options.Notify.
func (c *call) notify(typ string, data map[string]any) {
	if c.e.o.Notify == nil {
		return
	}
	c.e.o.Notify(Notice{Type: typ, DID: c.normalDID(), CallID: c.id, At: time.Now().UTC(), Data: data})
}

// endedMemory is how long an engine remembers the calls it finished.
const endedMemory = time.Minute

// ErrDraining: the engine takes no new calls.
var ErrDraining = errors.New("callflow: draining, no new calls")

// ErrNoSuchCall: the engine runs no call with that id.
var ErrNoSuchCall = errors.New("callflow: no such call")

// Engine runs calls. Create it with New, feed it events with Dispatch,
// run its housekeeping with Run.
type Engine struct {
	o   Options
	log *slog.Logger
	m   *Metrics

	reconciling sync.Mutex

	mu       sync.Mutex
	calls    map[string]*call
	legs     map[LegID]*call
	pending  map[LegID]bool       // originate requests in flight
	boundAt  map[LegID]time.Time  // when an originated leg was bound
	ended    map[string]time.Time // calls finished here lately (endedMemory)
	draining bool
	detach   chan struct{} // closed by Detach
	detached bool
	wg       sync.WaitGroup
	idle     chan struct{} // closed when draining and no call is left
	msgSem   chan struct{} // messages being relayed (sms.go)
}

// New returns an engine.
func New(o Options) *Engine {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Refresh <= 0 {
		o.Refresh = 30 * time.Second
	}
	if o.MaxMessage <= 0 {
		o.MaxMessage = 2 * time.Minute
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = time.Second
	}
	if o.PBXTimeout <= 0 {
		o.PBXTimeout = 5 * time.Second
	}
	if o.ConfirmTimeout <= 0 {
		o.ConfirmTimeout = 10 * time.Second
	}
	if o.OrphanGrace <= 0 {
		o.OrphanGrace = 2 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics(nil)
	}
	return &Engine{o: o, log: o.Logger.With("pbx", o.PBX.Name(), "node", o.Node), m: o.Metrics,
		calls: map[string]*call{}, legs: map[LegID]*call{}, pending: map[LegID]bool{}, boundAt: map[LegID]time.Time{},
		ended: map[string]time.Time{}, detach: make(chan struct{}),
		msgSem: make(chan struct{}, maxMessagesInFlight)}
}

// Dispatch hands the engine one PBX event. It never blocks on a slow call
// for long: each call has a small queue, and a call that stops reading is
// gone anyway.
func (e *Engine) Dispatch(ev Event) {
	if ev.Kind == EvInbound {
		e.start(ev.Inbound)
		return
	}
	if ev.Kind == EvMessage {
		e.message(ev.Message)
		return
	}
	e.mu.Lock()
	c := e.legs[ev.Leg]
	e.mu.Unlock()
	if c == nil {
		if ev.Kind == EvAnswered {
			// A target answered a call that stopped waiting for it (its
			// originate timed out, or the call ended): nobody must sit in
			// silence on that leg.
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), e.o.PBXTimeout)
				defer cancel()
				_ = e.o.PBX.Hangup(ctx, ev.Leg, CauseNormal)
			}()
		}
		return
	}
	c.deliver(ev)
}

// start runs a new inbound call.
func (e *Engine) start(in *Inbound) {
	if in == nil || in.Leg == "" {
		return
	}
	e.mu.Lock()
	if _, dup := e.legs[in.Leg]; dup {
		e.mu.Unlock()
		return
	}
	if e.draining {
		e.wg.Add(1)
		e.mu.Unlock()
		e.m.calls.WithLabelValues("drained").Inc()
		// Congestion: the carrier tries its next route; a real caller is
		// never left in dead air. Not on the driver's goroutine: it must
		// keep reading events.
		go func() {
			defer e.wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), e.o.PBXTimeout)
			defer cancel()
			_ = e.o.PBX.Hangup(ctx, in.Leg, CauseCongestion)
		}()
		return
	}
	c := newCall(e, string(in.Leg), *in)
	e.calls[c.id] = c
	e.legs[in.Leg] = c
	e.wg.Add(1)
	e.mu.Unlock()
	e.m.active.Inc()
	go func() {
		defer e.wg.Done()
		c.run()
	}()
}

// bind routes a leg's events to a call.
func (e *Engine) bind(leg LegID, c *call) {
	e.mu.Lock()
	e.legs[leg] = c
	e.boundAt[leg] = time.Now()
	e.mu.Unlock()
}

// originating marks a leg whose originate request is in flight (on
// true) or done (false): reconciliation leaves it alone meanwhile, since
// the PBX may not list it yet.
func (e *Engine) originating(leg LegID, on bool) {
	e.mu.Lock()
	if on {
		e.pending[leg] = true
	} else {
		delete(e.pending, leg)
	}
	e.mu.Unlock()
}

// unbind forgets a leg.
func (e *Engine) unbind(leg LegID) {
	e.mu.Lock()
	delete(e.legs, leg)
	delete(e.pending, leg)
	delete(e.boundAt, leg)
	e.mu.Unlock()
}

// done removes a finished call.
func (e *Engine) done(c *call) {
	e.mu.Lock()
	delete(e.calls, c.id)
	// Remembered a while: a reconcile whose registry snapshot still shows
	// the call must not finish it a second time (minutes counted twice).
	now := time.Now()
	for id, at := range e.ended {
		if now.Sub(at) > endedMemory {
			delete(e.ended, id)
		}
	}
	e.ended[c.id] = now
	for l, x := range e.legs {
		if x == c {
			delete(e.legs, l)
			delete(e.pending, l)
			delete(e.boundAt, l)
		}
	}
	idle := e.draining && len(e.calls) == 0 && e.idle != nil
	e.mu.Unlock()
	e.m.active.Dec()
	if idle {
		e.closeIdle()
	}
}

func (e *Engine) closeIdle() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.idle != nil {
		select {
		case <-e.idle:
		default:
			close(e.idle)
		}
	}
}

// Drain stops taking new calls; running calls go on. The returned channel
// closes when the last call has ended.
func (e *Engine) Drain() <-chan struct{} {
	e.mu.Lock()
	e.draining = true
	if e.idle == nil {
		e.idle = make(chan struct{})
	}
	n := len(e.calls)
	ch := e.idle
	e.mu.Unlock()
	if n == 0 {
		e.closeIdle()
	}
	return ch
}

// Detach lets go of every call without touching it: no hang-up, no CDR,
// the registry entries and slots left to expire with their lease. It is
// how vnumd stops without dropping established calls: the next process on
// this node adopts them (Reconcile). It returns when every call goroutine
// has returned.
func (e *Engine) Detach() {
	e.mu.Lock()
	if !e.detached {
		e.detached = true
		e.draining = true
		close(e.detach)
	}
	e.mu.Unlock()
	e.wg.Wait()
}

// Wait blocks until every call goroutine has returned.
func (e *Engine) Wait() { e.wg.Wait() }

// Active is the number of calls running.
func (e *Engine) Active() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.calls)
}

// HangupCall ends a running call (vnumctl calls hangup).
func (e *Engine) HangupCall(id string) error {
	e.mu.Lock()
	c := e.calls[id]
	e.mu.Unlock()
	if c == nil {
		return fmt.Errorf("%w: %s", ErrNoSuchCall, id)
	}
	c.kill()
	return nil
}

// HangupAll ends every running call (a second SIGTERM).
func (e *Engine) HangupAll() {
	e.mu.Lock()
	cs := make([]*call, 0, len(e.calls))
	for _, c := range e.calls {
		cs = append(cs, c)
	}
	e.mu.Unlock()
	for _, c := range cs {
		c.kill()
	}
}

// Run refreshes the live-call registry and slot leases until ctx ends.
func (e *Engine) Run(ctx context.Context) error {
	t := time.NewTicker(e.o.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			e.refresh(ctx)
		}
	}
}

func (e *Engine) refresh(ctx context.Context) {
	e.mu.Lock()
	cs := make([]*call, 0, len(e.calls))
	for _, c := range e.calls {
		cs = append(cs, c)
	}
	e.mu.Unlock()
	for _, c := range cs {
		rec, ok := c.record()
		if !ok {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, e.o.StoreTimeout)
		if err := e.o.Store.PutCall(sctx, rec); err != nil {
			e.m.storeErrors.Inc()
			e.log.Warn("refresh live call", "call_id", rec.ID, "err", err)
		}
		cancel()
	}
}

// Reconcile brings the engine and the PBX back in agreement after the
// event stream was down (reconnect) or the process restarted: a leg that
// ended unseen ends its call; calls this node registered before a restart
// are adopted when both parties are still bridged, and ended properly
// (hang-up, CDR, slot) otherwise; legs and bridges nobody owns are removed.
func (e *Engine) Reconcile(ctx context.Context) error {
	// One at a time: two reconnects in a row must not adopt a call twice.
	e.reconciling.Lock()
	defer e.reconciling.Unlock()
	// Calls and legs that begin after the snapshot is asked for are not in
	// it: they are left alone.
	snapAt := time.Now()
	live, err := e.o.PBX.Live(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	// 1. Calls running here whose legs vanished while we were not looking.
	// A leg whose originate is in flight may not be on the PBX yet.
	e.mu.Lock()
	var lost []Event
	for leg, c := range e.legs {
		if e.pending[leg] || e.boundAt[leg].After(snapAt) || c.in.At.After(snapAt) {
			continue
		}
		if _, ok := live.Legs[leg]; !ok && c.started() {
			lost = append(lost, Event{Kind: EvHangup, Leg: leg, Cause: CauseNormal})
		}
	}
	e.mu.Unlock()
	for _, ev := range lost {
		e.log.Info("leg ended while the event stream was down", "leg", ev.Leg)
		e.Dispatch(ev)
	}
	// 2. Calls this node registered before a restart.
	sctx, cancel := context.WithTimeout(ctx, 3*e.o.StoreTimeout)
	regs, err := e.o.Store.ListNodeCalls(sctx, e.o.Node)
	cancel()
	if err != nil {
		e.log.Warn("reconcile: live-call registry unreadable; adoption skipped", "err", err)
	}
	for _, r := range regs {
		e.mu.Lock()
		_, running := e.calls[r.ID]
		_, ended := e.ended[r.ID]
		e.mu.Unlock()
		if running || ended {
			continue // an entry read just before the call ended here: not a call to adopt
		}
		e.adopt(ctx, r, live)
	}
	// 3. Orphans: legs and bridges that belong to no call. A leg may be an
	// inbound call whose event is still on its way (under load, after a
	// reconnect): only a leg nobody owns in two snapshots taken a while
	// apart is an orphan.
	first := live
	select {
	case <-time.After(e.o.OrphanGrace):
	case <-ctx.Done():
		return ctx.Err()
	}
	if live, err = e.o.PBX.Live(ctx); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	e.mu.Lock()
	var orphans []LegID
	for leg := range live.Legs {
		if _, before := first.Legs[leg]; before && e.legs[leg] == nil {
			orphans = append(orphans, leg)
		}
	}
	owned := map[string]bool{}
	for _, c := range e.calls {
		if b := c.bridgeID(); b != "" {
			owned[b] = true
		}
	}
	e.mu.Unlock()
	for _, leg := range orphans {
		e.log.Info("hanging up a leg no call owns", "leg", leg)
		pctx, cancel := context.WithTimeout(ctx, e.o.PBXTimeout)
		_ = e.o.PBX.Hangup(pctx, leg, CauseNormal)
		cancel()
	}
	for b := range live.Bridges {
		if !owned[b] {
			e.log.Info("destroying a bridge no call owns", "bridge", b)
			pctx, cancel := context.WithTimeout(ctx, e.o.PBXTimeout)
			_ = e.o.PBX.DestroyBridge(pctx, b)
			cancel()
		}
	}
	return nil
}

// adoptable says whether a registered call is still whole on the PBX
// (alive: its legs the PBX still has, in the registry's order, the caller
// first): a two-party bridge with both legs; a multi-party room with the
// caller and someone else; a conference member (in its room or admitted
// and waiting for the moderator) whose leg is up.
func adoptable(r routing.LiveCall, alive []string) bool {
	callerUp := len(r.Legs) > 0 && len(alive) > 0 && alive[0] == r.Legs[0]
	switch r.State {
	case stateConference:
		return callerUp && len(alive) == 1 && (strings.HasPrefix(r.Bridge, PBXRoom("")) || strings.HasPrefix(r.Target, "room "))
	case stateBridged:
		if strings.HasPrefix(r.Bridge, roomOf("")) {
			return callerUp && len(alive) >= 2
		}
		return len(r.Legs) == 2 && len(alive) == 2
	}
	return false
}

// adopt takes over a call registered by this node before a restart.
func (e *Engine) adopt(ctx context.Context, r routing.LiveCall, live Live) {
	alive := slices.DeleteFunc(slices.Clone(r.Legs), func(l string) bool { _, ok := live.Legs[LegID(l)]; return !ok })
	log := e.log.With("call_id", r.ID, "did", r.DID)
	if adoptable(r, alive) {
		r.Legs = alive // a room's parties who left meanwhile are gone
		c := adoptedCall(e, r)
		e.mu.Lock()
		if _, running := e.calls[c.id]; running {
			e.mu.Unlock()
			return
		}
		e.calls[c.id] = c
		for _, l := range r.Legs {
			e.legs[LegID(l)] = c
		}
		e.wg.Add(1)
		e.mu.Unlock()
		e.m.active.Inc()
		e.m.adopted.Inc()
		log.Info("adopted a bridged call after restart")
		go func() {
			defer e.wg.Done()
			c.runAdopted()
		}()
		return
	}
	// Not a whole bridged call any more: end what is left, properly.
	log.Info("ending a call left half-done by a previous process", "state", r.State, "legs_alive", len(alive))
	c := adoptedCall(e, r)
	for _, l := range alive {
		pctx, cancel := context.WithTimeout(ctx, e.o.PBXTimeout)
		_ = e.o.PBX.Hangup(pctx, LegID(l), CauseNormal)
		cancel()
	}
	if r.Bridge != "" && !strings.HasPrefix(r.Bridge, PBXRoom("")) { // a conference room is shared: others may be in it
		pctx, cancel := context.WithTimeout(ctx, e.o.PBXTimeout)
		_ = e.o.PBX.DestroyBridge(pctx, r.Bridge)
		cancel()
	}
	c.hangupBy = "system"
	e.m.active.Inc() // finish's done() counts it out
	c.finish()
}
