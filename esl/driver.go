// Package esl is vnumd's FreeSWITCH driver: it implements callflow.Driver
// over the Event Socket in inbound mode (vnumd connects to FreeSWITCH's
// mod_event_socket) with esl/eslconn, the ESL client that keeps replies,
// events and background jobs apart.
//
// How a call reaches vnumd: the dialplan (dialplan/freeswitch) sets
// vnum_did and vnum_mode=inbound_esl, schedules a fallback transfer
// (sched_transfer) and parks the call. The CHANNEL_PARK of such a channel,
// not seen before, is a new call (EvInbound); the driver cancels the
// fallback at once (sched_del <uuid>) and the engine takes it from there.
//
// Why bgapi for every slow command: FreeSWITCH runs the api commands of
// one ESL connection one after the other, so one slow api (an originate
// that rings, a uuid_record or uuid_answer that waits for media) holds up
// every call on the shared connection; on a real FreeSWITCH a synchronous
// uuid_record pushed call setup from ~20 ms to ~500 ms. bgapi runs each
// command in its own FreeSWITCH thread and reports through BACKGROUND_JOB.
// Only commands that return at once (uuid_kill, sched_del, uuid_getvar,
// hupall) and the sendmsg of ring_ready are synchronous.
//
// Leg ids: originated legs get origination_uuid=<the engine's leg id>, so
// on FreeSWITCH the channel's UUID is the engine's id. They also carry
// vnum_leg=<id> and vnum_call=<call id>: events are mapped to the engine's
// id through vnum_leg (and a uuid map learned from events), so the driver
// also works where the UUID differs (the emulator does not honour
// origination_uuid), and a restarted vnumd recognises its legs in
// `show channels` through uuid_getvar.
package esl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

// DefaultAddr is FreeSWITCH's event socket on loopback.
const DefaultAddr = "127.0.0.1:8021"

// DefaultRecordDir is where recordings are written on the FreeSWITCH host.
const DefaultRecordDir = "/var/lib/freeswitch/recordings/vnum"

// Options configure the driver.
type Options struct {
	Addr     string // host:port of mod_event_socket (default DefaultAddr)
	Password string // never logged, never in an error; "ClueCon" is refused
	// Trunk is the dial string template for E.164 targets; {e164} is
	// replaced by the number with its '+', {digits} without it, e.g.
	// "sofia/gateway/carrier/{digits}".
	Trunk string
	// SIPTemplate is the dial string template for sip: URI targets; {uri}
	// is replaced by the URI (default "sofia/external/{uri}").
	SIPTemplate string
	// RecordDir is the directory on the FreeSWITCH host for recordings
	// (default DefaultRecordDir). Recording names are full paths in it.
	// There is no ESL API to list or delete files: DeleteRecording removes
	// them locally, so vnumd must run on the FreeSWITCH host (or share this
	// directory at the same path).
	RecordDir string
	// ConferenceProfile is the mod_conference profile of Join's rooms
	// (default "default", the stock conference.conf.xml's).
	ConferenceProfile string
	// Sounds overrides the file played for a prompt (defaults: sounds of a
	// stock FreeSWITCH install, see DefaultSounds).
	Sounds map[callflow.Prompt]string
	Logger *slog.Logger
	// MaxBackoff caps the reconnect delay (default 5 s).
	MaxBackoff time.Duration
	// CommandTimeout bounds the wait for each ESL reply (default 5 s).
	CommandTimeout time.Duration
	// MessageProfile is the sofia profile text messages are sent through
	// (default "external"); see sms.go.
	MessageProfile string
	// MessageTrunk is the SIP URI template of E.164 message targets, e.g.
	// "sip:{e164}@sms.carrier.example" ({e164} or {digits}): a gateway
	// dial string cannot address a message. Unset: messages to E.164
	// targets fail.
	MessageTrunk string
	// MessageDomain is the host of the From of sent messages (default:
	// MessageTrunk's host, else "localhost").
	MessageDomain string
}

// DefaultSounds are the prompts of a stock FreeSWITCH (sounds en-us-callie).
var DefaultSounds = map[callflow.Prompt]string{
	callflow.PromptNotInService: "ivr/ivr-call_cannot_be_completed_as_dialed.wav",
	callflow.PromptVoicemail:    "voicemail/vm-record_message.wav",
	callflow.PromptBeep:         "tone_stream://%(250,0,1000)",
	// "Press 1 to accept this call, 2 to reject, 3 for voicemail": the
	// stock group_confirm_file of FreeSWITCH configurations (any key
	// accepts in vnum).
	callflow.PromptConfirm: "ivr/ivr-accept_reject_voicemail.wav",
	// "This call may be recorded".
	callflow.PromptConsent: "ivr/ivr-this_call_may_be_recorded.wav",
	// Conference rooms: mod_conference's own sounds (a full room hears
	// the locked one: there is no "conference full" sound), and its
	// default enter and exit tones.
	callflow.PromptEnterPIN:   "conference/conf-pin.wav",
	callflow.PromptBadPIN:     "conference/conf-bad-pin.wav",
	callflow.PromptRoomFull:   "conference/conf-locked.wav",
	callflow.PromptRoomLocked: "conference/conf-locked.wav",
	callflow.PromptJoinTone:   "tone_stream://%(200,0,500,600,700)",
	callflow.PromptLeaveTone:  "tone_stream://%(500,0,300,200,100,50,25)",
}

// ErrConfig: the options cannot work.
var ErrConfig = errors.New("esl: bad configuration")

// ErrBadName: a room or recording name vnum refuses to send to
// FreeSWITCH or to the file system.
var ErrBadName = errors.New("esl: bad name")

// ErrNotConnected: the ESL connection is down (vnumd is reconnecting).
var ErrNotConnected = errors.New("esl: not connected to FreeSWITCH")

// Driver is one inbound ESL connection to one FreeSWITCH.
type Driver struct {
	o   Options
	log *slog.Logger

	mu         sync.Mutex
	conn       *eslconn.Conn // nil while disconnected
	sink       callflow.Sink
	runCtx     context.Context
	out        map[callflow.LegID]*outLeg // originated legs not seen ending
	byUUID     map[string]callflow.LegID  // FreeSWITCH UUID -> engine leg id, for those
	inbound    map[string]*inLeg          // inbound UUIDs taken as calls, until COMPLETE
	barge      map[string]bool            // UUIDs playing a prompt a key stops
	originates int                        // counts Originate calls, for sweep
	wg         sync.WaitGroup             // background jobs and take-overs

	connected atomic.Bool
	connects  atomic.Int64
	badEvents atomic.Int64
	msgs      messageDedup // copies of one inbound text message (sms.go)
}

// outLeg is an originated leg the driver tracks. It is forgotten once it
// ended, its CHANNEL_HANGUP_COMPLETE came and its originate job returned,
// so that none of the three reports its end twice.
type outLeg struct {
	uuid     string // FreeSWITCH's UUID once known ("" until then)
	answered bool
	ended    bool // EvHangup sent
	complete bool // CHANNEL_HANGUP_COMPLETE seen
	jobDone  bool // the originate job returned (or there is none)
	created  time.Time
}

// inLeg is an inbound leg taken as a call.
type inLeg struct {
	seen   time.Time // when its CHANNEL_PARK was read
	hungup bool      // EvHangup sent
}

// forgettable reports whether nothing more will be heard of the leg.
func (o *outLeg) forgettable() bool { return o.ended && o.complete && o.jobDone }

// New checks the options and builds the driver; it does not connect.
func New(o Options) (*Driver, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Addr == "" {
		o.Addr = DefaultAddr
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: ESL address %q: want host:port", ErrConfig, o.Addr)
	}
	switch {
	case o.Password == "":
		return nil, fmt.Errorf("%w: an ESL password is required", ErrConfig)
	case o.Password == "ClueCon":
		return nil, fmt.Errorf("%w: the ESL password is FreeSWITCH's well-known default: set a secret one in event_socket.conf.xml and give it to vnumd", ErrConfig)
	case eslconn.CheckArg(o.Password) != nil || strings.ContainsRune(o.Password, ' '):
		return nil, fmt.Errorf("%w: the ESL password holds spaces or control characters", ErrConfig)
	}
	if o.Trunk == "" || !strings.Contains(o.Trunk, "{e164}") && !strings.Contains(o.Trunk, "{digits}") {
		return nil, fmt.Errorf("%w: trunk template %q needs {e164} or {digits}", ErrConfig, o.Trunk)
	}
	if err := checkTemplate(o.Trunk); err != nil {
		return nil, fmt.Errorf("%w: trunk template: %w", ErrConfig, err)
	}
	if o.SIPTemplate == "" {
		o.SIPTemplate = "sofia/external/{uri}"
	}
	if !strings.Contains(o.SIPTemplate, "{uri}") {
		return nil, fmt.Errorf("%w: SIP template %q needs {uri}", ErrConfig, o.SIPTemplate)
	}
	if err := checkTemplate(o.SIPTemplate); err != nil {
		return nil, fmt.Errorf("%w: SIP template: %w", ErrConfig, err)
	}
	if o.RecordDir == "" {
		o.RecordDir = DefaultRecordDir
	}
	if !path.IsAbs(o.RecordDir) || !safeDial(o.RecordDir) {
		return nil, fmt.Errorf("%w: record dir %q: want an absolute path without spaces or special characters", ErrConfig, o.RecordDir)
	}
	o.RecordDir = path.Clean(o.RecordDir)
	if o.ConferenceProfile == "" {
		o.ConferenceProfile = "default"
	}
	if !validID(o.ConferenceProfile) {
		return nil, fmt.Errorf("%w: conference profile %q: want letters, digits, '.', '_' or '-'", ErrConfig, o.ConferenceProfile)
	}
	sounds := make(map[callflow.Prompt]string, len(DefaultSounds))
	for p, f := range DefaultSounds {
		sounds[p] = f
	}
	for p, f := range o.Sounds {
		if f == "" || strings.ContainsAny(f, " \t\r\n") || eslconn.CheckArg(f) != nil {
			return nil, fmt.Errorf("%w: sound for %q: %q", ErrConfig, p, f)
		}
		sounds[p] = f
	}
	o.Sounds = sounds
	if err := checkMessaging(&o); err != nil {
		return nil, err
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 5 * time.Second
	}
	d := &Driver{o: o, log: o.Logger.With("pbx", "freeswitch"),
		out: map[callflow.LegID]*outLeg{}, byUUID: map[string]callflow.LegID{}, inbound: map[string]*inLeg{},
		barge: map[string]bool{}}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		d.log.Warn("the ESL address is not on loopback: the event socket controls every call, keep it behind a firewall", "addr", o.Addr)
	}
	return d, nil
}

// checkTemplate rejects template text that would split or extend a dial
// string (it comes from configuration, but reaches FreeSWITCH as is).
func checkTemplate(t string) error {
	r := strings.NewReplacer("{e164}", "", "{digits}", "", "{uri}", "")
	if !safeDial(r.Replace(t)) {
		return fmt.Errorf("%q holds a character a dial string treats specially", t)
	}
	return nil
}

// safeDial reports whether s can go into a dial string or a command
// argument as is: no space, no control character, none of the characters
// FreeSWITCH treats as separators, variable blocks, quotes or expansions.
func safeDial(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || strings.IndexByte(",|{}[]<>'\"\\$`^", c) >= 0 {
			return false
		}
	}
	return true
}

// validID reports whether a leg or call id is safe as a command argument.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Name implements callflow.PBX.
func (d *Driver) Name() string { return "freeswitch" }

// Connected reports whether the ESL connection is up.
func (d *Driver) Connected() bool { return d.connected.Load() }

// Connects counts successful (re)connections.
func (d *Driver) Connects() int64 { return d.connects.Load() }

// current returns the live connection.
func (d *Driver) current() (*eslconn.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn == nil {
		return nil, ErrNotConnected
	}
	return d.conn, nil
}

func (d *Driver) api(ctx context.Context, cmd string, args ...string) (string, error) {
	c, err := d.current()
	if err != nil {
		return "", fmt.Errorf("esl: %s: %w", cmd, err)
	}
	return c.API(ctx, cmd, args...)
}

func (d *Driver) bgapi(ctx context.Context, cmd string, args ...string) (string, error) {
	c, err := d.current()
	if err != nil {
		return "", fmt.Errorf("esl: %s: %w", cmd, err)
	}
	return c.BgAPI(ctx, cmd, args...)
}

// noSuchChannel reports FreeSWITCH's answer for a UUID that is gone.
func noSuchChannel(err error) bool {
	var ce *eslconn.CommandError
	if !errors.As(err, &ce) {
		return false
	}
	r := strings.ToLower(ce.Reply)
	return strings.Contains(r, "no such channel") || strings.Contains(r, "invalid uuid") ||
		strings.Contains(r, "invalid session id")
}

// uuidOf is the FreeSWITCH UUID of a leg.
func (d *Driver) uuidOf(leg callflow.LegID) (string, error) {
	if !validID(string(leg)) {
		return "", fmt.Errorf("esl: leg id %q: %w", clip(string(leg)), eslconn.ErrUnsafeArg)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if o := d.out[leg]; o != nil && o.uuid != "" {
		return o.uuid, nil
	}
	return string(leg), nil
}

// Ring implements callflow.PBX: the ring_ready application sends the
// caller 180 Ringing without answering (sendmsg on the parked channel: it
// runs the application and stays parked).
func (d *Driver) Ring(ctx context.Context, leg callflow.LegID) error {
	uuid, err := d.uuidOf(leg)
	if err != nil {
		return err
	}
	c, err := d.current()
	if err != nil {
		return fmt.Errorf("esl: ring %s: %w", leg, err)
	}
	if err := c.SendMsg(ctx, uuid, eslconn.SendMsg{App: "ring_ready"}); err != nil {
		return fmt.Errorf("esl: ring %s: %w", leg, err)
	}
	return nil
}

// Answer implements callflow.PBX.
func (d *Driver) Answer(ctx context.Context, leg callflow.LegID) error {
	uuid, err := d.uuidOf(leg)
	if err != nil {
		return err
	}
	if _, err := d.bgapi(ctx, "uuid_answer", uuid); err != nil {
		return fmt.Errorf("esl: answer %s: %w", leg, err)
	}
	return nil
}

// Endpoint returns the dial string for a target. Targets were validated
// by routing.ParseTarget; it checks again, since this string reaches
// FreeSWITCH inside an originate command.
func (d *Driver) Endpoint(t routing.Target) (string, error) {
	if t.IsSIP() {
		if _, err := routing.ParseTarget(t.SIPURI, ""); err != nil {
			return "", fmt.Errorf("esl: target: %w", err)
		}
		if !safeDial(t.SIPURI) {
			return "", fmt.Errorf("esl: target %q: %w", clip(t.SIPURI), routing.ErrBadTarget)
		}
		return strings.ReplaceAll(d.o.SIPTemplate, "{uri}", t.SIPURI), nil
	}
	e, err := routing.ParseE164(t.E164, "")
	if err != nil || e != t.E164 {
		return "", fmt.Errorf("esl: target %q is not E.164: %w", clip(t.E164), routing.ErrBadTarget)
	}
	r := strings.NewReplacer("{e164}", e, "{digits}", strings.TrimPrefix(e, "+"))
	return r.Replace(d.o.Trunk), nil
}

// digitsOnly keeps a leading '+' and digits.
func digitsOnly(s string) string {
	var b strings.Builder
	for i, r := range s {
		if (r >= '0' && r <= '9') || (r == '+' && i == 0) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// callerVars are the variables that set what the far end sees. Both the
// number and the name are always set: with the number alone a real
// FreeSWITCH still passed the caller's display name on. Only the
// decision's values are used; anonymous also hides the identity headers.
func callerVars(c routing.CallerID) map[string]string {
	num := digitsOnly(c.Number)
	if c.Anonymous || num == "" || num == "+" {
		return map[string]string{
			"origination_caller_id_number": "anonymous",
			"origination_caller_id_name":   "Anonymous",
			"origination_privacy":          "hide_name:hide_number",
		}
	}
	name := c.Name
	if _, err := eslconn.QuoteVar(eslconn.Sanitize(name)); err != nil {
		// Empty once cleaned: FreeSWITCH would drop "name=" and the leg
		// could inherit another name; show the number instead.
		name = num
	}
	if r := []rune(name); len(r) > 64 {
		name = string(r[:64])
	}
	return map[string]string{"origination_caller_id_number": num, "origination_caller_id_name": name}
}

// Originate implements callflow.PBX with `bgapi originate {...}<dial>
// &park()`. It returns once the command is on its way; FreeSWITCH's
// answer comes later (the job result, the leg's events): answered →
// EvAnswered, failed → EvHangup with the cause. A failure to send after
// Originate returned is reported as EvHangup(CauseFailed).
func (d *Driver) Originate(ctx context.Context, o callflow.Originate) error {
	if !validID(string(o.Leg)) || !validID(o.CallID) {
		return fmt.Errorf("esl: originate: leg %q / call %q: %w", clip(string(o.Leg)), clip(o.CallID), eslconn.ErrUnsafeArg)
	}
	dial, err := d.Endpoint(o.Target)
	if err != nil {
		return err
	}
	timeout := int(o.Timeout / time.Second)
	if timeout <= 0 {
		timeout = int(routing.DefaultRingTimeout / time.Second)
	}
	vars := callerVars(o.CallerID)
	vars["origination_uuid"] = string(o.Leg)
	vars["vnum_leg"] = string(o.Leg)
	vars["vnum_call"] = o.CallID
	vars["originate_timeout"] = strconv.Itoa(timeout)
	// No Remote-Party-ID / P-Asserted-Identity built from anything.
	vars["sip_cid_type"] = "none"
	// Early media (183 with ringback or a network announcement) is not an
	// answer: FreeSWITCH's originate would otherwise succeed on it, and
	// the caller would be answered and billed for a phone still ringing.
	vars["ignore_early_media"] = "true"
	block, err := eslconn.OriginateVars(vars)
	if err != nil {
		return fmt.Errorf("esl: originate %s: %w", o.Leg, err)
	}
	d.mu.Lock()
	if d.conn == nil {
		d.mu.Unlock()
		return fmt.Errorf("esl: originate %s: %w", o.Leg, ErrNotConnected)
	}
	conn, runCtx, sink := d.conn, d.runCtx, d.sink
	now := time.Now()
	d.out[o.Leg] = &outLeg{created: now}
	if d.originates++; d.originates%sweepEvery == 0 {
		d.sweep(now)
	}
	d.wg.Add(1)
	d.mu.Unlock()
	// The job lasts as long as the leg rings (FreeSWITCH ends it at
	// originate_timeout); the margin covers a slow answer.
	jctx, cancel := context.WithTimeout(runCtx, time.Duration(timeout)*time.Second+30*time.Second)
	go func() {
		defer d.wg.Done()
		defer cancel()
		res, err := conn.BgAPI(jctx, "originate", block+dial, "&park()")
		d.originated(sink, o.Leg, res, err)
	}()
	return nil
}

// sweepEvery is how many originates pass between two sweeps of legs that
// ended without a CHANNEL_HANGUP_COMPLETE (an originate that failed before
// FreeSWITCH created a channel, a complete lost in a reconnect).
const sweepEvery = 256

// sweep forgets such legs once they are old. Caller holds d.mu.
func (d *Driver) sweep(now time.Time) {
	for leg, o := range d.out {
		if o.ended && o.jobDone && now.Sub(o.created) > 10*time.Minute {
			delete(d.out, leg)
			if o.uuid != "" {
				delete(d.byUUID, o.uuid)
			}
		}
	}
}

// originated handles the result of an originate job.
func (d *Driver) originated(sink callflow.Sink, leg callflow.LegID, res string, err error) {
	var ce *eslconn.CommandError
	switch {
	case err == nil:
		uuid := strings.TrimSpace(strings.TrimPrefix(res, "+OK"))
		ev, ok := d.legAnswered(leg, uuid)
		d.jobDone(leg)
		if ok {
			sink.Dispatch(ev)
		}
	case errors.As(err, &ce):
		cause := strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(ce.Reply, "-ERR"), "-USAGE"))
		if ev, ok := d.legEnded(leg, "", causeOf(cause), false, true); ok {
			d.log.Info("originate failed", "leg", leg, "cause", cause)
			sink.Dispatch(ev)
		}
	default:
		// The connection dropped or vnumd is stopping: the leg may still
		// ring. Its CHANNEL_PARK (answered) or CHANNEL_HANGUP_COMPLETE on
		// the next connection reports it, or reconciliation finds it gone.
		d.log.Warn("originate: no result", "leg", leg, "err", err)
		d.jobDone(leg)
	}
}

// legAnswered records that an originated leg answered; it returns the
// event once per leg.
func (d *Driver) legAnswered(leg callflow.LegID, uuid string) (callflow.Event, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	o := d.out[leg]
	if o == nil {
		return callflow.Event{}, false
	}
	if uuid != "" && o.uuid == "" && validID(uuid) {
		o.uuid = uuid
		d.byUUID[uuid] = leg
	}
	if o.answered || o.ended {
		return callflow.Event{}, false
	}
	o.answered = true
	return callflow.Event{Kind: callflow.EvAnswered, Leg: leg}, true
}

// legEnded records the end of a leg; it returns the EvHangup once per
// tracked leg (and every time for legs the driver does not track: a
// restarted vnumd adopts legs it never originated, and the engine ignores
// what it does not own). complete marks CHANNEL_HANGUP_COMPLETE, job the
// end of the originate job.
func (d *Driver) legEnded(leg callflow.LegID, uuid string, cause callflow.Cause, complete, job bool) (callflow.Event, bool) {
	ev := callflow.Event{Kind: callflow.EvHangup, Leg: leg, Cause: cause}
	d.mu.Lock()
	defer d.mu.Unlock()
	o := d.out[leg]
	if o == nil {
		return ev, !job
	}
	o.complete = o.complete || complete
	o.jobDone = o.jobDone || job
	first := !o.ended
	o.ended = true
	if o.forgettable() {
		delete(d.out, leg)
		if o.uuid != "" {
			delete(d.byUUID, o.uuid)
		}
		if uuid != "" {
			delete(d.byUUID, uuid)
		}
	}
	return ev, first
}

// jobDone records that an answered leg's originate job returned.
func (d *Driver) jobDone(leg callflow.LegID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if o := d.out[leg]; o != nil {
		o.jobDone = true
		if o.forgettable() {
			delete(d.out, leg)
			delete(d.byUUID, o.uuid)
		}
	}
}

// Bridge implements callflow.PBX with uuid_bridge: FreeSWITCH bridges two
// channels without a bridge object, so the id is "".
func (d *Driver) Bridge(ctx context.Context, callID string, a, b callflow.LegID) (string, error) {
	ua, err := d.uuidOf(a)
	if err != nil {
		return "", err
	}
	ub, err := d.uuidOf(b)
	if err != nil {
		return "", err
	}
	if _, err := d.bgapi(ctx, "uuid_bridge", ua, ub); err != nil {
		return "", fmt.Errorf("esl: bridge %s %s: %w", a, b, err)
	}
	return "", nil
}

// recordPath is where a recording of a call goes.
func (d *Driver) recordPath(prefix, callID string) (string, error) {
	if !validID(callID) {
		return "", fmt.Errorf("esl: record: call id %q: %w", clip(callID), eslconn.ErrUnsafeArg)
	}
	return strings.TrimSuffix(d.o.RecordDir, "/") + "/" + prefix + callID + ".wav", nil
}

// RecordCall implements callflow.PBX: uuid_record on the caller's leg
// records both directions of the bridged call with one media bug (no
// mixing bridge as on Asterisk), until the leg ends. The name returned is
// the file's path on the FreeSWITCH host.
func (d *Driver) RecordCall(ctx context.Context, callID, bridge string, leg callflow.LegID) (string, error) {
	p, err := d.recordPath("vnum-", callID)
	if err != nil {
		return "", err
	}
	if leg == "" {
		// The room itself (a conference): mod_conference records the mix
		// until the room ends, whoever leaves.
		if !validID(bridge) {
			return "", fmt.Errorf("esl: record room %q: %w", clip(bridge), ErrBadName)
		}
		if _, err := d.bgapi(ctx, "conference", bridge, "recording", "start", p); err != nil {
			return "", fmt.Errorf("esl: record room %s: %w", bridge, err)
		}
		return p, nil
	}
	uuid, err := d.uuidOf(leg)
	if err != nil {
		return "", err
	}
	if _, err := d.bgapi(ctx, "uuid_record", uuid, "start", p); err != nil {
		return "", fmt.Errorf("esl: record call %s: %w", callID, err)
	}
	return p, nil
}

// RecordMessage implements callflow.PBX with `uuid_record <uuid> start
// <path> <max seconds>`: FreeSWITCH stops it at the limit, after 5 s of
// silence (RECORD_INITIAL/FINAL_TIMEOUT_MS) or when the caller hangs up
// (RECORD_STOP each time); '#' ends it through the call flow, which hangs
// up. It needs no sendmsg and keeps the channel parked, so a hang-up is
// seen at once.
func (d *Driver) RecordMessage(ctx context.Context, callID string, leg callflow.LegID, max time.Duration) (string, error) {
	p, err := d.recordPath("vnum-vm-", callID)
	if err != nil {
		return "", err
	}
	uuid, err := d.uuidOf(leg)
	if err != nil {
		return "", err
	}
	secs := int((max + time.Second - 1) / time.Second)
	if secs <= 0 {
		secs = 120
	}
	// Silence ends the message, as on Asterisk: record_session's own
	// detection stops after 5 s without speech (before or after the
	// caller spoke). Set synchronously, before the recording starts.
	if _, err := d.api(ctx, "uuid_setvar_multi", uuid, "RECORD_INITIAL_TIMEOUT_MS=5000;RECORD_FINAL_TIMEOUT_MS=5000"); err != nil {
		return "", fmt.Errorf("esl: record message %s: %w", callID, err)
	}
	if _, err := d.bgapi(ctx, "uuid_record", uuid, "start", p, strconv.Itoa(secs)); err != nil {
		return "", fmt.Errorf("esl: record message %s: %w", callID, err)
	}
	return p, nil
}

// Play implements callflow.PBX with uuid_broadcast (PLAYBACK_STOP reports
// the end). A logical prompt plays its file of Options.Sounds; a menu's
// "sound:NAME" and "file:NAME" are resolved by media. A key pressed
// during a menu or confirm prompt stops it (see bargeIn).
func (d *Driver) Play(ctx context.Context, leg callflow.LegID, p callflow.Prompt) error {
	file, err := d.media(p)
	if err != nil {
		return err
	}
	uuid, err := d.uuidOf(leg)
	if err != nil {
		return err
	}
	if bargeIn(p) {
		d.mu.Lock()
		d.barge[uuid] = true
		d.mu.Unlock()
	}
	if _, err := d.bgapi(ctx, "uuid_broadcast", uuid, file, "aleg"); err != nil {
		return fmt.Errorf("esl: play %s: %w", p, err)
	}
	return nil
}

// hangupCauses are the FreeSWITCH causes vnum hangs up with.
var hangupCauses = map[callflow.Cause]string{
	callflow.CauseNormal:      "NORMAL_CLEARING",
	callflow.CauseBusy:        "USER_BUSY",
	callflow.CauseNoAnswer:    "NO_ANSWER",
	callflow.CauseFailed:      "NORMAL_TEMPORARY_FAILURE",
	callflow.CauseCongestion:  "NORMAL_CIRCUIT_CONGESTION", // 503: the carrier tries its next route
	callflow.CauseUnallocated: "UNALLOCATED_NUMBER",
}

// Hangup implements callflow.PBX with uuid_kill. A leg already gone is
// not an error. An originated leg whose UUID is not known yet (still
// ringing, on a FreeSWITCH that did not honour origination_uuid) is found
// by its vnum_leg variable (hupall <cause> vnum_leg <id>).
func (d *Driver) Hangup(ctx context.Context, leg callflow.LegID, cause callflow.Cause) error {
	uuid, err := d.uuidOf(leg)
	if err != nil {
		return err
	}
	fc := hangupCauses[cause]
	if fc == "" {
		fc = "NORMAL_CLEARING"
	}
	_, err = d.api(ctx, "uuid_kill", uuid, fc)
	if err == nil {
		return nil
	}
	if !noSuchChannel(err) {
		return fmt.Errorf("esl: hangup %s: %w", leg, err)
	}
	d.mu.Lock()
	o := d.out[leg]
	ringing := o != nil && o.uuid == "" && !o.ended
	d.mu.Unlock()
	if ringing {
		if _, err := d.api(ctx, "hupall", fc, "vnum_leg", string(leg)); err != nil {
			return fmt.Errorf("esl: hangup %s: %w", leg, err)
		}
	}
	return nil
}

// channelRow is the part of a `show channels as json` row vnum reads.
type channelRow struct {
	UUID      string `json:"uuid"`
	Direction string `json:"direction"`
	CallState string `json:"callstate"`
}

// parseChannels decodes `show channels as json` (outside input: fuzzed).
func parseChannels(body string) ([]channelRow, error) {
	var out struct {
		RowCount int          `json:"row_count"`
		Rows     []channelRow `json:"rows"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		return nil, fmt.Errorf("esl: show channels: %w", err)
	}
	return out.Rows, nil
}

// Live implements callflow.PBX: the channels of `show channels` that are
// vnum's — inbound legs the dialplan handed over (vnum_mode=inbound_esl)
// and legs vnum originated (vnum_leg) — under the engine's ids. Other
// calls on the same FreeSWITCH are never listed, so never touched.
// Two-party calls (uuid_bridge) have no bridge object; Bridges lists the
// mod_conference rooms that hold at least one of vnum's legs (`conference
// xml_list`), with those legs as members and as their LegState.Bridge.
func (d *Driver) Live(ctx context.Context) (callflow.Live, error) {
	live := callflow.Live{Legs: map[callflow.LegID]callflow.LegState{}, Bridges: map[string][]callflow.LegID{}}
	asked := time.Now()
	body, err := d.bgapi(ctx, "show", "channels", "as", "json")
	if err != nil {
		return live, fmt.Errorf("esl: live channels: %w", err)
	}
	rows, err := parseChannels(body)
	if err != nil {
		return live, err
	}
	present := make(map[string]bool, len(rows))
	for _, r := range rows {
		present[r.UUID] = true
	}
	// Legs that ended while the connection was down never get their
	// CHANNEL_HANGUP_COMPLETE: forget them now.
	d.mu.Lock()
	for leg, o := range d.out {
		if o.ended && o.jobDone && !present[o.uuid] {
			delete(d.out, leg)
			delete(d.byUUID, o.uuid)
		}
	}
	// The snapshot cannot hold legs that appeared after it was asked for:
	// they are live (else reconciliation would end calls just starting).
	for leg, o := range d.out {
		if !o.ended && o.created.After(asked) {
			live.Legs[leg] = callflow.LegState{Answered: o.answered}
		}
	}
	for uuid, in := range d.inbound {
		switch {
		case in.seen.After(asked) && !in.hungup:
			live.Legs[callflow.LegID(uuid)] = callflow.LegState{}
		case !present[uuid]:
			delete(d.inbound, uuid)
		}
	}
	d.mu.Unlock()
	legOf := make(map[string]callflow.LegID, len(rows))
	for _, r := range rows {
		if !validID(r.UUID) {
			continue
		}
		leg, ok, err := d.legOfChannel(ctx, r.UUID)
		if err != nil {
			return live, err
		}
		if ok {
			live.Legs[leg] = callflow.LegState{Answered: r.CallState == "ACTIVE" || r.CallState == "HELD"}
			legOf[r.UUID] = leg
		}
	}
	if err := d.liveRooms(ctx, &live, legOf); err != nil {
		return live, err
	}
	return live, nil
}

// legOfChannel tells whether a FreeSWITCH channel is vnum's, and its
// engine id.
func (d *Driver) legOfChannel(ctx context.Context, uuid string) (callflow.LegID, bool, error) {
	d.mu.Lock()
	if leg, ok := d.byUUID[uuid]; ok {
		d.mu.Unlock()
		return leg, true, nil
	}
	if _, ok := d.inbound[uuid]; ok {
		d.mu.Unlock()
		return callflow.LegID(uuid), true, nil
	}
	d.mu.Unlock()
	v, err := d.api(ctx, "uuid_getvar", uuid, "vnum_leg")
	if noSuchChannel(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("esl: live channels: %w", err)
	}
	if v != "_undef_" && validID(v) {
		leg := callflow.LegID(v)
		d.mu.Lock()
		if o := d.out[leg]; o != nil {
			o.uuid = uuid
		} else {
			// A leg of a previous vnumd: adopted legs get hung up by id.
			d.out[leg] = &outLeg{uuid: uuid, answered: true, jobDone: true}
		}
		d.byUUID[uuid] = leg
		d.mu.Unlock()
		return leg, true, nil
	}
	v, err = d.api(ctx, "uuid_getvar", uuid, "vnum_mode")
	if noSuchChannel(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("esl: live channels: %w", err)
	}
	if v != inboundMode {
		return "", false, nil
	}
	// A call the dialplan's fallback took over while vnumd was away is the
	// dialplan's now: it is not vnum's to reconcile (or hang up).
	if fb, err := d.api(ctx, "uuid_getvar", uuid, "vnum_fallback"); err == nil && fb != "" && fb != "_undef_" {
		return "", false, nil
	}
	return callflow.LegID(uuid), true, nil
}

// clip shortens text for an error message.
func clip(s string) string {
	s = eslconn.Sanitize(s)
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
