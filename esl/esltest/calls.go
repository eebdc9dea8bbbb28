package esltest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Outcome is how a scripted destination answers a leg.
type Outcome int

const (
	Answer   Outcome = iota // 200 OK after Behavior.After
	Busy                    // 486: USER_BUSY
	NoAnswer                // rings for Behavior.After, then NO_ANSWER (the ring timeout)
	Fail                    // fails with Behavior.Cause after Behavior.After
)

// Behavior scripts a destination.
type Behavior struct {
	Outcome Outcome
	// After is the ring time before the outcome. For NoAnswer it stands in
	// for call_timeout/originate_timeout, so tests need not wait seconds.
	After time.Duration
	// HangupAfter makes the callee hang up this long after answering
	// (0: never).
	HangupAfter time.Duration
	// Cause for Fail (default NORMAL_TEMPORARY_FAILURE).
	Cause string
}

// InboundCall describes a call arriving from the carrier.
type InboundCall struct {
	DID          string
	CallerNumber string
	CallerName   string // as FreeSWITCH stores it, i.e. already URL-decoded (may hold CR/LF)
	// HangupAfter makes the caller hang up this long after the A-leg is
	// answered (0: never).
	HangupAfter time.Duration
	// AbandonAfter makes the caller give up if the A-leg is not answered
	// within this time (0: never).
	AbandonAfter time.Duration
	// DTMF digits the caller presses, one every DTMFInterval (default
	// 50 ms), starting DTMFInterval after answer.
	DTMF         string
	DTMFInterval time.Duration
	// Vars are extra channel variables the dialplan set before park.
	Vars map[string]string
	// Conference, when set, makes the dialplan answer the call and send it
	// to `conference <Conference>` instead of parking it for vnumd (the
	// dialplan of fixture e_conference: `answer`, `conference 3000@default`).
	Conference string
}

// LegInfo describes one outbound leg and what its far end saw.
type LegInfo struct {
	UUID       string
	ALeg       string // the bridged-from channel, "" for a plain originate
	DialString string // as received, variable blocks included
	Endpoint   string // without variable blocks
	// Vars are the variables of the dial string's {}/[] blocks as
	// FreeSWITCH would parse them.
	Vars map[string]string
	// The caller-ID variables in force for this leg (dial string first,
	// then inherited from the A-leg).
	OriginationCallerIDNumber, OriginationCallerIDName string
	EffectiveCallerIDNumber, EffectiveCallerIDName     string
	// CallerIDNumber/Name are what the far end saw in From (effective_*
	// over origination_* over the A-leg's own caller ID).
	CallerIDNumber, CallerIDName string
	Outcome                      string // "SUCCESS" or the hangup cause
	// Played lists the files played to this leg (uuid_broadcast,
	// playback), what its far end heard.
	Played []string
}

// CallState is a snapshot of an inbound call.
type CallState struct {
	Answered  bool
	BridgedTo string // UUID of the bridged leg, if bridged now
	HungUp    bool
	Cause     string
	Vars      map[string]string
	Recording bool
	Played    []string // files played with uuid_broadcast / playback
	FellBack  bool     // the dialplan fallback ran (no sched_del in time)
}

// Call is the emulator's handle on an inbound call (the caller's side).
type Call struct {
	s    *Server
	uuid string
	ch   *channel
	done chan struct{}
	// final snapshot once hung up
	final CallState
}

// UUID is the A-leg's Unique-ID.
func (c *Call) UUID() string { return c.uuid }

// HungUp is closed when the A-leg has hung up.
func (c *Call) HungUp() <-chan struct{} { return c.done }

// State returns a snapshot.
func (c *Call) State() CallState {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.ch == nil {
		return c.final
	}
	return c.ch.snapshot()
}

// Hangup makes the caller hang up now (cause "" = NORMAL_CLEARING).
func (c *Call) Hangup(cause string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.ch == nil {
		return errors.New("esltest: call already hung up")
	}
	if cause == "" {
		cause = "NORMAL_CLEARING"
	}
	c.s.hangup(c.ch, cause)
	return nil
}

// SendDTMF makes the caller press digits now (DTMF events on the A-leg).
func (c *Call) SendDTMF(digits string) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.ch != nil {
		for _, d := range digits {
			c.s.dtmf(c.ch, string(d))
		}
	}
}

// channel is the emulator's per-channel state, kept small.
type channel struct {
	uuid, name, direction, dialplan, dest string
	cidName, cidNum                       string
	state, callState, answerState         string
	vars                                  []Var
	created                               time.Time
	answered, hungup                      bool
	cause                                 string
	other, otherType                      string
	bside                                 bool         // bridged as the B side
	bridged                               bool         // in a bridge with other now
	ringing                               string       // leg being dialled by a bridge from this channel
	pendingDone                           func(string) // an originate waiting for this leg's outcome
	recording                             []string
	played                                []string
	call                                  *Call
	legIdx                                int // index in Server.legs, -1 for inbound
	fellBack                              bool
	hangupAfter                           time.Duration
	dtmf                                  string
	dtmfInterval                          time.Duration
	conf                                  *conference    // the room it is in now
	plays                                 map[int]string // playbacks running now, by id
	playSeq                               int
}

func (ch *channel) getVar(name string) (string, bool) {
	for _, v := range ch.vars {
		if v.Name == name {
			return v.Value, true
		}
	}
	return "", false
}

func (ch *channel) setVar(name, value string) {
	for i, v := range ch.vars {
		if v.Name == name {
			ch.vars[i].Value = value
			return
		}
	}
	ch.vars = append(ch.vars, Var{name, value})
}

func (ch *channel) unsetVar(name string) {
	for i, v := range ch.vars {
		if v.Name == name {
			ch.vars = append(ch.vars[:i], ch.vars[i+1:]...)
			return
		}
	}
}

func (ch *channel) snapshot() CallState {
	st := CallState{Answered: ch.answered, HungUp: ch.hungup, Cause: ch.cause, Vars: map[string]string{},
		Recording: len(ch.recording) > 0, Played: append([]string(nil), ch.played...), FellBack: ch.fellBack}
	if ch.bridged {
		st.BridgedTo = ch.other
	}
	for _, v := range ch.vars {
		st.Vars[v.Name] = v.Value
	}
	return st
}

// Inbound makes a call arrive from the carrier: CHANNEL_CREATE, then the
// dialplan sets vnum_did / vnum_mode and parks it (CHANNEL_PARK).
func (s *Server) Inbound(in InboundCall) (*Call, error) {
	if in.DID == "" {
		return nil, errors.New("esltest: inbound call without DID")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.quit:
		return nil, errors.New("esltest: server closed")
	default:
	}
	id := newUUID()
	ch := &channel{
		uuid: id, name: "sofia/lab/" + in.CallerNumber + "@127.0.0.1:5072", direction: "inbound",
		dialplan: "XML", dest: in.DID, cidName: in.CallerName, cidNum: in.CallerNumber,
		state: "CS_INIT", callState: "DOWN", answerState: "ringing", created: time.Now(), legIdx: -1,
		hangupAfter: in.HangupAfter, dtmf: in.DTMF, dtmfInterval: in.DTMFInterval,
	}
	if ch.dtmfInterval <= 0 {
		ch.dtmfInterval = 50 * time.Millisecond
	}
	for _, kv := range [][2]string{
		{"direction", "inbound"}, {"uuid", id}, {"call_uuid", id}, {"channel_name", ch.name},
		{"sip_from_user", in.CallerNumber}, {"sip_from_display", in.CallerName},
		{"sip_req_user", in.DID}, {"sip_to_user", in.DID}, {"sofia_profile_name", "lab"},
		{"endpoint_disposition", "RECEIVED"},
	} {
		ch.setVar(kv[0], kv[1])
	}
	s.taint(in.CallerName)
	s.taint(in.CallerNumber)
	call := &Call{s: s, uuid: id, ch: ch, done: make(chan struct{})}
	ch.call = call
	s.channels[id] = ch
	s.calls[id] = call
	s.emit(s.chanEvent("CHANNEL_CREATE", ch))
	ch.setVar("vnum_did", in.DID)
	ch.setVar("vnum_mode", "inbound_esl")
	keys := make([]string, 0, len(in.Vars))
	for k := range in.Vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ch.setVar(k, in.Vars[k])
	}
	if in.Conference != "" {
		s.answer(ch)
		ch.state = "CS_EXECUTE"
		s.joinConference(ch, in.Conference, "", true)
		return call, nil
	}
	ch.setVar("current_application", "park")
	ch.state, ch.callState = "CS_EXECUTE", "RINGING"
	s.emit(s.chanEvent("CHANNEL_PARK", ch))
	if in.AbandonAfter > 0 {
		s.after(in.AbandonAfter, func() {
			if !ch.hungup && !ch.answered {
				s.hangup(ch, "ORIGINATOR_CANCEL")
			}
		})
	}
	return call, nil
}

// answer answers a channel (CHANNEL_ANSWER) and starts its scripts.
func (s *Server) answer(ch *channel) {
	if ch.answered || ch.hungup {
		return
	}
	ch.answered = true
	ch.answerState, ch.callState = "answered", "ACTIVE"
	ch.setVar("endpoint_disposition", "ANSWER")
	s.emit(s.chanEvent("CHANNEL_ANSWER", ch))
	if ch.hangupAfter > 0 {
		s.after(ch.hangupAfter, func() {
			if !ch.hungup {
				s.hangup(ch, "NORMAL_CLEARING")
			}
		})
	}
	for i, d := range ch.dtmf {
		digit := string(d)
		s.after(time.Duration(i+1)*ch.dtmfInterval, func() {
			if !ch.hungup {
				s.dtmf(ch, digit)
			}
		})
	}
}

func (s *Server) dtmf(ch *channel, digit string) {
	s.emit(s.chanEvent("DTMF", ch, hdr{"DTMF-Digit", digit}, hdr{"DTMF-Duration", "2240"}, hdr{"DTMF-Source", "RTP"}))
}

// hangup ends a channel and, if bridged, its partner, in the order a real
// FreeSWITCH emits the events (fixtures a_caller_hangup, b_callee_hangup).
func (s *Server) hangup(ch *channel, cause string) {
	if ch.hungup {
		return
	}
	partner := s.channels[ch.other]
	bridged := ch.bridged && partner != nil && partner.bridged
	if bridged {
		ch.bridged, partner.bridged = false, false
		ch.setVar("last_bridge_hangup_cause", cause)
		partner.setVar("last_bridge_hangup_cause", cause)
		partner.setVar("bridge_hangup_cause", cause)
	}
	s.markHangup(ch, cause)
	s.emit(s.chanEvent("CHANNEL_HANGUP", ch))
	if !bridged {
		if b := s.channels[ch.ringing]; b != nil && !b.hungup {
			// A-leg gone while its bridge leg rings: cancel it.
			s.markHangup(b, "ORIGINATOR_CANCEL")
			s.emit(s.chanEvent("CHANNEL_HANGUP", b))
			s.complete(b)
		}
		s.complete(ch)
		return
	}
	if !ch.bside {
		// The A side hangs up: the B side follows at once, then A unbridges.
		s.markHangup(partner, "NORMAL_CLEARING")
		s.emit(s.chanEvent("CHANNEL_HANGUP", partner))
		s.complete(partner)
		s.emit(s.chanEvent("CHANNEL_UNBRIDGE", ch, hdr{"Bridge-A-Unique-ID", ch.uuid}, hdr{"Bridge-B-Unique-ID", partner.uuid}))
		s.complete(ch)
		return
	}
	// The B side hangs up: it completes, A unbridges, then A hangs up if
	// hangup_after_bridge=true, else goes back to park.
	s.complete(ch)
	s.emit(s.chanEvent("CHANNEL_UNBRIDGE", partner, hdr{"Bridge-A-Unique-ID", partner.uuid}, hdr{"Bridge-B-Unique-ID", ch.uuid}))
	if v, _ := partner.getVar("hangup_after_bridge"); v == "true" || partner.direction == "outbound" {
		s.markHangup(partner, "NORMAL_CLEARING")
		s.emit(s.chanEvent("CHANNEL_HANGUP", partner))
		s.complete(partner)
		return
	}
	partner.setVar("current_application", "park")
	s.emit(s.chanEvent("CHANNEL_PARK", partner))
}

func (s *Server) markHangup(ch *channel, cause string) {
	ch.hungup = true
	ch.cause = cause
	ch.state, ch.callState, ch.answerState = "CS_HANGUP", "HANGUP", "hangup"
	ch.setVar("hangup_cause", cause)
}

// complete stops recordings and emits CHANNEL_HANGUP_COMPLETE; a
// conference member leaves its room first (fixture e_conference:
// CHANNEL_HANGUP, del-member, CHANNEL_HANGUP_COMPLETE, then the floor
// passes on or the room is destroyed).
func (s *Server) complete(ch *channel) {
	room := ch.conf
	s.leaveConference(ch, true)
	defer func() {
		if room != nil {
			s.confMaybeGone(room)
		}
	}()
	for _, path := range ch.recording {
		s.emit(s.chanEvent("RECORD_STOP", ch, hdr{"Record-File-Path", path}, hdr{"Record-Completion-Cause", "success-silence"}))
	}
	ch.recording = nil
	ch.state = "CS_REPORTING"
	s.emit(s.chanEvent("CHANNEL_HANGUP_COMPLETE", ch))
	delete(s.channels, ch.uuid)
	if done := ch.pendingDone; done != nil {
		ch.pendingDone = nil
		done("-ERR " + ch.cause + "\n")
	}
	if ch.legIdx >= 0 && s.legs[ch.legIdx].Outcome == "" {
		s.legs[ch.legIdx].Outcome = ch.cause
	}
	if c := ch.call; c != nil {
		c.final = ch.snapshot()
		c.ch = nil
		delete(s.calls, ch.uuid)
		close(c.done)
	}
}

// dialTarget parses "{..}[..]endpoint" into variables and endpoint.
func dialTarget(dial string) (vars []Var, endpoint string, ok bool) {
	rest := dial
	for rest != "" && (rest[0] == '{' || rest[0] == '[' || rest[0] == '<') {
		vb, ok := ParseVarBlock(rest)
		if !ok {
			return nil, "", false
		}
		vars = append(vars, vb.Vars...)
		rest = vb.Rest
	}
	return vars, rest, true
}

func lastVar(vars []Var, name string) (string, bool) {
	v, ok := "", false
	for _, x := range vars {
		if x.Name == name {
			v, ok = x.Value, true
		}
	}
	return v, ok
}

var knownTech = []string{"sofia/", "user/", "loopback/", "error/", "null/", "verto.rtc/"}

// newLeg creates an outbound channel for dial (from A when bridging) and
// records its LegInfo.
func (s *Server) newLeg(dial string, vars []Var, endpoint string, a *channel) *channel {
	id := newUUID()
	li := LegInfo{UUID: id, DialString: dial, Endpoint: endpoint, Vars: map[string]string{}}
	for _, v := range vars {
		li.Vars[v.Name] = v.Value
	}
	pick := func(name string) string {
		if v, ok := lastVar(vars, name); ok {
			return v
		}
		if a != nil {
			if v, ok := a.getVar(name); ok {
				return v
			}
		}
		return ""
	}
	li.OriginationCallerIDNumber = pick("origination_caller_id_number")
	li.OriginationCallerIDName = pick("origination_caller_id_name")
	li.EffectiveCallerIDNumber = pick("effective_caller_id_number")
	li.EffectiveCallerIDName = pick("effective_caller_id_name")
	cidName, cidNum := "", "0000000000"
	if a != nil {
		cidName, cidNum = a.cidName, a.cidNum
	}
	if li.OriginationCallerIDName != "" {
		cidName = li.OriginationCallerIDName
	}
	if li.OriginationCallerIDNumber != "" {
		cidNum = li.OriginationCallerIDNumber
	}
	li.CallerIDName, li.CallerIDNumber = cidName, cidNum
	if li.EffectiveCallerIDName != "" {
		li.CallerIDName = li.EffectiveCallerIDName
	}
	if li.EffectiveCallerIDNumber != "" {
		li.CallerIDNumber = li.EffectiveCallerIDNumber
	}
	user := endpoint
	if i := strings.LastIndexByte(user, '/'); i >= 0 {
		user = user[i+1:]
	}
	user, _, _ = strings.Cut(user, "@")
	b := &channel{
		uuid: id, name: endpoint, direction: "outbound", dialplan: "inline", dest: user,
		cidName: li.CallerIDName, cidNum: li.CallerIDNumber,
		state: "CS_INIT", callState: "DOWN", answerState: "ringing", created: time.Now(),
		legIdx: len(s.legs),
	}
	if a != nil {
		li.ALeg = a.uuid
		b.other, b.otherType = a.uuid, "originator"
	}
	s.legs = append(s.legs, li)
	for _, v := range vars {
		b.setVar(v.Name, v.Value)
	}
	b.setVar("direction", "outbound")
	b.setVar("uuid", id)
	if a != nil {
		b.setVar("call_uuid", a.uuid)
	}
	s.channels[id] = b
	s.emit(s.chanEvent("CHANNEL_CREATE", b))
	return b
}

func (s *Server) behavior(endpoint string) Behavior {
	if b, ok := s.dests[endpoint]; ok {
		return b
	}
	return s.opts.Default
}

func outcomeCause(b Behavior) string {
	switch b.Outcome {
	case Busy:
		return "USER_BUSY"
	case NoAnswer:
		return "NO_ANSWER"
	case Fail:
		if b.Cause != "" {
			return b.Cause
		}
		return "NORMAL_TEMPORARY_FAILURE"
	}
	return ""
}

func dialStatus(cause string) string {
	switch cause {
	case "USER_BUSY":
		return "BUSY"
	case "NO_ANSWER":
		return "NOANSWER"
	case "":
		return "SUCCESS"
	}
	return "FAIL"
}

// originate runs the originate API; done receives the result text.
func (s *Server) originate(args, _ string, done func(string)) {
	argv := SeparateString(args, ' ', 0)
	if len(argv) < 2 {
		done("-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n")
		return
	}
	vars, endpoint, ok := dialTarget(argv[0])
	if !ok {
		done("-ERR DESTINATION_OUT_OF_ORDER\n")
		return
	}
	if !hasKnownTech(endpoint) {
		done("-ERR CHAN_NOT_IMPLEMENTED\n")
		return
	}
	app := argv[1]
	b := s.newLeg(argv[0], vars, endpoint, nil)
	b.pendingDone = done
	if s.noInvite(b) {
		return
	}
	beh := s.behavior(endpoint)
	s.after(beh.After, func() {
		if b.hungup {
			return // complete() reported it
		}
		b.pendingDone = nil
		if cause := outcomeCause(beh); cause != "" {
			s.markHangup(b, cause)
			s.emit(s.chanEvent("CHANNEL_HANGUP", b))
			s.complete(b)
			done("-ERR " + cause + "\n")
			return
		}
		b.hangupAfter = beh.HangupAfter
		s.answer(b)
		s.legs[b.legIdx].Outcome = "SUCCESS"
		done("+OK " + b.uuid + "\n")
		if strings.HasPrefix(app, "&park") {
			b.state = "CS_EXECUTE"
			b.setVar("current_application", "park")
			s.emit(s.chanEvent("CHANNEL_PARK", b))
		}
	})
}

// noInvite reports (and models) a leg sofia cannot send: a caller-ID
// name with a real CR or LF made FreeSWITCH send no INVITE at all; the leg
// sits in CS_CONSUME_MEDIA until it is killed (fixture
// caller_name_escaping, t11).
func (s *Server) noInvite(b *channel) bool {
	if !strings.ContainsAny(b.cidName, "\r\n") {
		return false
	}
	b.state = "CS_CONSUME_MEDIA"
	return true
}

func hasKnownTech(endpoint string) bool {
	for _, t := range knownTech {
		if strings.HasPrefix(endpoint, t) {
			return true
		}
	}
	return false
}

// bridge runs the bridge application on a. inline: a uuid_transfer
// inline dialplan, after which a failed bridge hangs the A-leg up.
func (s *Server) bridge(a *channel, dial string, inline bool, appUUID string) {
	a.setVar("current_application", "bridge")
	a.setVar("current_application_data", dial)
	vars, endpoint, ok := dialTarget(dial)
	if !ok || !hasKnownTech(endpoint) {
		s.bridgeFailed(a, "DESTINATION_OUT_OF_ORDER", inline, dial, appUUID)
		return
	}
	b := s.newLeg(dial, vars, endpoint, a)
	a.ringing = b.uuid
	if s.noInvite(b) {
		return
	}
	beh := s.behavior(endpoint)
	s.after(beh.After, func() {
		if a.hungup {
			return
		}
		a.ringing = ""
		if b.hungup { // the leg was killed while ringing
			s.bridgeFailed(a, b.cause, inline, dial, appUUID)
			return
		}
		if cause := outcomeCause(beh); cause != "" {
			s.markHangup(b, cause)
			s.emit(s.chanEvent("CHANNEL_HANGUP", b))
			s.complete(b)
			s.bridgeFailed(a, cause, inline, dial, appUUID)
			return
		}
		b.hangupAfter = beh.HangupAfter
		s.answer(b)
		s.legs[b.legIdx].Outcome = "SUCCESS"
		s.answer(a)
		a.setVar("originate_disposition", "SUCCESS")
		a.setVar("DIALSTATUS", "SUCCESS")
		a.setVar("bridge_uuid", b.uuid)
		a.other, a.otherType = b.uuid, "originatee"
		b.bside = true
		a.bridged, b.bridged = true, true
		b.state = "CS_EXCHANGE_MEDIA"
		s.emit(s.chanEvent("CHANNEL_BRIDGE", a, hdr{"Bridge-A-Unique-ID", a.uuid}, hdr{"Bridge-B-Unique-ID", b.uuid}))
	})
}

func (s *Server) bridgeFailed(a *channel, cause string, inline bool, dial, appUUID string) {
	a.setVar("originate_disposition", cause)
	a.setVar("DIALSTATUS", dialStatus(cause))
	a.setVar("last_bridge_hangup_cause", cause)
	a.other, a.otherType = "", ""
	if inline {
		// The inline dialplan ends: FreeSWITCH hangs the A-leg up. A busy
		// callee's cause is passed on; no answer reads NORMAL_CLEARING
		// (fixtures c1_busy, c2_noanswer).
		ac := cause
		if cause == "NO_ANSWER" {
			ac = "NORMAL_CLEARING"
		}
		s.hangup(a, ac)
		return
	}
	s.executeComplete(a, "bridge", dial, appUUID, "_none_")
}

func (s *Server) executeComplete(ch *channel, app, arg, appUUID, resp string) {
	h := []hdr{{"Application", app}, {"Application-Data", arg}, {"Application-Response", resp}}
	if appUUID != "" {
		h = append(h, hdr{"Application-UUID", appUUID})
	}
	s.emit(s.chanEvent("CHANNEL_EXECUTE_COMPLETE", ch, h...))
}

const noChannel = "-ERR No such channel!\n"

// api runs one API command and returns its response body.
func (s *Server) api(cmd, args string) string {
	switch cmd {
	case "status":
		return "UP 0 years, 0 days, 0 hours, 1 minute, 0 seconds, 0 milliseconds, 0 microseconds\n" +
			"FreeSWITCH (Version 1.10.12-release  64bit) is ready\n" +
			strconv.Itoa(len(s.legs)+len(s.calls)) + " session(s) since startup\n" +
			strconv.Itoa(len(s.channels)) + " session(s) - peak 0, last 5min 0 \n" +
			"0 session(s) per Sec out of max 500, peak 0, last 5min 0 \n2000 session(s) max\nmin idle cpu 0.00/100.00\nCurrent Stack Size/Max 240K/240K\n"
	case "version":
		return "FreeSWITCH Version 1.10.12-release~64bit ( 64bit)\n"
	case "eval":
		return args
	case "hupall":
		f := strings.Fields(args)
		cause := "NORMAL_CLEARING"
		if len(f) > 0 {
			cause = f[0]
		}
		for _, ch := range s.sortedChannels() {
			if len(f) >= 3 {
				if v, _ := ch.getVar(f[1]); v != f[2] {
					continue
				}
			}
			if !ch.hungup {
				s.hangup(ch, cause)
			}
		}
		if len(f) >= 3 {
			return "+OK hangup all channels matching [" + f[1] + "]=[" + f[2] + "] with cause: " + cause + "\n"
		}
		return "+OK hangup all channels with cause " + cause + "\n"
	case "show":
		return s.show(args)
	case "conference":
		return s.conferenceAPI(args)
	case "file_exists":
		return strconv.FormatBool(s.fileExists(strings.TrimSpace(args)))
	case "sched_del":
		s.schedDel[strings.TrimSpace(args)]++
		return "+OK Deleted: 1\n"
	case "originate":
		return "-ERR originate is handled by the connection\n"
	}
	argv := SeparateString(args, ' ', maxArgs(cmd))
	var ch *channel
	if strings.HasPrefix(cmd, "uuid_") {
		if cmd == "uuid_exists" {
			if len(argv) > 0 && s.channels[argv[0]] != nil {
				return "true"
			}
			return "false"
		}
		if len(argv) == 0 {
			return "-USAGE: " + cmd + " <uuid> ...\n"
		}
		if ch = s.channels[argv[0]]; ch == nil || ch.hungup {
			return noChannel
		}
	}
	switch cmd {
	case "uuid_answer":
		s.answer(ch)
		return "+OK\n"
	case "uuid_kill":
		cause := "NORMAL_CLEARING"
		if len(argv) > 1 && argv[1] != "" {
			cause = argv[1]
		}
		s.hangup(ch, cause)
		return "+OK\n"
	case "uuid_setvar":
		if len(argv) < 2 {
			return "-USAGE: <uuid> <var> [value]\n"
		}
		if len(argv) < 3 || argv[2] == "" {
			ch.unsetVar(argv[1])
		} else {
			ch.setVar(argv[1], argv[2])
		}
		return "+OK\n"
	case "uuid_setvar_multi":
		if len(argv) < 2 {
			return "-USAGE: <uuid> <var>=<value>;<var>=<value>...\n"
		}
		for _, item := range SeparateString(argv[1], ';', 0) {
			kv := SeparateString(item, '=', 2)
			if len(kv) == 2 {
				ch.setVar(kv[0], kv[1])
			} else if len(kv) == 1 {
				ch.unsetVar(kv[0])
			}
		}
		return "+OK\n"
	case "uuid_getvar":
		if len(argv) < 2 {
			return "-USAGE: <uuid> <var>\n"
		}
		if v, ok := ch.getVar(argv[1]); ok {
			return v
		}
		return "_undef_"
	case "uuid_bridge":
		if len(argv) < 2 {
			return "-USAGE: <uuid> <other_uuid>\n"
		}
		b := s.channels[argv[1]]
		if b == nil || b.hungup || b == ch {
			return "-ERR Invalid uuid " + argv[1] + "\n"
		}
		s.answer(ch)
		ch.other, ch.otherType = b.uuid, "originatee"
		b.other, b.otherType, b.bside = ch.uuid, "originator", true
		ch.bridged, b.bridged = true, true
		b.state = "CS_EXCHANGE_MEDIA"
		ch.callState, b.callState = "ACTIVE", "ACTIVE"
		ch.setVar("bridge_uuid", b.uuid)
		s.emit(s.chanEvent("CHANNEL_BRIDGE", ch, hdr{"Bridge-A-Unique-ID", ch.uuid}, hdr{"Bridge-B-Unique-ID", b.uuid}))
		return "+OK " + b.uuid + "\n"
	case "uuid_transfer":
		rest := argv[1:]
		if len(rest) > 0 && strings.HasPrefix(rest[0], "-") {
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return "-USAGE: <uuid> [-bleg|-both] <dest-exten> [<dialplan>] [<context>]\n"
		}
		dest := rest[0]
		if len(rest) > 1 && rest[1] == "inline" {
			app, arg, _ := strings.Cut(dest, ":")
			ch.dest, ch.dialplan = dest, "inline"
			switch app {
			case "bridge":
				s.bridge(ch, arg, true, "")
			case "park":
				s.emit(s.chanEvent("CHANNEL_PARK", ch))
			case "hangup":
				s.hangup(ch, "NORMAL_CLEARING")
			case "conference":
				s.joinConference(ch, arg, "", true)
			}
			return "+OK\n"
		}
		ch.dest = dest
		ch.setVar("vnum_transferred_to", dest)
		return "+OK\n"
	case "uuid_record":
		if len(argv) < 3 {
			return "-USAGE: <uuid> [start|stop|mask|unmask] <path> [<limit>]\n"
		}
		switch argv[1] {
		case "start":
			ch.recording = append(ch.recording, argv[2])
			s.storeRecording(argv[2])
			s.emit(s.chanEvent("RECORD_START", ch, hdr{"Record-File-Path", argv[2]}))
		case "stop":
			for i, p := range ch.recording {
				if p == argv[2] || argv[2] == "all" {
					ch.recording = append(ch.recording[:i], ch.recording[i+1:]...)
					s.emit(s.chanEvent("RECORD_STOP", ch, hdr{"Record-File-Path", p}, hdr{"Record-Completion-Cause", "success-silence"}))
					break
				}
			}
		}
		return "+OK Success\n"
	case "uuid_broadcast":
		if len(argv) < 2 {
			return "-USAGE: <uuid> <path> [aleg|bleg|both]\n"
		}
		s.play(ch, argv[1], "", "")
		return "+OK Message sent\n"
	case "uuid_break":
		s.breakPlayback(ch)
		return "+OK\n"
	}
	return "-ERR " + cmd + " Command not found!\n"
}

// maxArgs is how many space-separated arguments an API takes (the last
// one takes the rest of the line), as in mod_commands.
func maxArgs(cmd string) int {
	switch cmd {
	case "uuid_setvar", "uuid_broadcast":
		return 3
	case "uuid_setvar_multi", "uuid_getvar", "uuid_kill":
		return 2
	}
	return 0
}

func (s *Server) play(ch *channel, file, appUUID, app string) {
	ch.played = append(ch.played, file)
	if ch.legIdx >= 0 {
		s.legs[ch.legIdx].Played = append(s.legs[ch.legIdx].Played, file)
	}
	s.emit(s.chanEvent("PLAYBACK_START", ch, hdr{"Playback-File-Path", file}))
	if ch.plays == nil {
		ch.plays = map[int]string{}
	}
	ch.playSeq++
	id := ch.playSeq
	ch.plays[id] = file
	s.after(s.opts.PlaybackDuration, func() {
		if _, running := ch.plays[id]; ch.hungup || !running {
			return // hung up, or stopped by uuid_break
		}
		delete(ch.plays, id)
		s.emit(s.chanEvent("PLAYBACK_STOP", ch, hdr{"Playback-File-Path", file}, hdr{"Playback-Status", "done"}))
		if app != "" {
			s.executeComplete(ch, app, file, appUUID, "FILE PLAYED")
		}
	})
}

// breakPlayback stops what plays on ch now (uuid_break): PLAYBACK_STOP
// with Playback-Status "break", as a key that stops play_and_get_digits
// gives (fixture ivr_play_and_get_digits).
func (s *Server) breakPlayback(ch *channel) {
	ids := make([]int, 0, len(ch.plays))
	for id := range ch.plays {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	for _, id := range ids {
		file := ch.plays[id]
		delete(ch.plays, id)
		s.emit(s.chanEvent("PLAYBACK_STOP", ch, hdr{"Playback-File-Path", file}, hdr{"Playback-Status", "break"}))
	}
}

func (s *Server) sortedChannels() []*channel {
	out := make([]*channel, 0, len(s.channels))
	for _, ch := range s.channels {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out
}

func (s *Server) show(args string) string {
	f := strings.Fields(args)
	if len(f) == 0 || (f[0] != "channels" && f[0] != "calls") {
		return "-USAGE: show channels|calls [as json]\n"
	}
	cols := []string{"uuid", "direction", "created", "created_epoch", "name", "state", "cid_name", "cid_num",
		"ip_addr", "dest", "application", "application_data", "dialplan", "context", "callstate", "call_uuid", "hostname"}
	var rows [][]string
	for _, ch := range s.sortedChannels() {
		app, _ := ch.getVar("current_application")
		data, _ := ch.getVar("current_application_data")
		callUUID, _ := ch.getVar("call_uuid")
		rows = append(rows, []string{ch.uuid, ch.direction, ch.created.Format("2006-01-02 15:04:05"),
			strconv.FormatInt(ch.created.Unix(), 10), ch.name, ch.state, ch.cidName, ch.cidNum,
			"127.0.0.1", ch.dest, app, data, ch.dialplan, "carrier", ch.callState, callUUID, "vm"})
	}
	if len(f) >= 3 && f[1] == "as" && f[2] == "json" {
		// FreeSWITCH's column order, as in the captures.
		if len(rows) == 0 {
			return `{"row_count":0}`
		}
		var b strings.Builder
		b.WriteString(`{"row_count":` + strconv.Itoa(len(rows)) + `,"rows":[`)
		for i, r := range rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('{')
			for j, v := range r {
				if j > 0 {
					b.WriteByte(',')
				}
				k, _ := json.Marshal(cols[j])
				val, _ := json.Marshal(v)
				b.Write(k)
				b.WriteByte(':')
				b.Write(val)
			}
			b.WriteByte('}')
		}
		b.WriteString("]}")
		return b.String()
	}
	var sb strings.Builder
	sb.WriteString(strings.Join(cols, ",") + "\n")
	for _, r := range rows {
		sb.WriteString(strings.Join(r, ",") + "\n")
	}
	fmt.Fprintf(&sb, "\n%d total.\n", len(rows))
	return sb.String()
}

// sendmsg executes a sendmsg block and returns the Reply-Text.
func (s *Server) sendmsg(uuid string, p *packet) string {
	ch := s.channels[uuid]
	if ch == nil || ch.hungup {
		return "-ERR invalid session id [" + uuid + "]"
	}
	cmd := strings.ToLower(p.get("call-command"))
	switch cmd {
	case "hangup":
		cause := p.get("hangup-cause")
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		s.hangup(ch, cause)
		return "+OK"
	case "execute":
	default:
		return "-ERR invalid command"
	}
	app := p.get("execute-app-name")
	arg := p.get("execute-app-arg")
	if arg == "" && strings.EqualFold(p.get("content-type"), "text/plain") {
		arg = p.body
	}
	appUUID := p.get("Event-UUID")
	s.emit(s.chanEvent("CHANNEL_EXECUTE", ch, hdr{"Application", app}, hdr{"Application-Data", arg}, hdr{"Application-UUID", appUUID}))
	switch app {
	case "answer":
		s.answer(ch)
		s.executeComplete(ch, app, arg, appUUID, "_none_")
	case "hangup":
		cause := arg
		if cause == "" {
			cause = "NORMAL_CLEARING"
		}
		s.hangup(ch, cause)
	case "set", "export":
		if k, v, ok := strings.Cut(arg, "="); ok {
			ch.setVar(k, v)
		}
		s.executeComplete(ch, app, arg, appUUID, "_none_")
	case "park":
		s.emit(s.chanEvent("CHANNEL_PARK", ch))
	case "bridge":
		s.bridge(ch, arg, false, appUUID)
	case "playback":
		s.play(ch, arg, appUUID, app)
	case "conference":
		s.joinConference(ch, arg, appUUID, false)
	case "record_session":
		ch.recording = append(ch.recording, arg)
		s.storeRecording(arg)
		s.emit(s.chanEvent("RECORD_START", ch, hdr{"Record-File-Path", arg}))
		s.executeComplete(ch, app, arg, appUUID, "_none_")
	default:
		s.executeComplete(ch, app, arg, appUUID, "_none_")
	}
	return "+OK"
}
