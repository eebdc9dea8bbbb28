package scenariotest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
	"github.com/vnum/vnum/routing/ivr"
)

// Conference scenarios. A room's callers each call the room's DID; a
// party's Room() is the PBX room it is in. The adapters' parties must
// also tell whether they are muted in their room (MutedParty), and their
// Heard() lists "enter-pin", "bad-pin", "room-full", "room-locked",
// "join-tone", "leave-tone" and "moh" (music on hold).

// MutedParty is a party that can tell whether its room hears it.
type MutedParty interface {
	Party
	Muted() bool
}

const roomName = "standup"

var pbxRoom = callflow.PBXRoom(roomName)

// conferenceScenarios are registered in Run.
var conferenceScenarios = []struct {
	name string
	f    func(t *testing.T, e *Env)
}{
	{"ConferencePINRightWrongThreeStrikes", confPIN},
	{"ConferenceModeratorReleasesWaitingCallers", confModerator},
	{"ConferenceFull", confFull},
	{"ConferenceMuteKickLockFromCLI", confMuteKick},
	{"ConferenceFromIVRRecorded", confIVRRecorded},
	{"ConferenceSurvivesRestart", confRestart},
	{"ConferenceWaitingCallerSurvivesRestart", confWaitingRestart},
}

func addRoom(t *testing.T, e *Env, r routing.Room) {
	t.Helper()
	r.Name = roomName
	if err := e.Store.AddRoom(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	addNumber(t, e, func(n *routing.Number) { n.Route.Targets, n.Route.Conference = nil, roomName })
}

// callRoom places a call from a distinct caller to the room's DID.
func callRoom(t *testing.T, e *Env, i int) Party {
	t.Helper()
	return e.PBX.Inbound(t, did, fmt.Sprintf("+3361234%04d", i), fmt.Sprintf("Caller %d", i))
}

func inRoom(t *testing.T, p Party, who string) {
	t.Helper()
	eventually(t, who+" in the room", func() bool { return p.Answered() && p.Room() == pbxRoom })
}

func count(p Party, what string) int {
	n := 0
	for _, h := range p.Heard() {
		if h == what {
			n++
		}
	}
	return n
}

// roster waits until the room's roster has n members.
func roster(t *testing.T, e *Env, n int) []routing.RoomMember {
	t.Helper()
	var out []routing.RoomMember
	eventually(t, fmt.Sprintf("%d member(s) in the roster", n), func() bool {
		out, _ = e.Store.Roster(context.Background(), roomName)
		return len(out) == n
	})
	return out
}

func confPIN(t *testing.T, e *Env) {
	addRoom(t, e, routing.Room{PIN: "1234", ModeratorPIN: "9876"})
	a := callRoom(t, e, 1)
	eventually(t, "the PIN asked", func() bool { return a.Answered() && heard(a, "enter-pin") })
	if a.Room() != "" {
		t.Fatal("a caller is in the room before the PIN")
	}
	a.Press("1234#")
	inRoom(t, a, "the caller with the right PIN")
	// One wrong PIN, then the right one.
	b := callRoom(t, e, 2)
	eventually(t, "the PIN asked", func() bool { return heard(b, "enter-pin") })
	b.Press("1111#")
	eventually(t, "the wrong PIN told", func() bool { return heard(b, "bad-pin") })
	if b.Room() != "" {
		t.Fatal("a wrong PIN let the caller in")
	}
	eventually(t, "the PIN asked again", func() bool { return count(b, "enter-pin") == 2 })
	b.Press("1234#")
	inRoom(t, b, "the caller after a wrong PIN")
	// Three wrong PINs: hung up, never in the room.
	c := callRoom(t, e, 3)
	for i := 1; i <= 3; i++ {
		eventually(t, fmt.Sprintf("PIN prompt %d", i), func() bool { return count(c, "enter-pin") == i })
		c.Press("0000#")
		eventually(t, fmt.Sprintf("bad PIN %d", i), func() bool { return count(c, "bad-pin") == i })
	}
	wait(t, c, "the caller after three wrong PINs")
	if n := count(c, "enter-pin"); n != 3 {
		t.Fatalf("asked %d times for the PIN, want 3", n)
	}
	members := roster(t, e, 2)
	if members[0].Moderator || members[1].Moderator {
		t.Fatalf("a participant PIN made a moderator: %+v", members)
	}
	a.Hangup()
	b.Hangup()
	wait(t, a, "a")
	wait(t, b, "b")
	roster(t, e, 0)
	noLiveCalls(t, e)
	recs := cdrs(t, e, 3)
	outcomes := map[string]int{}
	for _, r := range recs {
		outcomes[r.Outcome]++
	}
	if outcomes["answered"] != 2 || outcomes["rejected"] != 1 {
		t.Fatalf("CDR outcomes %v", outcomes)
	}
}

func confModerator(t *testing.T, e *Env) {
	addRoom(t, e, routing.Room{PIN: "1234", ModeratorPIN: "9876", WaitForModerator: true, EndWithModerator: true})
	var waiting []Party
	for i := 1; i <= 2; i++ {
		p := callRoom(t, e, i)
		eventually(t, "the PIN asked", func() bool { return heard(p, "enter-pin") })
		p.Press("1234#")
		eventually(t, "music on hold while the moderator is away", func() bool { return heard(p, "moh") })
		waiting = append(waiting, p)
	}
	roster(t, e, 2)
	time.Sleep(3 * callflow.RoomPoll)
	for _, p := range waiting {
		if p.Room() != "" {
			t.Fatal("a caller joined before the moderator")
		}
	}
	m := callRoom(t, e, 9)
	eventually(t, "the PIN asked", func() bool { return heard(m, "enter-pin") })
	m.Press("9876#")
	inRoom(t, m, "the moderator")
	for i, p := range waiting {
		inRoom(t, p, fmt.Sprintf("waiting caller %d after the moderator came", i+1))
	}
	if members := roster(t, e, 3); !members[2].Moderator {
		t.Fatalf("the moderator PIN made no moderator: %+v", members)
	}
	// The room ends with its moderator.
	m.Hangup()
	for i, p := range waiting {
		wait(t, p, fmt.Sprintf("caller %d after the moderator left", i+1))
	}
	roster(t, e, 0)
	noLiveCalls(t, e)
}

func confFull(t *testing.T, e *Env) {
	addRoom(t, e, routing.Room{MaxParticipants: 2})
	a := callRoom(t, e, 1)
	inRoom(t, a, "first caller")
	b := callRoom(t, e, 2)
	inRoom(t, b, "second caller")
	c := callRoom(t, e, 3)
	wait(t, c, "the caller of a full room")
	if !heard(c, "room-full") || c.Room() != "" {
		t.Fatalf("the caller of a full room heard %v", c.Heard())
	}
	roster(t, e, 2)
	// A place frees: the next caller gets in.
	b.Hangup()
	roster(t, e, 1)
	d := callRoom(t, e, 4)
	inRoom(t, d, "the caller after a place freed")
	a.Hangup()
	d.Hangup()
	roster(t, e, 0)
	noLiveCalls(t, e)
}

func confMuteKick(t *testing.T, e *Env) {
	addRoom(t, e, routing.Room{Announce: true})
	ctx := context.Background()
	a := callRoom(t, e, 1)
	inRoom(t, a, "first caller")
	roster(t, e, 1)
	b := callRoom(t, e, 2)
	inRoom(t, b, "second caller")
	eventually(t, "the first caller hears the second join", func() bool { return count(a, "join-tone") >= 2 })
	members := roster(t, e, 2)
	mb, ok := b.(MutedParty)
	if !ok {
		t.Fatal("the adapter's parties do not implement MutedParty")
	}
	if mb.Muted() {
		t.Fatal("muted before anyone asked")
	}
	if err := e.Store.MuteMember(ctx, roomName, members[1].ID, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second caller muted", mb.Muted)
	if err := e.Store.MuteMember(ctx, roomName, members[1].ID, false); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the second caller unmuted", func() bool { return !mb.Muted() })
	// Kick the first: hung up, the other hears the leave tone.
	if err := e.Store.KickMember(ctx, roomName, members[0].ID); err != nil {
		t.Fatal(err)
	}
	wait(t, a, "the kicked caller")
	eventually(t, "the leave tone", func() bool { return heard(b, "leave-tone") })
	roster(t, e, 1)
	// Locked: a new caller is turned away.
	if err := e.Store.LockRoom(ctx, roomName, true); err != nil {
		t.Fatal(err)
	}
	c := callRoom(t, e, 3)
	wait(t, c, "the caller of a locked room")
	if !heard(c, "room-locked") || c.Room() != "" {
		t.Fatalf("the caller of a locked room heard %v", c.Heard())
	}
	if err := e.Store.LockRoom(ctx, roomName, false); err != nil {
		t.Fatal(err)
	}
	d := callRoom(t, e, 4)
	inRoom(t, d, "a caller after the unlock")
	b.Hangup()
	d.Hangup()
	roster(t, e, 0)
	noLiveCalls(t, e)
	for _, r := range cdrs(t, e, 4) {
		if r.Outcome == "answered" && !strings.HasPrefix(r.Target, "room ") {
			t.Fatalf("CDR %+v", r)
		}
	}
}

const roomMenu = `start: main
menus:
  main:
    prompt: sound:vnum-welcome
    timeout: 2s
    options:
      "1": {forward: ["+33612345678"]}
      "3": {conference: standup}
`

// confIVRRecorded: an IVR option leads to a recorded room; the recording
// is stored with the first caller's call and listed.
func confIVRRecorded(t *testing.T, e *Env) {
	ctx := context.Background()
	addNumber(t, e)
	if err := e.Store.AddRoom(ctx, routing.Room{Name: roomName, Record: true}); err != nil {
		t.Fatal(err)
	}
	m, err := ivr.Parse([]byte(roomMenu), "FR")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Store.SetIVR(ctx, did, m); err != nil {
		t.Fatal(err)
	}
	a := callRoom(t, e, 1)
	eventually(t, "the menu", func() bool { return a.Answered() && heardLike(a, "vnum-welcome") })
	a.Press("3")
	inRoom(t, a, "the caller who pressed 3")
	b := callRoom(t, e, 2)
	eventually(t, "the menu", func() bool { return heardLike(b, "vnum-welcome") })
	b.Press("3")
	inRoom(t, b, "the second caller who pressed 3")
	if !heard(a, "recording-consent") || !heard(b, "recording-consent") {
		t.Fatalf("a recorded room's members must hear so: %v / %v", a.Heard(), b.Heard())
	}
	time.Sleep(1100 * time.Millisecond)
	a.Hangup()
	b.Hangup()
	roster(t, e, 0)
	var recs []routing.Recording
	eventually(t, "the room's recording listed", func() bool {
		recs, _ = e.Store.ListRecordings(ctx, did)
		return len(recs) == 1
	})
	if recs[0].Kind != "call" || recs[0].Name == "" {
		t.Fatalf("recording %+v", recs[0])
	}
	if len(e.PBX.Recordings()) == 0 {
		t.Fatal("the PBX holds no recording")
	}
	// The room itself was recorded (not the first member's leg, whose
	// recording would end when that member leaves).
	roomRecorded := false
	for _, r := range e.PBX.Requests() {
		roomRecorded = roomRecorded || strings.Contains(r, pbxRoom) && strings.Contains(strings.ToLower(r), "record")
	}
	if !roomRecorded {
		t.Fatal("no request recorded the room itself")
	}
	for _, r := range cdrs(t, e, 2) {
		if r.Outcome != "answered" || r.Target != "room "+roomName {
			t.Fatalf("CDR %+v", r)
		}
	}
}

// confRestart: vnumd restarts while two callers talk in a room; the new
// process adopts both: they stay in the room, an operator's mute still
// works, and when they leave the roster and the registry empty.
func confRestart(t *testing.T, e *Env) {
	addRoom(t, e, routing.Room{})
	a := callRoom(t, e, 1)
	inRoom(t, a, "first caller")
	b := callRoom(t, e, 2)
	inRoom(t, b, "second caller")
	members := roster(t, e, 2)
	eventually(t, "both registered in the room", func() bool {
		live, _ := e.Store.ListCalls(context.Background())
		return len(live) == 2 && live[0].Bridge == pbxRoom && live[1].Bridge == pbxRoom
	})
	e.Restart()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-a.Done():
		t.Fatal("the restart dropped the first caller")
	case <-b.Done():
		t.Fatal("the restart dropped the second caller")
	default:
	}
	if a.Room() != pbxRoom || b.Room() != pbxRoom {
		t.Fatalf("after the restart: rooms %q and %q", a.Room(), b.Room())
	}
	second := members[1]
	mb, ok := b.(MutedParty)
	if !ok {
		t.Fatal("the adapter's parties do not implement MutedParty")
	}
	if err := e.Store.MuteMember(context.Background(), roomName, second.ID, true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a member muted by the adopting process", func() bool {
		return mb.Muted() || a.(MutedParty).Muted()
	})
	a.Hangup()
	b.Hangup()
	roster(t, e, 0)
	noLiveCalls(t, e)
	if recs := cdrs(t, e, 2); recs[0].Outcome != "answered" || recs[1].Outcome != "answered" {
		t.Fatalf("CDRs after adoption: %+v", recs)
	}
}

// confWaitingRestart: vnumd restarts while an admitted caller waits for
// the moderator; the new process adopts it, and the moderator's arrival
// still lets it in.
func confWaitingRestart(t *testing.T, e *Env) {
	addRoom(t, e, routing.Room{PIN: "1234", ModeratorPIN: "9876", WaitForModerator: true})
	p := callRoom(t, e, 1)
	eventually(t, "the PIN asked", func() bool { return heard(p, "enter-pin") })
	p.Press("1234#")
	eventually(t, "music on hold while the moderator is away", func() bool { return heard(p, "moh") })
	roster(t, e, 1)
	e.Restart()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-p.Done():
		t.Fatal("the restart dropped a caller waiting for the moderator")
	default:
	}
	m := callRoom(t, e, 9)
	eventually(t, "the PIN asked", func() bool { return heard(m, "enter-pin") })
	m.Press("9876#")
	inRoom(t, m, "the moderator")
	inRoom(t, p, "the adopted waiting caller after the moderator came")
	p.Hangup()
	m.Hangup()
	roster(t, e, 0)
	noLiveCalls(t, e)
}
