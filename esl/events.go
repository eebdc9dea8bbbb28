package esl

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/routing/callflow"
)

// inboundMode is the vnum_mode the dialplan sets on calls for vnumd.
const inboundMode = "inbound_esl"

// subscriptions are the events the driver reads. CHANNEL_PARK is both a
// new call (inbound, vnum_mode set) and an originated leg that answered
// (&park() runs once the originate succeeded); CHANNEL_HANGUP says which
// side ended first, CHANNEL_HANGUP_COMPLETE lets the driver forget a leg.
var subscriptions = append([]string{"CHANNEL_PARK", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "DTMF", "PLAYBACK_STOP",
	"RECORD_STOP", "BACKGROUND_JOB"}, messageEvents...)

// causeOf maps a FreeSWITCH hang-up cause to the call flow's.
func causeOf(c string) callflow.Cause {
	switch c {
	case "", "NORMAL_CLEARING", "ORIGINATOR_CANCEL", "LOSE_RACE", "PICKED_OFF", "MANAGER_REQUEST", "SUCCESS":
		return callflow.CauseNormal
	case "USER_BUSY":
		return callflow.CauseBusy
	case "NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "PROGRESS_TIMEOUT", "RECOVERY_ON_TIMER_EXPIRE":
		return callflow.CauseNoAnswer
	case "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION", "NETWORK_OUT_OF_ORDER", "DESTINATION_OUT_OF_ORDER",
		"TEMPORARY_FAILURE", "REQUESTED_CHAN_UNAVAIL":
		return callflow.CauseCongestion
	case "UNALLOCATED_NUMBER", "NO_ROUTE_DESTINATION", "NUMBER_CHANGED":
		return callflow.CauseUnallocated
	}
	return callflow.CauseFailed
}

// hangupCause reads why a channel ended. A leg that never answered may
// read NORMAL_CLEARING while the truth is in originate_disposition (on a
// real FreeSWITCH a no-answer bridge leaves NORMAL_CLEARING on the A-leg
// and NO_ANSWER there).
func hangupCause(ev eslconn.Event) callflow.Cause {
	c := ev.Get("Hangup-Cause")
	if c == "" {
		c = ev.Headers["variable_hangup_cause"]
	}
	if c == "NORMAL_CLEARING" || c == "" {
		if disp := ev.Headers["variable_originate_disposition"]; disp != "" && disp != "SUCCESS" && ev.Get("Answer-State") != "answered" {
			if dc := causeOf(disp); dc != callflow.CauseNormal {
				return dc
			}
		}
	}
	return causeOf(c)
}

// legOf is the engine's id for the channel of an event: vnum_leg for the
// legs vnum originated (or the UUID map, for events without variables such
// as DTMF), the UUID otherwise.
func (d *Driver) legOf(ev eslconn.Event) callflow.LegID {
	if l := ev.Headers["variable_vnum_leg"]; l != "" && validID(l) {
		return callflow.LegID(l)
	}
	uuid := ev.Get("Unique-ID")
	d.mu.Lock()
	defer d.mu.Unlock()
	if l, ok := d.byUUID[uuid]; ok {
		return l
	}
	return callflow.LegID(uuid)
}

// translate turns a FreeSWITCH event into zero or one call-flow event,
// keeping track of which legs are vnum's. Events of legs the driver does
// not know are still passed on: the engine ignores legs it does not own,
// and a restarted vnumd has adopted legs by id.
func (d *Driver) translate(ev eslconn.Event) (callflow.Event, bool) {
	if ev.Name == "MESSAGE" || ev.Name == "RECV_MESSAGE" {
		return d.messageEvent(ev) // no channel: sms.go
	}
	uuid := ev.Get("Unique-ID")
	if !validID(uuid) {
		return callflow.Event{}, false
	}
	switch ev.Name {
	case "CHANNEL_PARK":
		if l := ev.Headers["variable_vnum_leg"]; l != "" {
			if !validID(l) {
				return callflow.Event{}, false
			}
			// &park() runs once the originated leg answered.
			return d.legAnswered(callflow.LegID(l), uuid)
		}
		if ev.Headers["variable_vnum_mode"] != inboundMode {
			return callflow.Event{}, false
		}
		// A caller back in park after its bridge ended is not a new
		// call, whichever vnumd process bridged it.
		if ev.Headers["variable_bridge_uuid"] != "" || ev.Headers["variable_last_bridge_to"] != "" {
			return callflow.Event{}, false
		}
		d.mu.Lock()
		_, seen := d.inbound[uuid]
		if !seen {
			d.inbound[uuid] = &inLeg{seen: time.Now()}
		}
		d.mu.Unlock()
		if seen {
			return callflow.Event{}, false
		}
		return callflow.Event{Kind: callflow.EvInbound, Leg: callflow.LegID(uuid), Inbound: &callflow.Inbound{
			Leg: callflow.LegID(uuid), DID: ev.Headers["variable_vnum_did"],
			CallerNumber: ev.Get("Caller-Caller-ID-Number"), CallerName: ev.Get("Caller-Caller-ID-Name"),
			At: time.Now()}}, true
	case "CHANNEL_HANGUP":
		// The side that hangs up first has the first CHANNEL_HANGUP; the
		// COMPLETEs come in another order (the B-leg's before the A-leg's
		// when the caller hangs up), so they would name the wrong side.
		leg := d.legOf(ev)
		d.mu.Lock()
		if in := d.inbound[uuid]; in != nil {
			in.hungup = true
		}
		d.mu.Unlock()
		return d.legEnded(leg, uuid, hangupCause(ev), false, false)
	case "CHANNEL_HANGUP_COMPLETE":
		// Cleanup, and the end of a leg whose CHANNEL_HANGUP this
		// connection did not see.
		leg := d.legOf(ev)
		d.mu.Lock()
		in := d.inbound[uuid]
		delete(d.inbound, uuid)
		delete(d.barge, uuid)
		d.mu.Unlock()
		if in != nil && in.hungup {
			return callflow.Event{}, false
		}
		return d.legEnded(leg, uuid, hangupCause(ev), true, false)
	case "DTMF":
		if digit := ev.Get("DTMF-Digit"); digit != "" {
			d.keyPressed(uuid)
			return callflow.Event{Kind: callflow.EvDTMF, Leg: d.legOf(ev), Digit: digit}, true
		}
	case "PLAYBACK_STOP":
		d.mu.Lock()
		delete(d.barge, uuid)
		d.mu.Unlock()
		return callflow.Event{Kind: callflow.EvPlaybackDone, Leg: d.legOf(ev)}, true
	case "RECORD_STOP":
		var dur time.Duration
		if ms, err := strconv.ParseInt(ev.Headers["variable_record_ms"], 10, 64); err == nil && ms > 0 {
			dur = time.Duration(ms) * time.Millisecond
		} else if s, err := strconv.ParseInt(ev.Headers["variable_record_seconds"], 10, 64); err == nil && s > 0 {
			dur = time.Duration(s) * time.Second
		}
		return callflow.Event{Kind: callflow.EvRecordingDone, Leg: d.legOf(ev), Duration: dur}, true
	}
	return callflow.Event{}, false
}

// Run connects to FreeSWITCH and hands its events to sink until ctx
// ends, reconnecting with capped exponential backoff and jitter. After
// every (re)connect it asks the sink to reconcile: FreeSWITCH does not
// replay the events of the gap (calls go on without a controller, their
// events are lost).
func (d *Driver) Run(ctx context.Context, sink callflow.Sink) error {
	d.mu.Lock()
	d.sink, d.runCtx = sink, ctx
	d.mu.Unlock()
	var rwg sync.WaitGroup
	defer func() {
		rwg.Wait()
		d.wg.Wait()
	}()
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMaxInterval(d.o.MaxBackoff), backoff.WithMaxElapsedTime(0))
	for {
		conn, err := eslconn.Dial(ctx, eslconn.Options{Addr: d.o.Addr, Password: d.o.Password, Logger: d.o.Logger,
			Events: subscriptions, CommandTimeout: d.o.CommandTimeout})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			wait := b.NextBackOff()
			if errors.Is(err, eslconn.ErrAuth) {
				d.log.Error("FreeSWITCH refused the ESL password (event_socket.conf.xml)", "retry_in", wait)
			} else {
				d.log.Warn("ESL connect failed", "err", err, "retry_in", wait)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(wait):
				continue
			}
		}
		b.Reset()
		d.mu.Lock()
		d.conn = conn
		d.mu.Unlock()
		d.connected.Store(true)
		d.connects.Add(1)
		d.log.Info("ESL connected", "addr", d.o.Addr)
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			rctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if err := sink.Reconcile(rctx); err != nil && ctx.Err() == nil {
				d.log.Warn("reconcile after connect", "err", err)
			}
		}()
		d.read(ctx, conn, sink)
		d.connected.Store(false)
		d.mu.Lock()
		d.conn = nil
		d.mu.Unlock()
		_ = conn.Close()
		if ctx.Err() != nil {
			return nil
		}
		d.log.Warn("ESL connection lost: reconnecting", "err", conn.Err())
	}
}

// read consumes the events of one connection until it ends or ctx ends.
// It never blocks on anything but the sink, which keeps one small queue
// per call; eslconn queues behind it without dropping.
func (d *Driver) read(ctx context.Context, conn *eslconn.Conn, sink callflow.Sink) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-conn.Events():
			if !ok {
				return
			}
			out, ok := d.translate(ev)
			if !ok {
				continue
			}
			if out.Kind == callflow.EvInbound {
				d.takeOver(conn, string(out.Leg))
			}
			sink.Dispatch(out)
		}
	}
}

// takeOver cancels the dialplan's fallback transfer (sched_transfer, whose
// task group is the channel's UUID): vnumd has the call now.
func (d *Driver) takeOver(conn *eslconn.Conn, uuid string) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), d.o.CommandTimeout)
		defer cancel()
		if _, err := conn.API(ctx, "sched_del", uuid); err != nil && !errors.Is(err, eslconn.ErrCommandFailed) {
			d.log.Warn("could not cancel the dialplan fallback; the call may be transferred to it", "leg", uuid, "err", err)
		}
	}()
}
