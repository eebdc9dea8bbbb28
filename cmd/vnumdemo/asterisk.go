package main

import (
	"log/slog"
	"strings"

	"github.com/vnum/vnum/ari"
	"github.com/vnum/vnum/ari/aritest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
)

const demoTrunk = "PJSIP/{e164}@carrier"

type asteriskWorld struct {
	s   *aritest.Server
	drv *ari.Driver
}

func newAsterisk() (world, error) {
	s, err := aritest.New(aritest.Options{User: "vnum", Password: "demo-only-password", App: "vnum"})
	if err != nil {
		return nil, err
	}
	return &asteriskWorld{s: s}, nil
}

func (w *asteriskWorld) name() string { return "Asterisk" }

func (w *asteriskWorld) driver(log *slog.Logger) (callflow.Driver, error) {
	d, err := ari.New(ari.Options{URL: w.s.URL(), User: "vnum", Password: "demo-only-password", App: "vnum", Trunk: demoTrunk, Logger: log})
	w.drv = d
	return d, err
}

func (w *asteriskWorld) connected() bool {
	return w.drv != nil && w.drv.Connected() && w.s.Connected("vnum")
}

type ariPhone struct{ c *aritest.Call }

func (p ariPhone) Hangup()                         { p.c.Hangup() }
func (p ariPhone) Done() <-chan struct{}           { return p.c.Done() }
func (p ariPhone) Answered() bool                  { return p.c.Answered() }
func (p ariPhone) CallerID() (name, number string) { return p.c.CallerID() }
func (p ariPhone) Heard() []string {
	out := p.c.Tones()
	for _, m := range p.c.Played() {
		out = append(out, strings.TrimPrefix(m, "sound:"))
	}
	return out
}

func (w *asteriskWorld) inbound(did, number, name string) (phone, error) {
	c, err := w.s.Inbound(aritest.InboundCall{DID: did, CallerNumber: number, CallerName: name})
	if err != nil {
		return nil, err
	}
	return ariPhone{c}, nil
}

func ariEndpoint(t routing.Target) string {
	if t.IsSIP() {
		return "PJSIP/" + t.SIPURI
	}
	return strings.ReplaceAll(demoTrunk, "{e164}", t.E164)
}

func (w *asteriskWorld) target(t routing.Target, b behavior) {
	w.s.SetDestination(ariEndpoint(t), aritest.Behavior{AnswerAfter: b.answerAfter, HangupAfter: b.hangupAfter,
		Busy: b.busy, NoAnswer: b.noAnswer, RingEvent: true})
}

func (w *asteriskWorld) reached(t routing.Target) []phone {
	var out []phone
	for _, c := range w.s.CallsTo(ariEndpoint(t)) {
		out = append(out, ariPhone{c})
	}
	return out
}

func (w *asteriskWorld) recordings() []string { return w.s.Recordings() }
func (w *asteriskWorld) close()               { w.s.Close() }
