package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// simulation is simulate's JSON output.
type simulation struct {
	Action      routing.Action `json:"action"`
	Reason      routing.Reason `json:"reason"`
	Detail      string         `json:"detail"`
	CallerID    string         `json:"caller_id"` // what the far end would see; "anonymous" for none
	CallerName  string         `json:"caller_name,omitempty"`
	Targets     []string       `json:"targets"`
	Strategy    string         `json:"strategy,omitempty"`
	RingTimeout string         `json:"ring_timeout,omitempty"`
	Record      bool           `json:"record"`
	Consent     bool           `json:"consent,omitempty"` // the recording is announced to both parties first
	Voicemail   bool           `json:"voicemail"`
	Reject      string         `json:"reject,omitempty"`
	Trace       []string       `json:"trace"`
	IVR         *ivrWalk       `json:"ivr,omitempty"` // the walk of --digits through the number's IVR
}

func simulateCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "simulate",
		Usage: "run the real routing decision for a call, read-only (takes no slot)",
		Flags: append(callFlags(), &cli.StringFlag{Name: "digits",
			Usage: "keys pressed in the number's IVR: 0-9 * #, \",\" a pause, T a timeout (e.g. 2,T,1)"}),
		Action: func(c *cli.Context) error {
			digits, err := parseDigits(c.String("digits"))
			if err != nil {
				return err
			}
			s, ctx, call, d, err := e.simulate(c, "simulate")
			if err != nil {
				return err
			}
			did, caller, at := call.DID, call.Caller, call.At
			out := simulation{Action: d.Action, Reason: d.Reason, Detail: d.Detail, Targets: []string{},
				Record: d.Record, Consent: d.Consent, Voicemail: d.Voicemail, Reject: string(d.Reject), Trace: d.Trace, Strategy: string(d.Strategy)}
			if d.Action == routing.ActionForward || d.Action == routing.ActionIVR {
				out.CallerID = d.CallerID.Number
				out.CallerName = d.CallerID.Name
				if d.CallerID.Anonymous {
					out.CallerID = routing.Anonymous
				}
				out.RingTimeout = d.RingTimeout.String()
			}
			for _, t := range d.Targets {
				out.Targets = append(out.Targets, t.String())
			}
			if d.Action == routing.ActionIVR {
				m, err := s.GetIVR(ctx, did)
				if err != nil {
					return err
				}
				w := walkIVR(m, digits)
				out.IVR = &w
			}
			if e.json {
				return e.printJSON(out)
			}
			w := e.out
			fmt.Fprintf(w, "call %s -> %s at %s\n", caller, did, at.Format(time.RFC3339))
			fmt.Fprintf(w, "decision  %s (%s)\n", d.Action, d.Reason)
			fmt.Fprintf(w, "why       %s\n", d.Detail)
			switch d.Action {
			case routing.ActionForward:
				fmt.Fprintf(w, "targets   %s (%s, ring %s)\n", strings.Join(out.Targets, ", "), d.Strategy, d.RingTimeout)
				fmt.Fprintf(w, "caller id %s\n", out.CallerID)
				fmt.Fprintf(w, "record    %v (announced first: %v), voicemail if unanswered %v\n", d.Record, d.Consent, d.Voicemail)
			case routing.ActionReject, routing.ActionUnknown:
				fmt.Fprintf(w, "caller    hears %s\n", d.Reject)
			case routing.ActionIVR:
				fmt.Fprintf(w, "caller id %s (when the IVR forwards; ring %s)\n", out.CallerID, d.RingTimeout)
				printWalk(w, *out.IVR)
			}
			if d.Action != routing.ActionIVR && digits != "" {
				fmt.Fprintf(w, "ivr       none: the call is not answered by an IVR, --digits unused\n")
			}
			fmt.Fprintln(w, "trace:")
			for _, t := range d.Trace {
				fmt.Fprintf(w, "  - %s\n", t)
			}
			return nil
		},
	}
}

// callFlags are the flags of the commands that run a decision for a
// hypothetical call (simulate, why).
func callFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "to", Required: true, Usage: "the DID called"},
		&cli.StringFlag{Name: "from", Required: true, Usage: "the caller's number, or anonymous"},
		&cli.StringFlag{Name: "at", Usage: "when (RFC 3339; default now)"},
	}
}

// callArgs reads callFlags into the call to decide, with its trace.
func (e *env) callArgs(c *cli.Context, id string) (routing.Call, error) {
	did, err := routing.ParseE164(c.String("to"), e.region)
	if err != nil {
		return routing.Call{}, badValue("--to: %v", err)
	}
	caller := routing.Anonymous
	if from := c.String("from"); !strings.EqualFold(from, routing.Anonymous) {
		if caller, err = routing.ParseE164(from, e.region); err != nil {
			return routing.Call{}, badValue("--from: %v (or the word anonymous)", err)
		}
	}
	at := time.Now()
	if v := c.String("at"); v != "" {
		if at, err = time.Parse(time.RFC3339, v); err != nil {
			return routing.Call{}, badValue("--at %q: want an RFC 3339 time such as 2026-11-25T10:30:00+01:00", v)
		}
	}
	return routing.Call{ID: id, DID: did, Caller: caller, At: at, Trace: true}, nil
}

// simulate reads callFlags, opens the store and runs the decision
// read-only, with its trace.
func (e *env) simulate(c *cli.Context, id string) (*redisstore.Store, context.Context, routing.Call, routing.Decision, error) {
	call, err := e.callArgs(c, id)
	if err != nil {
		return nil, nil, call, routing.Decision{}, err
	}
	s, ctx, err := e.open(c)
	if err != nil {
		return nil, nil, call, routing.Decision{}, err
	}
	d, err := s.Simulate(ctx, call)
	return s, ctx, call, d, err
}
