package aritest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// InboundCall describes a call arriving from the carrier at
// Stasis(app, args...) in the dialplan.
type InboundCall struct {
	DID          string
	CallerNumber string
	CallerName   string
	// Args are the Stasis arguments; nil means []string{DID}.
	Args []string
	// HangupAfter, if positive, makes the caller hang up that long after the
	// call reached Stasis: a CANCEL (cause 127/487) while unanswered, a BYE
	// (no cause) once answered.
	HangupAfter time.Duration
	// DTMF digits the caller sends, timed from the answer.
	DTMF []DTMFAt
	// App is the Stasis application; "" means Options.App.
	App string
}

// DTMFAt is a digit sent At after the answer (RFC 4733, 280 ms unless
// DurationMs is set).
type DTMFAt struct {
	Digit      string
	At         time.Duration
	DurationMs int
}

// Behavior is how an originated destination answers. The zero value answers
// at once without ringing.
type Behavior struct {
	// AnswerAfter delays the final response (200, 486 or 503).
	AnswerAfter time.Duration
	// Busy: 486 (cause 17, Dial BUSY).
	Busy bool
	// NoAnswer: rings (180) until the originate timeout (cause 19/480).
	NoAnswer bool
	// NoResponse: never responds; fails with cause 19/480 at the originate
	// timeout, or with 18/408 at Options.TimerB if that comes first.
	NoResponse bool
	// Fail: 503 (cause 34, Dial CONGESTION).
	Fail bool
	// HangupAfter, if positive, makes the callee send BYE that long after
	// answering.
	HangupAfter time.Duration
	// RingEvent: the destination sends 180 Ringing before answering
	// (ChannelStateChange Ringing, Dial RINGING).
	RingEvent bool
}

// SetDestination sets how the originate endpoint (e.g.
// "PJSIP/+33612345678@carrier") behaves; the endpoint "*" sets the default
// for unknown endpoints (initially Behavior{RingEvent: true}).
func (s *Server) SetDestination(endpoint string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if endpoint == "*" {
		s.def = b
		return
	}
	s.dests[endpoint] = b
	if _, res, ok := strings.Cut(endpoint, "/"); ok {
		s.endpoints[endpointResource(res)] = true
	}
}

// SetDefaultDestination sets the behaviour of endpoints not set with
// SetDestination.
func (s *Server) SetDefaultDestination(b Behavior) { s.SetDestination("*", b) }

// Call is one party outside Asterisk: the carrier's caller for Inbound, or
// the phone reached by an originate. It records what that party experienced.
type Call struct {
	s        *Server
	id       string
	inbound  bool
	endpoint string
	done     chan struct{}

	// guarded by s.mu
	finished     bool
	answered     bool
	cause        int
	sipStatus    int
	tones        []string
	played       []string
	stasisFailed bool
	callerID     idName
	dtmf         []DTMFAt
}

// ID is the Asterisk channel id of this party's channel.
func (c *Call) ID() string { return c.id }

// Done is closed when the party's call has ended.
func (c *Call) Done() <-chan struct{} { return c.done }

// Answered reports whether the call was answered (200 OK).
func (c *Call) Answered() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.answered
}

// HangupCause is the Q.850 cause the call ended with (0 while up).
func (c *Call) HangupCause() int {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.cause
}

// SIPStatus is the final SIP response this party saw for its INVITE: 200 if
// answered, else the failure (486 busy, 603 decline, 487 cancelled, ...);
// 0 while pending.
func (c *Call) SIPStatus() int {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.sipStatus
}

// StasisFailed reports that the call never reached an application.
func (c *Call) StasisFailed() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.stasisFailed
}

// Tones are the call-progress tones the party heard, in order: "ring"
// (180), "busy" (486 or tone:busy), "congestion" (503 or tone:congestion),
// other tone:NAME playbacks as NAME.
func (c *Call) Tones() []string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return slices.Clone(c.tones)
}

// Played lists media played to the party: playback URIs as given
// ("sound:vm-goodbye", "tone:busy"), "moh", and "dtmf:DIGITS" sent by the
// application.
func (c *Call) Played() []string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return slices.Clone(c.played)
}

// CallerID is the caller ID presented to this party: for a destination, the
// originate's callerId (what the far end saw); for the caller, its own.
func (c *Call) CallerID() (name, number string) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.callerID.Name, c.callerID.Number
}

// Bridge is the id of the bridge the party's channel is in now: "" when
// it is in none, and once the call ended. Parties that talk to each other
// share one.
func (c *Call) Bridge() string {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if ch := c.s.channels[c.id]; ch != nil && ch.bridge != nil && !ch.hungUp {
		return ch.bridge.id
	}
	return ""
}

// Hangup is the party hanging up: BYE when answered, CANCEL (caller) or
// 603 Decline (destination) before. It is a no-op once the call ended.
func (c *Call) Hangup() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[c.id]
	if ch == nil || c.finished {
		return
	}
	s.remoteHangupLocked(ch)
}

// Answer makes a ringing destination answer now (e.g. with NoAnswer set).
func (c *Call) Answer() {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[c.id]
	if ch == nil || c.inbound || c.answered {
		return
	}
	s.calleeAnswerLocked(ch)
}

// SendDTMF sends digits from this party (RFC 4733, 280 ms each): the
// caller or a destination it reached; the application gets a
// ChannelDtmfReceived on the party's channel for each. Digits need media:
// before the answer, and after the end of the call, nothing is sent.
func (c *Call) SendDTMF(digits string) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[c.id]
	if ch == nil || ch.hungUp || !c.answered {
		return
	}
	for _, d := range digits {
		s.dtmfLocked(ch, string(d), 280)
	}
}

func (c *Call) finishLocked() {
	if c.finished {
		return
	}
	c.finished = true
	close(c.done)
}

// Endpoint is the originate endpoint of a destination ("" for the caller).
func (c *Call) Endpoint() string { return c.endpoint }

// CallsTo returns the destinations originated to endpoint (e.g.
// "PJSIP/+33612345678@carrier"), live or ended, oldest first.
func (s *Server) CallsTo(endpoint string) []*Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Call
	for _, c := range s.originated {
		if c.endpoint == endpoint {
			out = append(out, c)
		}
	}
	return out
}

// Call returns the party on channel id (live or ended), or nil.
func (s *Server) Call(channelID string) *Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[channelID]
}

// ---- ids ----

func (s *Server) nextIDLocked() string {
	s.seq++
	return strconv.FormatInt(s.epoch, 10) + "." + strconv.Itoa(s.seq)
}

func (s *Server) nextNameLocked(prefix string) string {
	s.nameSeq++
	return fmt.Sprintf("%s-%08x", prefix, s.nameSeq)
}

// endpointResource maps "user-phone", "+336...@carrier" or
// "sip:bob@example.com" to the PJSIP endpoint name used in channel names.
func endpointResource(res string) string {
	if strings.HasPrefix(res, "sip:") || strings.HasPrefix(res, "sips:") {
		return "anonymous"
	}
	if _, after, ok := strings.Cut(res, "@"); ok {
		return after
	}
	return res
}

// ---- inbound ----

// Inbound places a carrier call into the dialplan's Stasis(App, Args...).
// With no connected application the call fails as on Asterisk
// (STASISSTATUS=FAILED, 603 Decline): the returned Call is then already
// done and err wraps ErrStasisFailed.
func (s *Server) Inbound(ic InboundCall) (*Call, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	app := s.opts.App
	if ic.App != "" {
		app = ic.App
	}
	args := ic.Args
	if args == nil {
		args = []string{ic.DID}
	}
	now := time.Now()
	id := s.nextIDLocked()
	ch := &channel{
		id: id, name: s.nextNameLocked("PJSIP/carrier"), state: stRing,
		protocolID: fmt.Sprintf("%d-%d@127.0.0.1", s.seq, s.epoch%100000),
		caller:     idName{Name: ic.CallerName, Number: ic.CallerNumber},
		dp: dialplanJSON{Context: "from-carrier", Exten: ic.DID, Priority: 2, AppName: "Stasis",
			AppData: strings.Join(append([]string{app}, args...), ",")},
		created: now, language: "en", kind: kindInbound, app: app, args: args, resource: "carrier",
	}
	call := &Call{s: s, id: id, inbound: true, done: make(chan struct{}), callerID: ch.caller, dtmf: ic.DTMF}
	ch.call = call
	s.calls[id] = call
	if a := s.apps[app]; a == nil || !a.active() {
		call.stasisFailed = true
		call.sipStatus = 603
		call.cause = 21
		call.finishLocked()
		s.log.Debug("Stasis failed: application not active", "app", app, "call_id", id)
		return call, fmt.Errorf("aritest: inbound %s: %w", ic.DID, ErrStasisFailed)
	}
	s.channels[id] = ch
	ch.subs = []string{app}
	s.enterStasisLocked(ch)
	if ic.HangupAfter > 0 {
		ch.timers = append(ch.timers, s.afterLocked(ic.HangupAfter, func() { s.remoteHangupLocked(ch) }))
	}
	return call, nil
}

func (s *Server) enterStasisLocked(ch *channel) {
	ch.inStasis = true
	ch.dp.AppName = "Stasis"
	ch.dp.AppData = strings.Join(append([]string{ch.app}, ch.args...), ",")
	ev := s.newEvent("StasisStart")
	args := slices.Clone(ch.args)
	if args == nil {
		args = []string{}
	}
	ev.Args = &args
	ev.Channel = ch.json()
	s.sendLocked(ev, ch.subs)
}

// answerLocked answers an inbound (or snoop) channel.
func (s *Server) answerLocked(ch *channel) {
	if ch.state == stUp {
		return
	}
	ch.state = stUp
	s.chanEventLocked("ChannelStateChange", ch)
	if c := ch.call; c != nil && !c.answered {
		c.answered = true
		c.sipStatus = 200
		for _, d := range c.dtmf {
			ch.timers = append(ch.timers, s.afterLocked(d.At, func() {
				ms := d.DurationMs
				if ms == 0 {
					ms = 280
				}
				s.dtmfLocked(ch, d.Digit, ms)
			}))
		}
	}
}

func (s *Server) dtmfLocked(ch *channel, digit string, ms int) {
	ev := s.newEvent("ChannelDtmfReceived")
	ev.Digit = digit
	ev.DurationMs = ms
	ev.Channel = ch.json()
	s.sendLocked(ev, ch.subs)
	if r := ch.rec; r != nil && r.terminateOn != "" && r.terminateOn != "none" &&
		(r.terminateOn == "any" || strings.Contains(r.terminateOn, digit)) {
		s.finishRecLocked(r, "done")
	}
}

// ---- originate ----

type originateReq struct {
	endpoint, app, appArgs, callerID, channelID, originator string
	timeout                                                 int
	vars                                                    map[string]string
}

func (s *Server) behaviorLocked(endpoint string) Behavior {
	if b, ok := s.dests[endpoint]; ok {
		return b
	}
	return s.def
}

// newOutboundLocked creates an outbound channel; dial starts dialing it
// (originate), else it enters Stasis at once in state Down (create).
func (s *Server) newOutboundLocked(o originateReq, dial bool) *channel {
	tech, res, _ := strings.Cut(o.endpoint, "/")
	epName := endpointResource(res)
	name, num := parseCallerID(o.callerID)
	ch := &channel{
		id: o.channelID, name: s.nextNameLocked(tech + "/" + epName), state: stDown,
		protocolID: fmt.Sprintf("%08x-aa11-4b22-8c33-%012x", s.epoch&0xffffffff, s.nameSeq),
		caller:     idName{Name: name, Number: num}, connected: idName{Name: name, Number: num},
		dp:      dialplanJSON{Context: "from-" + epName, Exten: "s", Priority: 1, AppName: "AppDial2", AppData: "(Outgoing Line)"},
		created: time.Now(), language: "en", kind: kindOriginated, app: o.app,
		endpoint: o.endpoint, resource: epName, dialstr: res, vars: o.vars,
		behavior: s.behaviorLocked(o.endpoint), timeout: time.Duration(o.timeout) * time.Second,
	}
	if ch.id == "" {
		ch.id = s.nextIDLocked()
	}
	if o.appArgs != "" {
		ch.args = strings.Split(o.appArgs, ",")
	}
	if o.app != "" {
		ch.subs = []string{o.app}
	}
	call := &Call{s: s, id: ch.id, endpoint: o.endpoint, done: make(chan struct{}), callerID: ch.caller}
	ch.call = call
	s.calls[ch.id] = call
	s.originated = append(s.originated, call)
	s.channels[ch.id] = ch
	if !dial {
		ch.timers = append(ch.timers, s.afterLocked(0, func() { s.enterStasisLocked(ch) }))
		ch.inStasis = true
		return ch
	}
	// Asterisk dials after answering the REST request.
	ch.dialing = true
	ch.timers = append(ch.timers, s.afterLocked(0, func() { s.dialLocked(ch) }))
	return ch
}

func (s *Server) dialEventLocked(ch *channel, status string) {
	ev := s.newEvent("Dial")
	empty := ""
	ev.Dialstatus = &status
	ev.Forward = &empty
	ev.Dialstring = ch.dialstr
	ev.Peer = ch.json()
	s.sendLocked(ev, ch.subs)
}

func (s *Server) dialLocked(ch *channel) {
	b := ch.behavior
	s.dialEventLocked(ch, "")
	after := func(d time.Duration, fn func()) {
		ch.timers = append(ch.timers, s.afterLocked(d, fn))
	}
	timeout := ch.timeout
	switch {
	case b.Busy:
		after(b.AnswerAfter, func() {
			s.endChannelLocked(ch, endSpec{hr: true, hrCause: 17, hrTech: 486, dial: "BUSY", cause: 17, tech: 486, sip: 486})
		})
	case b.Fail:
		after(b.AnswerAfter, func() {
			s.endChannelLocked(ch, endSpec{hr: true, hrCause: 34, hrTech: 503, dial: "CONGESTION", cause: 34, tech: 503, sip: 503})
		})
	case b.NoResponse:
		if timeout > 0 && timeout < s.opts.TimerB {
			after(timeout, func() { s.endChannelLocked(ch, endSpec{cause: 19, tech: 480, sip: 487}) })
		} else {
			after(s.opts.TimerB, func() {
				s.endChannelLocked(ch, endSpec{hr: true, hrCause: 18, hrTech: 408, dial: "NOANSWER", cause: 18, tech: 408, sip: 408})
			})
		}
	default:
		if b.RingEvent || b.NoAnswer {
			ch.state = stRinging
			s.chanEventLocked("ChannelStateChange", ch)
			s.dialEventLocked(ch, "RINGING")
		}
		if !b.NoAnswer && (timeout <= 0 || b.AnswerAfter < timeout) {
			after(b.AnswerAfter, func() { s.calleeAnswerLocked(ch) })
		} else if timeout > 0 {
			after(timeout, func() { s.endChannelLocked(ch, endSpec{cause: 19, tech: 480, sip: 487}) })
		}
	}
}

func (s *Server) calleeAnswerLocked(ch *channel) {
	s.cancelTimersLocked(ch)
	ch.state = stUp
	s.chanEventLocked("ChannelStateChange", ch)
	s.dialEventLocked(ch, "ANSWER")
	ch.call.answered = true
	ch.call.sipStatus = 200
	if ch.app != "" && !ch.inStasis {
		s.enterStasisLocked(ch)
	}
	if h := ch.behavior.HangupAfter; h > 0 {
		ch.timers = append(ch.timers, s.afterLocked(h, func() { s.remoteHangupLocked(ch) }))
	}
}

func (s *Server) cancelTimersLocked(ch *channel) {
	for _, t := range ch.timers {
		s.stopLocked(t)
	}
	ch.timers = nil
}

// ---- hang-up ----

// endSpec says which events end a channel.
type endSpec struct {
	hr      bool // send ChannelHangupRequest
	hrCause int  // its cause (0: no cause field)
	hrTech  int
	soft    bool
	dial    string // Dial status to send for a not-yet-answered originated leg
	cause   int    // ChannelDestroyed cause / the party's hang-up cause
	tech    int
	sip     int // final SIP status for a party that was not answered
}

func (s *Server) remoteHangupLocked(ch *channel) {
	switch {
	case ch.state == stUp:
		s.endChannelLocked(ch, endSpec{hr: true, cause: 16})
	case ch.kind == kindInbound:
		s.endChannelLocked(ch, endSpec{hr: true, hrCause: 127, hrTech: 487, cause: 127, tech: 487, sip: 487})
	default: // a ringing destination declines
		s.endChannelLocked(ch, endSpec{hr: true, hrCause: 21, hrTech: 603, dial: "NOANSWER", cause: 21, tech: 603, sip: 603})
	}
}

func (s *Server) endChannelLocked(ch *channel, e endSpec) {
	if ch.hungUp {
		return
	}
	ch.hungUp = true
	s.cancelTimersLocked(ch)
	if e.hr {
		ev := s.newEvent("ChannelHangupRequest")
		if e.hrCause != 0 {
			c := e.hrCause
			ev.Cause = &c
			ev.TechCause = e.hrTech
		}
		ev.Soft = e.soft
		ev.Channel = ch.json()
		s.sendLocked(ev, ch.subs)
	}
	if ch.rec != nil {
		s.finishRecLocked(ch.rec, "done")
	}
	s.stopPlaybacksLocked(&ch.pbQueue)
	var br *bridge
	if ch.bridge != nil {
		br = ch.bridge
		s.leaveBridgeLocked(ch)
	}
	if ch.inStasis {
		ch.inStasis = false
		s.chanEventLocked("StasisEnd", ch)
	}
	if br != nil && len(br.members) == 0 && br.rec != nil {
		s.finishRecLocked(br.rec, "done")
	}
	if ch.kind == kindOriginated {
		if e.dial != "" && ch.dialing && !ch.call.answered {
			s.dialEventLocked(ch, e.dial)
		}
		ch.dp.AppName, ch.dp.AppData = "AppDial2", "(Outgoing Line)"
		ev := s.newEvent("ChannelDestroyed")
		c := e.cause
		ev.Cause = &c
		ev.CauseTxt = causeText(e.cause)
		ev.TechCause = e.tech
		ev.Channel = ch.json()
		s.sendLocked(ev, ch.subs)
	}
	delete(s.channels, ch.id)
	if ch.kind == kindSnoop {
		if t := s.channels[ch.snoopOf]; t != nil && t.snooped > 0 {
			t.snooped--
		}
	}
	if call := ch.call; call != nil {
		call.cause = e.cause
		if !call.answered {
			call.sipStatus = e.sip
			if e.sip == 0 {
				call.sipStatus = cause2sip(e.cause)
			}
			switch call.sipStatus {
			case 486:
				call.tones = append(call.tones, "busy")
			case 503:
				call.tones = append(call.tones, "congestion")
			}
		}
		call.finishLocked()
	}
}

var causeTexts = map[int]string{
	1: "Unallocated (unassigned) number", 16: "Normal Clearing", 17: "User busy",
	18: "No user responding", 19: "User alerting, no answer", 21: "Call Rejected",
	26: "Answered elsewhere", 28: "Invalid number format (addr incomplete)",
	31: "Normal, unspecified", 34: "Circuit/channel congestion", 38: "Network out of order",
	58: "Bearer capability not available", 127: "Interworking, unspecified",
}

func causeText(c int) string {
	if t, ok := causeTexts[c]; ok {
		return t
	}
	return "Unknown"
}

// cause2sip is chan_pjsip's hangup_cause2sip; unmatched causes give 603.
func cause2sip(c int) int {
	switch c {
	case 1, 2, 3:
		return 404
	case 34, 42, 66:
		return 503
	case 18:
		return 408
	case 19, 20, 31:
		return 480
	case 21:
		return 403
	case 22:
		return 410
	case 28:
		return 484
	case 17:
		return 486
	case 38, 127:
		return 500
	case 29:
		return 501
	case 27:
		return 502
	case 58:
		return 488
	}
	return 603
}

// hangupReasons maps DELETE /channels reason= to a cause.
var hangupReasons = map[string]int{
	"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 18,
	"rejected": 21, "unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28,
	"codec_mismatch": 58, "interworking": 127, "failure": 38, "answered_elsewhere": 26,
}

// ariHangupLocked is DELETE /channels/{id}: a soft hang-up (cause 32).
func (s *Server) ariHangupLocked(ch *channel, cause int) {
	e := endSpec{hr: true, hrCause: 32, soft: true, cause: cause}
	if ch.kind == kindOriginated && ch.dialing && ch.state != stUp {
		e.dial = "NOANSWER"
	}
	s.endChannelLocked(ch, e)
}

// ---- bridges ----

func (s *Server) bridgeTechOnEnter(b *bridge) string {
	if b.btype == "holding" {
		return "holding_bridge"
	}
	n := len(b.members)
	rec := 0
	if b.rec != nil && b.rec.startedEvent {
		rec = 1
	}
	if n >= 3 || n+rec >= 3 || b.tech == "softmix" {
		return "softmix"
	}
	return "simple_bridge"
}

func (s *Server) joinBridgeLocked(b *bridge, ch *channel) {
	if ch.bridge == b {
		return
	}
	if ch.bridge != nil {
		s.leaveBridgeLocked(ch)
	}
	b.members = append(b.members, ch)
	ch.bridge = b
	b.everOccupied = true
	for _, a := range ch.subs {
		b.subs = addSub(b.subs, a)
	}
	b.tech = s.bridgeTechOnEnter(b)
	ev := s.newEvent("ChannelEnteredBridge")
	ev.Bridge = b.json()
	ev.Channel = ch.json()
	s.sendLocked(ev, b.subs, ch.subs)
	if b.rec != nil && !b.rec.startedEvent && b.rec.state == "recording" {
		// recording requested on the empty bridge: Asterisk stays silent.
		_ = b.rec
	}
	if len(b.members) == 2 {
		x, y := b.members[0], b.members[1]
		if x.kind == kindOriginated || y.kind == kindOriginated {
			x.connected, y.connected = y.caller, x.caller
			for _, m := range []*channel{x, y} {
				s.chanEventLocked("ChannelConnectedLine", m)
			}
		}
		if b.tech == "simple_bridge" && x.state == stUp && y.state == stUp && x.snooped == 0 && y.snooped == 0 {
			b.tech = "native_rtp"
		}
	}
}

func (s *Server) leaveBridgeLocked(ch *channel) {
	b := ch.bridge
	if b == nil {
		return
	}
	b.members = slices.DeleteFunc(b.members, func(m *channel) bool { return m == ch })
	ch.bridge = nil
	n := len(b.members)
	if n == 0 && b.btype != "holding" {
		b.tech = "simple_bridge"
	}
	ev := s.newEvent("ChannelLeftBridge")
	ev.Bridge = b.json()
	ev.Channel = ch.json()
	s.sendLocked(ev, b.subs, ch.subs)
	if n == 1 {
		r := b.members[0]
		if b.tech == "softmix" && (r.connected != idName{}) {
			r.connected = idName{}
			s.chanEventLocked("ChannelConnectedLine", r)
		}
		if b.tech == "native_rtp" {
			b.tech = "simple_bridge"
		}
	}
}

func (s *Server) destroyBridgeLocked(b *bridge) {
	for len(b.members) > 0 {
		s.leaveBridgeLocked(b.members[0])
	}
	if b.rec != nil {
		s.finishRecLocked(b.rec, "done")
	}
	s.stopPlaybacksLocked(&b.pbQueue)
	delete(s.bridges, b.id)
	if len(b.subs) > 0 {
		ev := s.newEvent("BridgeDestroyed")
		ev.Bridge = b.json()
		s.sendLocked(ev, b.subs)
	}
}

// ---- recordings ----

func (s *Server) startRecLocked(r *liveRec) {
	s.liveRecs[r.name] = r
	subs := s.recSubs(r)
	r.started = time.Now()
	if r.br != nil && len(r.br.members) == 0 {
		r.state = "recording"
		return // Asterisk 22 sends no RecordingStarted for an empty bridge
	}
	r.startedEvent = true
	ev := s.newEvent("RecordingStarted")
	j := r.json()
	j.State = "recording"
	ev.Recording = j
	s.sendLocked(ev, subs)
	r.state = "recording"
	if r.br != nil && len(r.br.members)+1 >= 3 {
		r.br.tech = "softmix"
	}
	if r.br != nil && r.br.tech == "native_rtp" {
		r.br.tech = "simple_bridge"
	}
}

func (s *Server) recSubs(r *liveRec) []string {
	if r.ch != nil {
		return r.ch.subs
	}
	return r.br.subs
}

func (s *Server) finishRecLocked(r *liveRec, state string) {
	if s.liveRecs[r.name] != r {
		return
	}
	delete(s.liveRecs, r.name)
	s.stopLocked(r.t)
	if r.ch != nil && r.ch.rec == r {
		r.ch.rec = nil
	}
	if r.br != nil && r.br.rec == r {
		r.br.rec = nil
	}
	ev := s.newEvent("RecordingFinished")
	j := r.json()
	j.State = state
	d := int(time.Since(r.started) / time.Second)
	j.Duration = &d
	ev.Recording = j
	s.sendLocked(ev, s.recSubs(r))
	if state == "done" {
		s.stored[r.name] = r.format
	}
}

// ---- playbacks ----

func (s *Server) playDuration(uri string) time.Duration {
	if f := s.opts.PlaybackDuration; f != nil {
		return f(uri)
	}
	switch uri {
	case "sound:beep":
		return 250 * time.Millisecond
	case "sound:vnum-ivr-menu":
		return 8490 * time.Millisecond
	case "sound:vm-goodbye":
		return 820 * time.Millisecond
	}
	if strings.HasPrefix(uri, "tone:") {
		return -1
	}
	return time.Second
}

func (s *Server) pbSubs(p *playback) []string {
	if p.ch != nil {
		return p.ch.subs
	}
	return p.br.subs
}

func (s *Server) pbCalls(p *playback) []*Call {
	if p.ch != nil {
		return []*Call{p.ch.call}
	}
	var out []*Call
	for _, m := range p.br.members {
		out = append(out, m.call)
	}
	return out
}

// startPlaybackLocked starts the head of a queue.
func (s *Server) startPlaybackLocked(q *[]*playback) {
	if len(*q) == 0 {
		return
	}
	p := (*q)[0]
	if p.state == "playing" {
		return
	}
	p.state = "playing"
	ev := s.newEvent("PlaybackStarted")
	ev.Playback = p.json()
	s.sendLocked(ev, s.pbSubs(p))
	for _, c := range s.pbCalls(p) {
		if c == nil {
			continue
		}
		for _, m := range p.media {
			c.played = append(c.played, m)
			if t, ok := strings.CutPrefix(m, "tone:"); ok {
				t, _, _ = strings.Cut(t, ";")
				c.tones = append(c.tones, t)
			}
		}
	}
	var total time.Duration
	for _, m := range p.media {
		d := s.playDuration(m)
		if d < 0 {
			return // plays until stopped
		}
		total += d
	}
	p.t = s.afterLocked(total, func() { s.finishPlaybackLocked(p, q) })
}

func (s *Server) finishPlaybackLocked(p *playback, q *[]*playback) {
	if s.playbacks[p.id] != p {
		return
	}
	delete(s.playbacks, p.id)
	s.stopLocked(p.t)
	wasPlaying := p.state == "playing"
	*q = slices.DeleteFunc(*q, func(x *playback) bool { return x == p })
	p.state = "done"
	if wasPlaying {
		ev := s.newEvent("PlaybackFinished")
		ev.Playback = p.json()
		s.sendLocked(ev, s.pbSubs(p))
	}
	s.startPlaybackLocked(q)
}

func (s *Server) stopPlaybacksLocked(q *[]*playback) {
	for len(*q) > 0 {
		p := (*q)[0]
		*q = (*q)[1:]
		if s.playbacks[p.id] != p {
			continue
		}
		delete(s.playbacks, p.id)
		s.stopLocked(p.t)
		if p.state == "playing" {
			p.state = "done"
			ev := s.newEvent("PlaybackFinished")
			ev.Playback = p.json()
			s.sendLocked(ev, s.pbSubs(p))
		}
	}
}
