// Package ari is vnumd's Asterisk driver: it implements callflow.PBX over
// ARI with github.com/CyCoreSystems/ari/v6 (client/native) for the REST
// calls, and reads the event WebSocket itself.
//
// Why not the library's own event stream: its bus drops events without a
// word when a subscriber falls 100 behind, it reconnects with a fixed
// sleep and never says it did, and its "connected" flag is racy. vnumd
// must know when the stream was down so it can reconcile at once (events
// during a gap are lost, not queued, on a real Asterisk), so this package
// owns the WebSocket: capped exponential backoff with jitter, a reconcile
// after every (re)connect, and events handed to the engine in order.
//
// The library's REST calls take no context and its HTTP client has no
// time limit: every call here runs bounded by the caller's context.
package ari

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/CyCoreSystems/ari/v6"
	"github.com/CyCoreSystems/ari/v6/client/native"
	xslog "golang.org/x/exp/slog"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

// Options configure the driver.
type Options struct {
	URL      string // ARI root, e.g. http://127.0.0.1:8088/ari
	User     string
	Password string
	App      string // Stasis application (default "vnum")
	// Trunk is the endpoint template for E.164 targets; {e164} is replaced
	// by the number with its '+', {digits} without it.
	Trunk string
	// SIPTemplate is the endpoint template for sip: URI targets; {uri} is
	// replaced by the URI.
	SIPTemplate string
	// Record chooses how calls are recorded: "snoop" (default: a snoop
	// channel on the caller's leg, both directions, keeps the bridge a
	// simple two-party one) or "bridge" (the bridge is recorded; Asterisk
	// then mixes).
	Record string
	// Sounds overrides the media played for prompts (ARI media URIs such
	// as "sound:custom/call-recorded"), e.g. a recorded "this call is
	// recorded" instead of the core sound; see DefaultSounds.
	Sounds map[callflow.Prompt]string
	Logger *slog.Logger
	// Backoff caps the WebSocket reconnect delay (default 5 s).
	MaxBackoff time.Duration
}

// Driver is one connection to one Asterisk.
type Driver struct {
	o      Options
	log    *slog.Logger
	client *native.Client
	wsURL  string
	origin string

	sounds map[callflow.Prompt]string

	pbSeq atomic.Int64

	mu        sync.Mutex
	outbound  map[string]bool     // originated legs we have not seen end
	skippable map[string][]string // leg -> its playing prompts a key stops
	sem       chan struct{}

	counters
}

// ErrConfig: the options cannot work.
var ErrConfig = errors.New("ari: bad configuration")

// ErrBadName: a room or recording name with characters that cannot go
// into an ARI URL path unescaped (anything outside [A-Za-z0-9._-]).
var ErrBadName = errors.New("ari: unsafe name")

// checkName accepts the names vnum gives rooms and recordings
// ("vnum-room-<call id>", "vnum-vm-<call id>"): 1 to 200 characters of
// [A-Za-z0-9._-], never "." or "..". The library puts them in URL paths
// as they are.
func checkName(s string) error {
	if s == "" || len(s) > 200 || s == "." || s == ".." {
		return ErrBadName
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return ErrBadName
		}
	}
	return nil
}

// checkMedia accepts an ARI media URI for a prompt: sound:, recording: or
// tone: and a name without characters that would change its meaning.
func checkMedia(uri string) error {
	scheme, name, ok := strings.Cut(uri, ":")
	if !ok || (scheme != "sound" && scheme != "recording" && scheme != "tone") || name == "" || len(name) > 200 ||
		strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		return fmt.Errorf("%w: prompt media %q: want sound:NAME, recording:NAME or tone:NAME", ErrConfig, uri)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/;=", r)) {
			return fmt.Errorf("%w: prompt media %q: character %q", ErrConfig, uri, r)
		}
	}
	return nil
}

// New checks the options and builds the driver; it does not connect.
func New(o Options) (*Driver, error) {
	if o.App == "" {
		o.App = "vnum"
	}
	if o.Trunk == "" || !strings.Contains(o.Trunk, "{e164}") && !strings.Contains(o.Trunk, "{digits}") {
		return nil, fmt.Errorf("%w: trunk template %q needs {e164} or {digits}", ErrConfig, o.Trunk)
	}
	if o.SIPTemplate == "" {
		o.SIPTemplate = "PJSIP/{uri}"
	}
	if !strings.Contains(o.SIPTemplate, "{uri}") {
		return nil, fmt.Errorf("%w: SIP template %q needs {uri}", ErrConfig, o.SIPTemplate)
	}
	if o.Record == "" {
		o.Record = "snoop"
	}
	if o.Record != "snoop" && o.Record != "bridge" {
		return nil, fmt.Errorf("%w: record method %q: want snoop or bridge", ErrConfig, o.Record)
	}
	if o.User == "" || o.Password == "" {
		return nil, fmt.Errorf("%w: ARI user and password are required", ErrConfig)
	}
	u, err := url.Parse(o.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: ARI URL %q: want http(s)://host:port/ari", ErrConfig, o.URL)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	sounds := DefaultSounds()
	for p, uri := range o.Sounds {
		if err := checkMedia(uri); err != nil {
			return nil, fmt.Errorf("prompt %q: %w", p, err)
		}
		sounds[p] = uri
	}
	ws := *u
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[u.Scheme]
	ws.Path = strings.TrimSuffix(u.Path, "/") + "/events"
	origin := *u
	origin.Path = "/"
	d := &Driver{o: o, log: o.Logger.With("pbx", "asterisk"), wsURL: ws.String(), origin: origin.String(),
		sounds: sounds, outbound: map[string]bool{}, skippable: map[string][]string{}, sem: make(chan struct{}, maxInFlight)}
	// The library only logs from its own WebSocket loop, which vnum does
	// not use; it gets a silent logger of its own slog flavour.
	d.client = native.New(&native.Options{
		Application: o.App, URL: strings.TrimSuffix(o.URL, "/"), WebsocketURL: d.wsURL,
		Username: o.User, Password: o.Password,
		Logger: xslog.New(xslog.NewTextHandler(io.Discard, &xslog.HandlerOptions{Level: xslog.LevelError})),
	})
	return d, nil
}

// Name implements callflow.PBX.
func (d *Driver) Name() string { return "asterisk" }

// maxInFlight bounds concurrent ARI requests (and so the HTTP connections
// to Asterisk) during a burst of calls.
const maxInFlight = 64

// bounded runs one library call (which takes no context) within ctx, at
// most maxInFlight at once.
func (d *Driver) bounded(ctx context.Context, op string, f func() error) error {
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("ari: %s: %w", op, ctx.Err())
	}
	done := make(chan error, 1)
	go func() {
		defer func() { <-d.sem }()
		done <- f()
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("ari: %s: %w", op, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("ari: %s: %w", op, ctx.Err())
	}
}

// notFound reports an ARI 404 (the resource is already gone).
func notFound(err error) bool {
	var re interface{ Code() int }
	if errors.As(err, &re) {
		return re.Code() == 404
	}
	// The library's own text for a 404, should a wrapper hide the code;
	// never a bare "404", which a channel id in a URL can contain.
	return err != nil && strings.Contains(err.Error(), "Non-2XX response: 404")
}

func chKey(id string) *ari.Key { return ari.NewKey(ari.ChannelKey, id) }
func brKey(id string) *ari.Key { return ari.NewKey(ari.BridgeKey, id) }

// Ring implements callflow.PBX.
func (d *Driver) Ring(ctx context.Context, leg callflow.LegID) error {
	return d.bounded(ctx, "ring "+string(leg), func() error { return d.client.Channel().Ring(chKey(string(leg))) })
}

// Answer implements callflow.PBX.
func (d *Driver) Answer(ctx context.Context, leg callflow.LegID) error {
	return d.bounded(ctx, "answer "+string(leg), func() error { return d.client.Channel().Answer(chKey(string(leg))) })
}

// Endpoint returns the dial string for a target. Targets were validated
// by routing.ParseTarget (E.164 digits, or a SIP URI without any character
// a dial string treats specially); it checks again, since this string
// reaches Asterisk.
func (d *Driver) Endpoint(t routing.Target) (string, error) {
	if t.IsSIP() {
		if _, err := routing.ParseTarget(t.SIPURI, ""); err != nil {
			return "", err
		}
		return strings.ReplaceAll(d.o.SIPTemplate, "{uri}", t.SIPURI), nil
	}
	e, err := routing.ParseE164(t.E164, "")
	if err != nil || e != t.E164 {
		return "", fmt.Errorf("ari: target %q is not E.164", t.E164)
	}
	r := strings.NewReplacer("{e164}", e, "{digits}", strings.TrimPrefix(e, "+"))
	return r.Replace(d.o.Trunk), nil
}

// callerID renders the caller ID the far end sees. Only the decision's
// values reach it: the DID, the owner-approved caller, or nothing.
func callerID(c routing.CallerID) string {
	if c.Anonymous || c.Number == "" {
		return `"Anonymous" <anonymous>`
	}
	num := digitsOnly(c.Number)
	name := quoteName(c.Name)
	if name == "" {
		return "<" + num + ">"
	}
	return `"` + name + `" <` + num + ">"
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

// quoteName keeps a display name printable and free of the characters
// that end a quoted name or a caller-ID string.
func quoteName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 0x20 || r == 0x7f, r == '"', r == '\\', r == '<', r == '>':
			continue
		}
		b.WriteRune(r)
		if b.Len() >= 64 {
			break
		}
	}
	return strings.TrimSpace(b.String())
}

// Originate implements callflow.PBX. The new leg joins the app when it
// answers (StasisStart); until then its Dial progress and its end arrive as
// channel events because the app is subscribed to it.
func (d *Driver) Originate(ctx context.Context, o callflow.Originate) error {
	ep, err := d.Endpoint(o.Target)
	if err != nil {
		return err
	}
	id := string(o.Leg)
	timeout := int(o.Timeout / time.Second)
	if timeout <= 0 {
		timeout = int(routing.DefaultRingTimeout / time.Second)
	}
	req := ari.OriginateRequest{
		Endpoint:   ep,
		Timeout:    timeout,
		CallerID:   callerID(o.CallerID),
		App:        d.o.App,
		AppArgs:    "vnum-out",
		ChannelID:  id,
		Originator: string(o.Inbound),
	}
	if o.CallerID.Anonymous {
		// Presentation restricted: the far end gets no number at all.
		req.Variables = map[string]string{"CALLERID(pres)": "prohib"}
	}
	d.mu.Lock()
	d.outbound[id] = true
	d.mu.Unlock()
	err = d.bounded(ctx, "originate", func() error {
		_, err := d.client.Channel().Originate(nil, req)
		return err
	})
	if err != nil {
		d.mu.Lock()
		delete(d.outbound, id)
		d.mu.Unlock()
		return err
	}
	return nil
}

// Bridge implements callflow.PBX: a mixing bridge with both legs.
func (d *Driver) Bridge(ctx context.Context, callID string, a, b callflow.LegID) (string, error) {
	id := "vnum-br-" + callID
	err := d.bounded(ctx, "bridge "+id, func() error {
		if _, err := d.client.Bridge().Create(brKey(id), "mixing", id); err != nil {
			return err
		}
		if err := d.client.Bridge().AddChannel(brKey(id), string(a)); err != nil {
			return err
		}
		return d.client.Bridge().AddChannel(brKey(id), string(b))
	})
	return id, err
}

// DestroyBridge implements callflow.PBX.
func (d *Driver) DestroyBridge(ctx context.Context, bridge string) error {
	err := d.bounded(ctx, "destroy bridge "+bridge, func() error { return d.client.Bridge().Delete(brKey(bridge)) })
	if notFound(err) {
		return nil
	}
	return err
}

// RecordCall implements callflow.PBX. Default method: a snoop channel on
// the caller's leg (spy both directions) is recorded, which on a real
// Asterisk cost about half the extra CPU of recording the bridge and keeps
// the bridge a two-party one.
func (d *Driver) RecordCall(ctx context.Context, callID, bridge string, leg callflow.LegID) (string, error) {
	name := "vnum-" + callID
	opts := &ari.RecordingOptions{Format: "wav", Exists: "overwrite"}
	if (d.o.Record == "bridge" || leg == "") && bridge != "" { // leg "": the room itself, whoever leaves
		return name, d.bounded(ctx, "record bridge", func() error {
			_, err := d.client.Bridge().Record(brKey(bridge), name, opts)
			return err
		})
	}
	snoop := snoopPrefix + callID
	return name, d.bounded(ctx, "record call", func() error {
		if _, err := d.client.Channel().Snoop(chKey(string(leg)), snoop, &ari.SnoopOptions{App: d.o.App, Spy: ari.DirectionBoth, AppArgs: "vnum-snoop"}); err != nil {
			return err
		}
		_, err := d.client.Channel().Record(chKey(snoop), name, opts)
		return err
	})
}

// RecordMessage implements callflow.PBX.
func (d *Driver) RecordMessage(ctx context.Context, callID string, leg callflow.LegID, max time.Duration) (string, error) {
	name := "vnum-vm-" + callID
	return name, d.bounded(ctx, "record message", func() error {
		_, err := d.client.Channel().Record(chKey(string(leg)), name, &ari.RecordingOptions{
			Format: "wav", MaxDuration: max, MaxSilence: 5 * time.Second, Terminate: "#", Exists: "overwrite"})
		return err
	})
}

// DefaultSounds returns the media played for each prompt unless
// Options.Sounds overrides it: files of asterisk-core-sounds-en.
func DefaultSounds() map[callflow.Prompt]string {
	return map[callflow.Prompt]string{
		callflow.PromptNotInService: "sound:ss-noservice",
		callflow.PromptVoicemail:    "sound:vm-intro",
		callflow.PromptBeep:         "sound:beep",
		// followme/options is the prompt app_followme plays to the
		// person it reached: "press 1 to accept this call, or 2 to
		// reject it" (the engine takes any key as acceptance).
		callflow.PromptConfirm: "sound:followme/options",
		// conf-now-recording is the core sound ConfBridge and MeetMe
		// play when a recording starts ("the conference is now being
		// recorded"): core sounds have no two-party "this call is
		// recorded"; operators who want one record it and set
		// Options.Sounds.
		callflow.PromptConsent: "sound:conf-now-recording",
		// Conference rooms: ConfBridge's own sounds. ConfBridge plays
		// conf-locked also to a caller of a full room (core sounds have
		// no "the conference is full").
		callflow.PromptEnterPIN:   "sound:conf-getpin",
		callflow.PromptBadPIN:     "sound:conf-invalidpin",
		callflow.PromptRoomFull:   "sound:conf-locked",
		callflow.PromptRoomLocked: "sound:conf-locked",
		callflow.PromptJoinTone:   "sound:confbridge-join",
		callflow.PromptLeaveTone:  "sound:confbridge-leave",
	}
}

// media resolves a prompt: a logical one (callflow.PromptBeep...) through
// the sound table; a menu's "sound:NAME" (one of Asterisk's sounds) as it
// is; a menu's "file:NAME" (a recording uploaded to the PBX's storage) as
// the stored recording "recording:NAME". NAME is checked again here, since
// it reaches Asterisk: 1 to 128 of [A-Za-z0-9/_.-], relative, no "." or
// ".." or empty segment.
func (d *Driver) media(p callflow.Prompt) (string, error) {
	if m, ok := d.sounds[p]; ok {
		return m, nil
	}
	scheme, name, _ := strings.Cut(string(p), ":")
	switch scheme {
	case "sound":
	case "file":
		scheme = "recording"
	default:
		return "", fmt.Errorf("ari: no sound for prompt %q", p)
	}
	if len(name) == 0 || len(name) > 128 {
		return "", fmt.Errorf("ari: prompt %q: %w", p, ErrBadName)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("ari: prompt %q: %w", p, ErrBadName)
		}
		if err := checkName(seg); err != nil {
			return "", fmt.Errorf("ari: prompt %q: %w", p, err)
		}
	}
	return scheme + ":" + name, nil
}

// bargeIn says whether a key the party presses stops the prompt: a menu's
// prompts and the confirm prompt yes (on Asterisk a key never stops a
// playback by itself: the driver deletes it); the recording consent and
// the others play to the end.
func bargeIn(p callflow.Prompt) bool {
	switch p {
	case callflow.PromptConfirm:
		return true
	case callflow.PromptNotInService, callflow.PromptVoicemail, callflow.PromptBeep, callflow.PromptConsent:
		return false
	}
	return strings.HasPrefix(string(p), "sound:") || strings.HasPrefix(string(p), "file:")
}

// Play implements callflow.PBX. A prompt the party may skip (bargeIn) is
// remembered until it ends, so that the party's next key stops it.
func (d *Driver) Play(ctx context.Context, leg callflow.LegID, p callflow.Prompt) error {
	media, err := d.media(p)
	if err != nil {
		return err
	}
	id := "vnum-pb-" + strconv.FormatInt(d.pbSeq.Add(1), 36) + "-" + string(leg)
	skip := bargeIn(p)
	if skip {
		d.mu.Lock()
		d.skippable[string(leg)] = append(d.skippable[string(leg)], id)
		d.mu.Unlock()
	}
	err = d.bounded(ctx, "play", func() error {
		_, err := d.client.Channel().Play(chKey(string(leg)), id, media)
		return err
	})
	if err != nil && skip {
		d.mu.Lock()
		d.dropSkippableLocked(string(leg), id)
		d.mu.Unlock()
	}
	return err
}

// dropSkippableLocked forgets a playback that ended.
func (d *Driver) dropSkippableLocked(leg, id string) {
	l := slices.DeleteFunc(d.skippable[leg], func(x string) bool { return x == id })
	if len(l) == 0 {
		delete(d.skippable, leg)
	} else {
		d.skippable[leg] = l
	}
}

// stopPlaybacks deletes playbacks a key press skipped; one already over
// (404) is fine.
func (d *Driver) stopPlaybacks(ctx context.Context, ids []string) {
	for _, id := range ids {
		err := d.bounded(ctx, "stop playback "+id, func() error {
			return d.client.Playback().Stop(ari.NewKey(ari.PlaybackKey, id))
		})
		if err != nil && !notFound(err) {
			d.log.Warn("stopping a skipped prompt", "playback", id, "err", err)
		}
	}
}

var reasons = map[callflow.Cause]string{
	callflow.CauseNormal:      "normal",
	callflow.CauseBusy:        "busy",
	callflow.CauseNoAnswer:    "no_answer",
	callflow.CauseFailed:      "failure",
	callflow.CauseCongestion:  "congestion",
	callflow.CauseUnallocated: "unallocated",
}

// Hangup implements callflow.PBX. A leg that is already gone is not an
// error (ARI answers 404).
func (d *Driver) Hangup(ctx context.Context, leg callflow.LegID, cause callflow.Cause) error {
	err := d.bounded(ctx, "hangup "+string(leg), func() error {
		return d.client.Channel().Hangup(chKey(string(leg)), reasons[cause])
	})
	if notFound(err) {
		return nil
	}
	return err
}

// Live implements callflow.PBX from the application's subscriptions: the
// channels and bridges the app holds (channels of other dialplan calls on
// the same Asterisk are never touched).
func (d *Driver) Live(ctx context.Context) (callflow.Live, error) {
	live := callflow.Live{Legs: map[callflow.LegID]callflow.LegState{}, Bridges: map[string][]callflow.LegID{}}
	var app *ari.ApplicationData
	if err := d.bounded(ctx, "application", func() error {
		var err error
		app, err = d.client.Application().Data(ari.NewKey(ari.ApplicationKey, d.o.App))
		return err
	}); err != nil {
		return live, err
	}
	for _, id := range app.ChannelIDs {
		if !isSnoop(id) {
			live.Legs[callflow.LegID(id)] = callflow.LegState{}
		}
	}
	for _, b := range app.BridgeIDs {
		var data *ari.BridgeData
		err := d.bounded(ctx, "bridge "+b, func() error {
			var err error
			data, err = d.client.Bridge().Data(brKey(b))
			return err
		})
		if notFound(err) {
			continue
		}
		if err != nil {
			return live, err
		}
		var members []callflow.LegID
		for _, c := range data.ChannelIDs {
			members = append(members, callflow.LegID(c))
			if st, ok := live.Legs[callflow.LegID(c)]; ok {
				st.Bridge = b
				live.Legs[callflow.LegID(c)] = st
			}
		}
		live.Bridges[b] = members
	}
	return live, nil
}

// Join implements callflow.PBX: the room is a mixing bridge whose id is
// the room's name, created by the first join. The leg is added first (one
// request when the room exists); if Asterisk says there is no such bridge
// the room is created and the leg added again. Two first joins at once
// both create: the loser's 409 is not an error.
func (d *Driver) Join(ctx context.Context, room string, leg callflow.LegID) error {
	if err := checkName(room); err != nil {
		return fmt.Errorf("ari: join room %q: %w", room, err)
	}
	return d.bounded(ctx, "join room "+room, func() error {
		err := d.client.Bridge().AddChannel(brKey(room), string(leg))
		if !notFound(err) {
			return err
		}
		if _, err := d.client.Bridge().Create(brKey(room), "mixing", room); err != nil && native.CodeFromError(err) != 409 {
			return err
		}
		return d.client.Bridge().AddChannel(brKey(room), string(leg))
	})
}

// DeleteRecording implements callflow.PBX: DELETE /recordings/stored/NAME.
// A recording not stored (already deleted, or still being made) is also
// looked for among the live ones and, if found, stopped and discarded, so
// nothing of it is stored later. Gone everywhere is not an error.
func (d *Driver) DeleteRecording(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("ari: delete recording %q: %w", name, err)
	}
	err := d.bounded(ctx, "delete recording "+name, func() error {
		return d.client.StoredRecording().Delete(ari.NewKey(ari.StoredRecordingKey, name))
	})
	if !notFound(err) {
		return err
	}
	err = d.bounded(ctx, "discard live recording "+name, func() error {
		return d.client.LiveRecording().Scrap(ari.NewKey(ari.LiveRecordingKey, name))
	})
	if notFound(err) {
		return nil
	}
	return err
}
