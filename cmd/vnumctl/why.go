package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// explanation is why's JSON output.
type explanation struct {
	Verdict string         `json:"verdict"`
	Action  routing.Action `json:"action"`
	Reason  routing.Reason `json:"reason"`
	Detail  string         `json:"detail"`
	Trace   []string       `json:"trace"`
}

func whyCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "why",
		Usage: "explain in words what happens to a call and why (the real decision, read-only)",
		Flags: callFlags(),
		Action: func(c *cli.Context) error {
			s, ctx, call, d, err := e.simulate(c, "why")
			if err != nil {
				return err
			}
			did, caller, at := call.DID, call.Caller, call.At
			v := verdict(d, did)
			if d.Action == routing.ActionUnknown {
				// A released number: say where it is.
				pool, freeAt, qerr := s.QuarantineOf(ctx, did)
				switch {
				case qerr == nil:
					v = fmt.Sprintf("NOT IN SERVICE: %s was released and is in quarantine in pool %s until %s, the caller hears %s",
						did, pool, freeAt.Format(time.RFC3339), hears(d.Reject))
				case !errors.Is(qerr, redisstore.ErrNotFound):
					return qerr
				}
			}
			if e.json {
				tr := d.Trace
				if tr == nil {
					tr = []string{}
				}
				return e.printJSON(explanation{Verdict: v, Action: d.Action, Reason: d.Reason, Detail: d.Detail, Trace: tr})
			}
			w := e.out
			fmt.Fprintln(w, v)
			fmt.Fprintf(w, "call from %s to %s at %s\n", caller, did, at.Format(time.RFC3339))
			fmt.Fprintln(w, "how the decision was reached:")
			for i, t := range d.Trace {
				fmt.Fprintf(w, "  %d. %s\n", i+1, t)
			}
			_, err = fmt.Fprintf(w, "rule: %s (%s)\n", d.Reason, d.Detail)
			return err
		},
	}
}

// verdict says in one line what the caller experiences and why.
func verdict(d routing.Decision, did string) string {
	var why string
	switch d.Reason {
	case routing.ReasonForward, routing.ReasonForwardScheduled:
		return forwarded(d, did)
	case routing.ReasonUnknownNumber:
		why = d.Detail
	case routing.ReasonExpired, routing.ReasonNotActive:
		why = "the " + d.Detail
	case routing.ReasonStoreDown:
		return "UNAVAILABLE: the routing store cannot be reached; vnumd's fallback (--fallback) decides the call"
	case routing.ReasonBlockedNumber:
		why = "the caller is on the number's blocklist" + entryNote(d.Detail)
	case routing.ReasonBlockedGlobal:
		why = "the caller is on the global blocklist" + entryNote(d.Detail)
	case routing.ReasonNotAllowlisted:
		why = "the number takes calls only from its allowlist and the caller is not on it"
	case routing.ReasonScheduleReject, routing.ReasonScheduleVM:
		if rest, ok := strings.CutPrefix(d.Detail, "schedule "); ok {
			why = "the schedule rule " + rest + " applies at this time"
		} else {
			why = strings.TrimPrefix(d.Detail, "the number's ")
			why = "the number's " + why
		}
	case routing.ReasonRouteVoicemail:
		why = d.Detail
		if !strings.HasPrefix(why, "the ") {
			why = "the " + why
		}
	case routing.ReasonCountryDenied:
		why = "no forwarding target is in a country the number may call"
	case routing.ReasonDailyMinutes, routing.ReasonConcurrency:
		why = "the number's " + strings.TrimSuffix(d.Detail, "; voicemail instead")
	default:
		why = d.Detail
	}
	switch d.Action {
	case routing.ActionVoicemail:
		return "VOICEMAIL: " + why + ", the caller may leave a message"
	case routing.ActionUnknown:
		return "NOT IN SERVICE: " + why + ", the caller hears " + hears(d.Reject)
	case routing.ActionReject:
		if d.Reason == routing.ReasonExpired || d.Reason == routing.ReasonNotActive {
			return "NOT IN SERVICE: " + why + ", the caller hears " + hears(d.Reject)
		}
		return "REJECTED: " + why + ", they hear " + hears(d.Reject)
	}
	return strings.ToUpper(string(d.Action)) + ": " + why
}

func forwarded(d routing.Decision, did string) string {
	ts := make([]string, len(d.Targets))
	for i, t := range d.Targets {
		ts[i] = t.String()
	}
	var b strings.Builder
	b.WriteString("FORWARDED to " + strings.Join(ts, ", "))
	if len(ts) > 1 {
		if d.Strategy == routing.Simultaneous {
			b.WriteString(" (all at once)")
		} else {
			b.WriteString(" (one after the other)")
		}
	}
	switch {
	case d.CallerID.Anonymous:
		b.WriteString(", showing no number (anonymous)")
	case d.CallerID.Number == did:
		b.WriteString(", showing the DID " + did)
	default:
		b.WriteString(", showing the caller's own number " + d.CallerID.Number)
	}
	if d.Reason == routing.ReasonForwardScheduled {
		b.WriteString(", by a schedule rule")
	}
	if d.Record {
		b.WriteString(", recorded")
		if d.Consent {
			b.WriteString(" (announced to both parties first)")
		}
	}
	if d.Voicemail {
		b.WriteString(", voicemail if nobody answers")
	}
	return b.String()
}

// entryNote reads the reason and expiry of a block entry from the
// decision's detail ("number blocklist entry +44* (spam) until T").
func entryNote(detail string) string {
	_, rest, ok := strings.Cut(detail, "blocklist entry ")
	if !ok {
		return ""
	}
	_, rest, _ = strings.Cut(rest, " ") // the pattern
	var until string
	if i := strings.LastIndex(rest, " until "); i >= 0 {
		if _, err := time.Parse(time.RFC3339, rest[i+len(" until "):]); err == nil {
			until, rest = rest[i+len(" until "):], rest[:i]
		}
	} else if u, ok := strings.CutPrefix(rest, "until "); ok {
		until, rest = u, ""
	}
	reason := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(rest), "("), ")")
	var parts []string
	if reason != "" {
		parts = append(parts, reason)
	}
	if until != "" {
		parts = append(parts, "until "+until)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// hears names what a rejected caller hears.
func hears(m routing.RejectMode) string {
	switch m {
	case routing.RejectCongestion:
		return "congestion"
	case routing.RejectNotInService:
		return "that the number is not in service"
	}
	return "busy"
}
