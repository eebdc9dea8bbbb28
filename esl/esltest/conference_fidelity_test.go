package esltest_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/esl/esltest"
)

// confEvents reduces a stream to its events, conference events with
// their action, member id and room size, each channel by order of first
// appearance (BACKGROUND_JOBs of the other connection left out).
func confEvents(t *testing.T, frames []*eslconn.Frame) []string {
	t.Helper()
	roles := map[string]string{}
	role := func(id string) string {
		if id == "" {
			return "-"
		}
		if r, ok := roles[id]; ok {
			return r
		}
		roles[id] = fmt.Sprintf("L%d", len(roles)+1)
		return roles[id]
	}
	var out []string
	for _, f := range frames {
		ct := f.ContentType()
		if ct != eslconn.TypeEventJSON && ct != eslconn.TypeEventPlain {
			continue
		}
		ev, err := eslconn.ParseEvent(f)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Name == "BACKGROUND_JOB" {
			continue
		}
		h := ev.Headers
		s := ev.Name + " " + role(h["Unique-ID"])
		if ev.Name == "CUSTOM" {
			s += fmt.Sprintf(" %s %s room=%s size=%s member=%s floor=%s old=%s new=%s", h["Event-Subclass"], h["Action"],
				h["Conference-Name"], h["Conference-Size"], h["Member-ID"], h["Floor"], h["Old-ID"], h["New-ID"])
		}
		s += " cause=" + h["Hangup-Cause"]
		out = append(out, s)
	}
	return out
}

// TestFidelityConference replays fixture e_conference: three callers
// join room 3000 one after the other; a monitor (conn2, plain events)
// lists the room, mutes and unmutes member 2, counts the members and
// lists the rooms (api and bgapi); the callers hang up in the order they
// came. conn1 (json) sees the conference::maintenance events. Compared:
// every reply of conn2 and its events as in TestFidelityInboundCalls, and
// conn1's event sequence with each conference event's action, member id,
// room size, floor and Old-ID/New-ID.
func TestFidelityConference(t *testing.T) {
	cmds1, want1 := load(t, "e_conference.conn1")
	cmds2, want2 := load(t, "e_conference.conn2")
	s := newLab(t)
	rc1, rc2 := rawDial(t, s), rawDial(t, s)
	for _, rc := range []*rawConn{rc1, rc2} {
		rc.until(func(f *eslconn.Frame) bool { return f.ContentType() == eslconn.TypeAuthRequest })
	}
	for i, rc := range []*rawConn{rc1, rc2} {
		cmds := [][]string{cmds1, cmds2}[i]
		rc.send(cmds[0] + "\n\n")
		rc.until(isReply)
		rc.send(cmds[1] + "\n\n")
		rc.until(isReply)
	}
	send2 := func(c string) {
		rc2.send(c + "\n\n")
		rc2.until(isReply)
		if strings.HasPrefix(c, "bgapi") {
			rc2.until(isEvent("BACKGROUND_JOB", ""))
		}
	}
	send2(cmds2[2]) // api status
	send2(cmds2[3]) // bgapi version
	var calls []*esltest.Call
	for range 3 {
		c, err := s.Inbound(esltest.InboundCall{DID: "3000", CallerNumber: "15550009999", CallerName: "Carrier Caller",
			Conference: "3000@default"})
		if err != nil {
			t.Fatal(err)
		}
		rc1.until(isConfEvent("add-member", c.UUID()))
		calls = append(calls, c)
	}
	for _, c := range cmds2[4 : len(cmds2)-1] {
		send2(c)
	}
	for _, c := range calls {
		if err := c.Hangup(""); err != nil {
			t.Fatal(err)
		}
		rc1.until(isEvent("CHANNEL_HANGUP_COMPLETE", c.UUID()))
	}
	rc1.until(isConfEvent("conference-destroy", ""))
	rc2.until(isConfEvent("conference-destroy", ""))
	rc2.send(cmds2[len(cmds2)-1] + "\n\n")
	rc2.until(nil)
	rc1.send(cmds1[len(cmds1)-1] + "\n\n")
	rc1.until(nil)

	t.Run("conn2_monitor", func(t *testing.T) {
		compare(t, reduce(t, want2, true), reduce(t, rc2.all, true))
	})
	t.Run("conn1_events", func(t *testing.T) {
		w, g := confEvents(t, want1), confEvents(t, rc1.all)
		if len(w) < 20 {
			t.Fatalf("only %d events in the capture", len(w))
		}
		n := max(len(w), len(g))
		for i := range n {
			var a, b string
			if i < len(w) {
				a = w[i]
			}
			if i < len(g) {
				b = g[i]
			}
			if a != b {
				t.Errorf("event %d:\n FS:  %s\n EMU: %s", i, a, b)
			}
		}
	})
	if inj := s.Injected(); len(inj) != 0 {
		t.Errorf("well-formed commands flagged: %q", inj)
	}
	if n := len(s.Conferences()); n != 0 {
		t.Errorf("%d rooms left after everybody hung up", n)
	}
}

func isConfEvent(action, uuid string) func(*eslconn.Frame) bool {
	return func(f *eslconn.Frame) bool {
		ev, err := eslconn.ParseEvent(f)
		return err == nil && ev.Name == "CUSTOM" && ev.Headers["Action"] == action && (uuid == "" || ev.Headers["Unique-ID"] == uuid)
	}
}
