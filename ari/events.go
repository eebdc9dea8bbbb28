package ari

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"golang.org/x/net/websocket"

	"github.com/vnum/vnum/routing/callflow"
)

// wireEvent is the part of an ARI event vnum reads.
type wireEvent struct {
	Type    string       `json:"type"`
	Channel *wireChannel `json:"channel"`
	Args    []string     `json:"args"`
	Cause   *int         `json:"cause"`
	Digit   string       `json:"digit"`
	Play    *struct {
		ID        string `json:"id"`
		TargetURI string `json:"target_uri"`
	} `json:"playback"`
	Rec *struct {
		Name      string `json:"name"`
		TargetURI string `json:"target_uri"`
		Duration  *int   `json:"duration"`
	} `json:"recording"`
	Message *wireMessage `json:"message"` // TextMessageReceived (sms.go)
}

type wireChannel struct {
	ID     string `json:"id"`
	Caller struct {
		Name   string `json:"name"`
		Number string `json:"number"`
	} `json:"caller"`
	Dialplan struct {
		Exten string `json:"exten"`
	} `json:"dialplan"`
}

// ErrBadEvent: a WebSocket message that is not an ARI event.
var ErrBadEvent = errors.New("ari: malformed event")

// decode parses one WebSocket message. It is the parser of outside input
// on this side (fuzzed).
func decode(data []byte) (wireEvent, error) {
	var ev wireEvent
	if len(data) > 1<<20 {
		return ev, fmt.Errorf("%w: %d bytes", ErrBadEvent, len(data))
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return ev, fmt.Errorf("%w: %w", ErrBadEvent, err)
	}
	if ev.Type == "" {
		return ev, fmt.Errorf("%w: no type", ErrBadEvent)
	}
	return ev, nil
}

// causeOf maps a Q.850 cause to the call flow's.
func causeOf(c *int) callflow.Cause {
	if c == nil {
		return callflow.CauseNormal
	}
	switch *c {
	case 16, 0:
		return callflow.CauseNormal
	case 17:
		return callflow.CauseBusy
	case 18, 19:
		return callflow.CauseNoAnswer
	case 34, 38, 41, 42, 44:
		return callflow.CauseCongestion
	case 1:
		return callflow.CauseUnallocated
	}
	return callflow.CauseFailed
}

// leg of a "channel:ID" target URI.
func targetLeg(uri string) (string, bool) {
	id, ok := strings.CutPrefix(uri, "channel:")
	return id, ok && id != ""
}

// translate turns an ARI event into zero or one call-flow event, keeping
// track of which legs are ours and in which state.
func (d *Driver) translate(ev wireEvent) (callflow.Event, bool) {
	ch := ""
	if ev.Channel != nil {
		ch = ev.Channel.ID
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch ev.Type {
	case "StasisStart":
		if ch == "" {
			return callflow.Event{}, false
		}
		arg0 := ""
		if len(ev.Args) > 0 {
			arg0 = ev.Args[0]
		}
		switch {
		case isSnoop(ch) || arg0 == "vnum-snoop":
			return callflow.Event{}, false
		case d.outbound[ch] || arg0 == "vnum-out":
			return callflow.Event{Kind: callflow.EvAnswered, Leg: callflow.LegID(ch)}, true
		}
		did := arg0
		if did == "" {
			did = ev.Channel.Dialplan.Exten
		}
		return callflow.Event{Kind: callflow.EvInbound, Leg: callflow.LegID(ch), Inbound: &callflow.Inbound{
			Leg: callflow.LegID(ch), DID: did, CallerNumber: ev.Channel.Caller.Number,
			CallerName: ev.Channel.Caller.Name, At: time.Now()}}, true
	case "StasisEnd", "ChannelDestroyed":
		// The inbound leg leaves the app at StasisEnd and never shows its
		// ChannelDestroyed to the app; an originated leg that never
		// answered never entered the app, and its end (and why: busy, no
		// answer) is in ChannelDestroyed. Either is the end of the leg;
		// the engine ignores a second one, and legs it does not own (so a
		// restarted vnumd also sees the ends of the legs it adopted).
		if ch == "" {
			return callflow.Event{}, false
		}
		if isSnoop(ch) {
			return callflow.Event{}, false
		}
		delete(d.outbound, ch)
		delete(d.skippable, ch)
		return callflow.Event{Kind: callflow.EvHangup, Leg: callflow.LegID(ch), Cause: causeOf(ev.Cause)}, true
	case "ChannelDtmfReceived":
		if ch != "" && ev.Digit != "" {
			return callflow.Event{Kind: callflow.EvDTMF, Leg: callflow.LegID(ch), Digit: ev.Digit}, true
		}
	case "PlaybackFinished":
		if ev.Play != nil {
			if id, ok := targetLeg(ev.Play.TargetURI); ok {
				d.dropSkippableLocked(id, ev.Play.ID)
				return callflow.Event{Kind: callflow.EvPlaybackDone, Leg: callflow.LegID(id)}, true
			}
		}
	case "TextMessageReceived":
		return d.messageEvent(ev)
	case "RecordingFinished", "RecordingFailed":
		if ev.Rec != nil {
			if id, ok := targetLeg(ev.Rec.TargetURI); ok && !isSnoop(id) {
				var dur time.Duration
				if ev.Rec.Duration != nil {
					dur = time.Duration(*ev.Rec.Duration) * time.Second
				}
				return callflow.Event{Kind: callflow.EvRecordingDone, Leg: callflow.LegID(id), Duration: dur}, true
			}
		}
	}
	return callflow.Event{}, false
}

// Run connects the event stream and hands events to sink until ctx ends,
// reconnecting with capped exponential backoff and jitter. After every
// (re)connect it asks the sink to reconcile, since a real Asterisk does not
// replay what happened while the app was away.
func (d *Driver) Run(ctx context.Context, sink callflow.Sink) error {
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMaxInterval(d.o.MaxBackoff), backoff.WithMaxElapsedTime(0))
	defer d.unsubscribeMessages()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := d.dial()
		if err != nil {
			d.connected.Store(false)
			wait := b.NextBackOff()
			d.log.Warn("ARI event stream: connect failed", "err", err, "retry_in", wait)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
				continue
			}
		}
		b.Reset()
		// Prompts' ends may have been lost with the old stream: forget
		// which ones a key would stop rather than keep them forever.
		d.mu.Lock()
		clear(d.skippable)
		d.mu.Unlock()
		d.connected.Store(true)
		d.reconnects.Add(1)
		d.log.Info("ARI event stream connected", "app", d.o.App)
		wg.Add(2)
		go func() {
			defer wg.Done()
			d.keepSubscribed(ctx)
		}()
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := sink.Reconcile(rctx); err != nil {
				d.log.Warn("reconcile after connect", "err", err)
			}
		}()
		err = d.read(ctx, conn, sink)
		d.connected.Store(false)
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("ARI event stream lost: reconnecting", "err", err)
	}
}

// Connected reports whether the event stream is up.
func (d *Driver) Connected() bool { return d.connected.Load() }

// Connects counts successful (re)connections.
func (d *Driver) Connects() int64 { return d.reconnects.Load() }

func (d *Driver) dial() (*websocket.Conn, error) {
	u := d.wsURL + "?" + url.Values{"app": {d.o.App}}.Encode()
	cfg, err := websocket.NewConfig(u, d.origin)
	if err != nil {
		return nil, fmt.Errorf("ari: websocket: %w", err)
	}
	cfg.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(d.o.User+":"+d.o.Password)))
	cfg.Dialer = &net.Dialer{Timeout: 5 * time.Second}
	conn, err := websocket.DialConfig(cfg)
	if err != nil {
		// The error names the URL, never the credentials (they travel in
		// a header); a 401 is worth saying plainly.
		if strings.Contains(err.Error(), "bad status") {
			return nil, fmt.Errorf("ari: websocket %s refused (wrong user or password, or no such app?): %w", d.wsURL, err)
		}
		return nil, fmt.Errorf("ari: websocket %s: %w", d.wsURL, err)
	}
	return conn, nil
}

// read consumes the stream until it fails or ctx ends. It never blocks on
// anything but the sink, which keeps one small queue per call.
func (d *Driver) read(ctx context.Context, conn *websocket.Conn, sink callflow.Sink) error {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
		case <-stop:
		}
		conn.Close()
	}()
	// Prompts skipped by a key are stopped off the read loop, which never
	// waits for Asterisk.
	var stops sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
		stops.Wait()
	}()
	for {
		var data []byte
		if err := websocket.Message.Receive(conn, &data); err != nil {
			return err
		}
		ev, err := decode(data)
		if err != nil {
			d.badEvents.Add(1)
			d.log.Warn("ignoring a malformed ARI event", "err", err)
			continue
		}
		if d.log.Enabled(ctx, slog.LevelDebug) {
			// Never the raw event: it carries the caller's number and name.
			ch := ""
			if ev.Channel != nil {
				ch = ev.Channel.ID
			}
			d.log.Debug("ari event", "type", ev.Type, "channel", ch)
		}
		if out, ok := d.translate(ev); ok {
			sink.Dispatch(out)
			if out.Kind == callflow.EvDTMF {
				if ids := d.takeSkippable(string(out.Leg)); len(ids) > 0 {
					stops.Add(1)
					go func() {
						defer stops.Done()
						sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
						defer cancel()
						d.stopPlaybacks(sctx, ids)
					}()
				}
			}
		}
	}
}

// takeSkippable returns (and forgets) the prompts playing to a leg that a
// key stops.
func (d *Driver) takeSkippable(leg string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := d.skippable[leg]
	delete(d.skippable, leg)
	return ids
}

// counters kept outside the mutex.
type counters struct {
	connected  atomic.Bool
	reconnects atomic.Int64
	badEvents  atomic.Int64
	subscribed atomic.Bool // the app is subscribed to MessageSource (sms.go)
	subMu      sync.Mutex  // one subscription check at a time (sms.go)
}

// snoopPrefix names the snoop channels vnum records calls through.
const snoopPrefix = "vnum-snoop-"

func isSnoop(id string) bool { return strings.HasPrefix(id, snoopPrefix) }
