package main

import (
	"log/slog"
	"strings"
	"time"

	"github.com/vnum/vnum/esl"
	"github.com/vnum/vnum/esl/esltest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

const fsTrunk = "sofia/gateway/carrier/{e164}"

type freeswitchWorld struct {
	s   *esltest.Server
	sp  *esltest.Support
	drv *esl.Driver
}

func newFreeSWITCH() (world, error) {
	s, err := esltest.New(esltest.Options{Password: "demo-only-password", PlaybackDuration: time.Second})
	if err != nil {
		return nil, err
	}
	return &freeswitchWorld{s: s, sp: esltest.NewSupport(s, 10*time.Millisecond)}, nil
}

func (w *freeswitchWorld) name() string { return "FreeSWITCH" }

func (w *freeswitchWorld) driver(log *slog.Logger) (callflow.Driver, error) {
	d, err := esl.New(esl.Options{Addr: w.s.Addr(), Password: w.s.Password(), Trunk: fsTrunk, Logger: log})
	w.drv = d
	return d, err
}

func (w *freeswitchWorld) connected() bool { return w.drv != nil && w.drv.Connected() }

// fsCaller is the carrier side of an inbound call.
type fsCaller struct {
	s *esltest.Server
	c *esltest.Call
}

func (p fsCaller) Hangup()                         { _ = p.c.Hangup("") }
func (p fsCaller) Done() <-chan struct{}           { return p.c.HungUp() }
func (p fsCaller) Answered() bool                  { return p.c.State().Answered }
func (p fsCaller) CallerID() (name, number string) { return "", "" }

// Heard derives what the caller heard from what FreeSWITCH was told.
func (p fsCaller) Heard() []string {
	var out []string
	st := p.c.State()
	for _, f := range st.Played {
		out = append(out, f[strings.LastIndex(f, "/")+1:])
	}
	if st.HungUp && !st.Answered {
		switch st.Cause {
		case "USER_BUSY":
			out = append(out, "busy")
		case "NORMAL_CIRCUIT_CONGESTION", "SWITCH_CONGESTION":
			out = append(out, "congestion")
		}
	}
	return out
}

// fsCallee is the far end of an outbound leg.
type fsCallee struct {
	w   *freeswitchWorld
	leg esltest.LegInfo
}

func (p fsCallee) Hangup()               { _ = p.w.s.HangupLeg(p.leg.UUID, "") }
func (p fsCallee) Done() <-chan struct{} { return p.w.sp.LegDone(p.leg.UUID) }
func (p fsCallee) Answered() bool {
	for _, l := range p.w.s.Legs() {
		if l.UUID == p.leg.UUID {
			return l.Outcome == "SUCCESS"
		}
	}
	return false
}
func (p fsCallee) CallerID() (name, number string) { return p.leg.CallerIDName, p.leg.CallerIDNumber }
func (p fsCallee) Heard() []string                 { return nil }

func (w *freeswitchWorld) inbound(did, number, name string) (phone, error) {
	c, err := w.s.Inbound(esltest.InboundCall{DID: did, CallerNumber: number, CallerName: name})
	if err != nil {
		return nil, err
	}
	return fsCaller{s: w.s, c: c}, nil
}

func fsEndpoint(t routing.Target) string {
	if t.IsSIP() {
		return "sofia/external/" + t.SIPURI
	}
	return strings.ReplaceAll(fsTrunk, "{e164}", t.E164)
}

func (w *freeswitchWorld) target(t routing.Target, b behavior) {
	eb := esltest.Behavior{Outcome: esltest.Answer, After: b.answerAfter, HangupAfter: b.hangupAfter}
	switch {
	case b.busy:
		eb.Outcome = esltest.Busy
	case b.noAnswer:
		eb.Outcome, eb.After = esltest.NoAnswer, time.Hour
	}
	w.s.SetDestination(fsEndpoint(t), eb)
}

func (w *freeswitchWorld) reached(t routing.Target) []phone {
	var out []phone
	for _, l := range w.s.Legs() {
		if l.Endpoint == fsEndpoint(t) {
			out = append(out, fsCallee{w: w, leg: l})
		}
	}
	return out
}

func (w *freeswitchWorld) recordings() []string { return w.s.Recordings() }
func (w *freeswitchWorld) close() {
	w.sp.Close()
	w.s.Close()
}
