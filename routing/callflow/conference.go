package callflow

import (
	"context"
	"crypto/subtle"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/vnum/vnum/routing"
)

// Conference rooms. Each caller of a room is a vnum call of its own (its
// own flow goroutine); the callers meet in one PBX room named
// PBXRoom(name) (Asterisk: a mixing bridge; FreeSWITCH: a mod_conference
// room). The room's settings and live roster are in the store; the
// roster is the only thing the callers' flows share:
//
//   - a room lives on one node: the first caller takes the room's host
//     lock; a caller reaching another node while the room is hosted is
//     told "the conference is locked" (PromptRoomLocked) and hung up, with
//     a log line naming the hosting node. When the room empties, the lock
//     is freed and any node may host it next;
//   - the size and lock checks and the member id are one atomic step in
//     the store; moderators may enter a locked room, never a full one;
//   - every member's flow reads the roster every RoomPoll: it joins when
//     a moderator is in (wait for the moderator: music on hold until
//     then), applies vnumctl's mute/unmute, hangs up when kicked, and
//     hangs up when the last moderator left a room that ends with its
//     moderator. vnumctl only writes intents to the roster: whichever
//     node hosts the room applies them within RoomPoll.

// Room timings.
const (
	// RoomPoll is how often a member's flow reads its room's roster.
	RoomPoll = 200 * time.Millisecond
	// RoomLease is how long a member (and a room's host lock) stays
	// without a refresh: a dead node's callers leave the roster after it.
	RoomLease = 30 * time.Second
	// roomRefresh is how often a member refreshes its lease.
	roomRefresh = 5 * time.Second
	// maxPINTries wrong PINs end the call.
	maxPINTries = 3
	// pinFirstKey and pinNextKey bound the wait for the first and each
	// next key of a PIN ('#' ends it at once).
	pinFirstKey = 8 * time.Second
	pinNextKey  = 4 * time.Second
)

// stateConference: the caller is in (or waiting for) a conference room.
const stateConference = "conference"

// PBXRoom names a conference room on the PBX.
func PBXRoom(name string) string { return "vnum-conf-" + name }

// ConferenceStore is what conference rooms need of the store
// (routing/redisstore implements it). An engine whose store lacks it
// answers room calls with the not-in-service announcement.
type ConferenceStore interface {
	GetRoom(ctx context.Context, name string) (routing.Room, error)
	ClaimRoom(ctx context.Context, name, node string, ttl time.Duration) (string, error)
	JoinRoom(ctx context.Context, name string, m routing.RoomMember, ttl time.Duration) (routing.RoomMember, error)
	TouchMember(ctx context.Context, name, id string, joined time.Time, ttl time.Duration) (bool, error)
	LeaveRoom(ctx context.Context, name, id, node string) (int, error)
	RestoreMember(ctx context.Context, name string, m routing.RoomMember, ttl time.Duration) error
	Roster(ctx context.Context, name string) ([]routing.RoomMember, error)
}

// errBadPIN: three wrong PINs.
var errBadPIN = errors.New("wrong conference PIN three times")

// conferenceRoom runs a caller of room name: PIN, host, roster, wait for
// the moderator, the room, leaving.
func (c *call) conferenceRoom(name string) error {
	log := c.log.With("room", name)
	cs, ok := c.e.o.Store.(ConferenceStore)
	if !ok {
		log.Warn("the store has no conference rooms: not in service")
		c.outcome, c.hangupBy = "failed", "system"
		return c.announce(PromptNotInService)
	}
	ctx, cancel := c.storeCtx()
	room, err := cs.GetRoom(ctx, name)
	cancel()
	if errors.Is(err, routing.ErrNoSuchRoom) {
		log.Warn("no such conference room: not in service")
		c.outcome, c.hangupBy = "rejected", "system"
		return c.announce(PromptNotInService)
	}
	if err != nil {
		c.e.m.storeErrors.Inc()
		log.Warn("conference room unreadable: the caller gets congestion", "err", err)
		c.outcome, c.hangupBy = "failed", "system"
		return c.hangupIn(CauseCongestion)
	}
	if err := c.answerIn(); err != nil {
		return err
	}
	c.outcome = "abandoned" // until the caller is in the room: answered, never connected
	c.target = "room " + name
	c.setLive(func(l *routing.LiveCall) { l.State, l.Target = stateConference, c.target })
	moderator := false
	if room.HasPIN() {
		moderator, err = c.askPIN(room)
		if errors.Is(err, errBadPIN) {
			log.Info("three wrong conference PINs: hanging up")
			c.outcome, c.hangupBy = "rejected", "system"
			return c.hangupIn(CauseNormal)
		}
		if err != nil {
			if c.outcome == "" {
				c.outcome = "abandoned"
			}
			return err
		}
	}
	node := c.e.o.Node
	ctx, cancel = c.storeCtx()
	host, err := cs.ClaimRoom(ctx, name, node, RoomLease)
	cancel()
	if err != nil {
		c.e.m.storeErrors.Inc()
		log.Warn("conference room host lock: the caller gets congestion", "err", err)
		c.outcome, c.hangupBy = "failed", "system"
		return c.hangupIn(CauseCongestion)
	}
	if host != node {
		log.Warn("conference room is hosted by another node: this caller cannot join here (route the room's DID to that node)", "host", host)
		return c.refuseRoom(PromptRoomLocked)
	}
	ctx, cancel = c.storeCtx()
	m, err := cs.JoinRoom(ctx, name, routing.RoomMember{CallID: c.id, Node: node, Leg: string(c.in.Leg), Moderator: moderator}, RoomLease)
	cancel()
	if err != nil {
		// The room may be empty and was just claimed: free it again.
		ctx, cancel := c.storeCtx()
		_, _ = cs.LeaveRoom(ctx, name, "", node)
		cancel()
	}
	switch {
	case errors.Is(err, routing.ErrRoomFull):
		log.Info("conference room full")
		return c.refuseRoom(PromptRoomFull)
	case errors.Is(err, routing.ErrRoomLocked):
		log.Info("conference room locked")
		return c.refuseRoom(PromptRoomLocked)
	case errors.Is(err, routing.ErrNoSuchRoom):
		c.outcome, c.hangupBy = "rejected", "system"
		return c.announce(PromptNotInService)
	case err != nil:
		c.e.m.storeErrors.Inc()
		log.Warn("conference roster: the caller gets congestion", "err", err)
		c.outcome, c.hangupBy = "failed", "system"
		return c.hangupIn(CauseCongestion)
	}
	r := &roomCall{c: c, cs: cs, room: room, me: m, log: log.With("member", m.ID), pbxRoom: PBXRoom(name)}
	defer r.leave()
	return r.run()
}

// refuseRoom tells an answered caller why not, and hangs up.
func (c *call) refuseRoom(p Prompt) error {
	c.outcome, c.hangupBy = "rejected", "system"
	if err := c.play(p); err != nil {
		return err
	}
	return c.hangupIn(CauseNormal)
}

// askPIN asks for the room's PIN until it is right (moderator reports
// which one), three times at most (errBadPIN). With only a moderator PIN
// set, entering nothing (or just '#') joins as a participant.
func (c *call) askPIN(room routing.Room) (moderator bool, err error) {
	same := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	for strike := 1; ; strike++ {
		digits, err := c.collectPIN()
		if err != nil {
			return false, err
		}
		switch {
		case room.ModeratorPIN != "" && same(digits, room.ModeratorPIN):
			return true, nil
		case room.PIN != "" && same(digits, room.PIN):
			return false, nil
		case room.PIN == "" && digits == "":
			return false, nil
		}
		c.log.Info("wrong conference PIN", "strike", strike) // never the digits
		if err := c.play(PromptBadPIN); err != nil {
			return false, err
		}
		if strike >= maxPINTries {
			return false, errBadPIN
		}
	}
}

// collectPIN plays the PIN prompt (a key stops it) and collects keys
// until '#', routing.MaxPIN+1 keys, or a pause.
func (c *call) collectPIN() (string, error) {
	digits := ""
	if err := c.playIn(PromptEnterPIN, &digits); err != nil {
		return "", err
	}
	digits, err := c.collectKeys(digits, pinFirstKey, pinNextKey, func(d string) bool {
		return strings.HasSuffix(d, "#") || len(d) > routing.MaxPIN // too long: wrong whatever follows
	})
	return strings.TrimSuffix(digits, "#"), err
}

// roomCall is one member of a room, from its entry in the roster to its
// leaving.
type roomCall struct {
	c       *call
	cs      ConferenceStore
	room    routing.Room
	me      routing.RoomMember
	log     *slog.Logger
	pbxRoom string

	joined  bool // in the PBX room
	moh     bool
	muted   bool // as applied on the PBX
	modSeen bool // a moderator was in the room since this member came
	modGone int  // polls in a row without a moderator since
}

// moderatorGonePolls: a room that ends with its moderator ends after this
// many polls in a row without one (not on one read: after a store outage
// the moderator's call puts itself back within a poll).
const moderatorGonePolls = 3

func (r *roomCall) logw(msg string, args ...any) { r.log.Warn(msg, args...) }

// run keeps the member in the room until it leaves, is kicked, or the
// room ends.
func (r *roomCall) run() error {
	c := r.c
	waiting := r.room.WaitForModerator && !r.me.Moderator && !r.joined // adopted members are in the room already
	if waiting {
		roster, err := r.roster()
		if err == nil && moderatorIn(roster) {
			waiting = false
		}
	}
	if waiting {
		r.log.Info("waiting for the moderator")
		if err := c.pbx(func(ctx context.Context) error { return c.e.o.PBX.MusicOnHold(ctx, c.in.Leg, true) }); err != nil {
			r.logw("music on hold", "err", err) // silence then: the caller still waits
		} else {
			r.moh = true
		}
	} else if !r.joined {
		if err := r.join(nil); err != nil {
			return err
		}
	}
	tick := time.NewTicker(RoomPoll)
	defer tick.Stop()
	touched := time.Now()
	for {
		ev, ok := c.waitEvent(tick.C)
		if ok {
			switch {
			case ev.Kind == evDetach:
				return errDetached
			case ev.Kind == EvHangup && ev.Leg == c.in.Leg:
				c.hangupBy, c.ended = "caller", time.Now()
				return nil
			case ev.Kind == EvHangup && ev.Leg == "":
				c.hangupBy, c.ended = "operator", time.Now()
				return c.hangupIn(CauseNormal)
			}
			continue
		}
		if time.Since(touched) >= roomRefresh {
			touched = time.Now()
			r.refresh()
		}
		roster, err := r.roster()
		if err != nil {
			continue // the store blinked: the room goes on
		}
		me, found := memberOf(roster, r.me.ID)
		if !found {
			// The store lost it (an outage longer than the lease, a
			// failover): the caller is still here, so back it goes.
			r.logw("missing from the room's roster: registering again")
			r.restore()
			continue
		}
		if me.Kicked {
			r.log.Info("kicked by an operator")
			c.hangupBy, c.ended = "operator", time.Now()
			return c.hangupIn(CauseNormal)
		}
		modIn := moderatorIn(roster)
		if waiting && modIn {
			waiting = false
			if err := r.join(roster); err != nil {
				return err
			}
		}
		if r.joined && me.Muted != r.muted {
			on := me.Muted
			if err := c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Mute(ctx, r.pbxRoom, c.in.Leg, on) }); err != nil {
				r.logw("mute", "on", on, "err", err)
			} else {
				r.muted = on
				r.log.Info("mute applied", "on", on)
			}
		}
		switch {
		case modIn:
			r.modSeen, r.modGone = true, 0
		case r.modSeen:
			r.modGone++
		}
		if r.room.EndWithModerator && !r.me.Moderator && r.modGone >= moderatorGonePolls {
			r.log.Info("the moderator left: the room ends")
			c.hangupBy, c.ended = "system", time.Now()
			return c.hangupIn(CauseNormal)
		}
	}
}

// join puts the member's leg in the PBX room.
func (r *roomCall) join(roster []routing.RoomMember) error {
	c := r.c
	if r.moh {
		_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.MusicOnHold(ctx, c.in.Leg, false) })
		r.moh = false
	}
	if roster == nil {
		roster, _ = r.roster()
	}
	first := true // nobody else in the PBX room yet
	for _, m := range roster {
		if m.ID != r.me.ID && !m.Joined.IsZero() {
			first = false
		}
	}
	if r.room.Record {
		// The room is recorded: every member hears so before entering.
		if err := c.play(PromptConsent); err != nil {
			return err
		}
	}
	if err := c.pbx(func(ctx context.Context) error { return c.e.o.PBX.Join(ctx, r.pbxRoom, c.in.Leg) }); err != nil {
		r.logw("join the PBX room", "err", err)
		c.outcome, c.hangupBy = "failed", "system"
		return c.hangupIn(CauseCongestion)
	}
	r.joined = true
	c.answered, c.outcome = time.Now(), "answered"
	c.mu.Lock()
	c.live.Bridge = r.pbxRoom // owned: reconciliation leaves the room alone
	c.mu.Unlock()
	ctx, cancel := c.storeCtx()
	_, _ = r.cs.TouchMember(ctx, r.room.Name, r.me.ID, c.answered, RoomLease)
	cancel()
	if r.room.Announce {
		if err := c.pbx(func(ctx context.Context) error { return c.e.o.PBX.PlayRoom(ctx, r.pbxRoom, PromptJoinTone) }); err != nil {
			r.logw("join tone", "err", err)
		}
	}
	if r.room.Record && first {
		if err := c.pbx(func(ctx context.Context) error {
			var err error
			c.recording, err = c.e.o.PBX.RecordCall(ctx, c.id, r.pbxRoom, "") // the room, not this member's leg
			return err
		}); err != nil {
			r.logw("record the room", "err", err)
		}
	}
	c.e.m.setup.Observe(time.Since(c.in.At).Seconds())
	c.setLive(func(l *routing.LiveCall) {
		l.State, l.Bridge, l.Answered, l.Target, l.Record = stateConference, r.pbxRoom, c.answered.UTC(), c.target, c.recording
	})
	c.notify("conference.joined", map[string]any{"room": r.room.Name, "member": r.me.ID, "moderator": r.me.Moderator})
	r.log.Info("joined the room", "moderator", r.me.Moderator)
	return nil
}

// leave takes the member out of the roster; the room hears the leave
// tone, and the last one out removes the PBX room.
func (r *roomCall) leave() {
	c := r.c
	select {
	case <-c.e.detach:
		return // the process lets go of its calls: the next one adopts this member as it is
	default:
	}
	if c.ended.IsZero() {
		c.ended = time.Now()
	}
	ctx, cancel := c.storeCtx()
	left, err := r.cs.LeaveRoom(ctx, r.room.Name, r.me.ID, c.e.o.Node)
	cancel()
	if err != nil {
		c.e.m.storeErrors.Inc()
		r.logw("leave the roster (the member's lease ends it)", "err", err)
		return
	}
	if r.joined && left > 0 && r.room.Announce {
		_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.PlayRoom(ctx, r.pbxRoom, PromptLeaveTone) })
	}
	if r.joined && left == 0 {
		_ = c.pbx(func(ctx context.Context) error { return c.e.o.PBX.DestroyBridge(ctx, r.pbxRoom) })
	}
	if r.joined {
		c.notify("conference.left", map[string]any{"room": r.room.Name, "member": r.me.ID})
	}
}

// refresh renews the member's lease and the room's host lock.
func (r *roomCall) refresh() {
	c := r.c
	ctx, cancel := c.storeCtx()
	defer cancel()
	if _, err := r.cs.TouchMember(ctx, r.room.Name, r.me.ID, time.Time{}, RoomLease); err != nil {
		c.e.m.storeErrors.Inc()
		return
	}
	if host, err := r.cs.ClaimRoom(ctx, r.room.Name, c.e.o.Node, RoomLease); err == nil && host != c.e.o.Node {
		r.logw("another node took the room's host lock", "host", host)
	}
}

// restore puts the member back in the roster as it is.
func (r *roomCall) restore() {
	c := r.c
	m := r.me
	m.Muted = r.muted
	if r.joined {
		m.Joined = c.answered
	}
	ctx, cancel := c.storeCtx()
	defer cancel()
	if err := r.cs.RestoreMember(ctx, r.room.Name, m, RoomLease); err != nil {
		c.e.m.storeErrors.Inc()
	}
}

func (r *roomCall) roster() ([]routing.RoomMember, error) {
	ctx, cancel := r.c.storeCtx()
	defer cancel()
	return r.cs.Roster(ctx, r.room.Name)
}

// moderatorIn reports a moderator in the PBX room.
func moderatorIn(roster []routing.RoomMember) bool {
	for _, m := range roster {
		if m.Moderator && !m.Joined.IsZero() {
			return true
		}
	}
	return false
}

func memberOf(roster []routing.RoomMember, id string) (routing.RoomMember, bool) {
	for _, m := range roster {
		if m.ID == id {
			return m, true
		}
	}
	return routing.RoomMember{}, false
}

// adoptRoom resumes a conference member after a restart: the caller is
// in the PBX room (joined) or was admitted and waits for the moderator;
// the roster entry is found again by call id. A member in the room whose
// entry lapsed registers again (without moderator rights); a caller not
// in the room without an entry had not been admitted (e.g. was typing the
// PIN) and is hung up.
func (c *call) adoptRoom(pbxRoom string, joined bool) {
	name := strings.TrimPrefix(pbxRoom, PBXRoom(""))
	log := c.log.With("room", name)
	cs, ok := c.e.o.Store.(ConferenceStore)
	if !ok {
		_ = c.hangupIn(CauseNormal)
		return
	}
	ctx, cancel := c.storeCtx()
	room, err := cs.GetRoom(ctx, name)
	var roster []routing.RoomMember
	if err == nil {
		roster, err = cs.Roster(ctx, name)
	}
	cancel()
	if err != nil {
		log.Warn("adopted conference member: room unreadable, hanging up", "err", err)
		c.hangupBy = "system"
		_ = c.hangupIn(CauseNormal)
		return
	}
	me, found := routing.RoomMember{}, false
	for _, m := range roster {
		if m.CallID == c.id {
			me, found = m, true
		}
	}
	if !found && !joined {
		log.Info("adopted a room caller who had not been admitted: hanging up")
		c.hangupBy = "system"
		_ = c.hangupIn(CauseNormal)
		return
	}
	if !found {
		ctx, cancel := c.storeCtx()
		me, err = cs.JoinRoom(ctx, name, routing.RoomMember{CallID: c.id, Node: c.e.o.Node, Leg: string(c.in.Leg), Joined: c.answered}, RoomLease)
		cancel()
		if err != nil {
			log.Warn("adopted conference member: roster refused it, hanging up", "err", err)
			c.hangupBy = "system"
			_ = c.hangupIn(CauseNormal)
			return
		}
	}
	c.inUp = true
	// muted starts as the opposite of the roster's wish, so that the first
	// poll applies it (an operator's mute may have come during the
	// restart); the PBX takes a repeated mute as a no-op.
	r := &roomCall{c: c, cs: cs, room: room, me: me, log: log.With("member", me.ID), pbxRoom: pbxRoom, joined: joined, muted: !me.Muted}
	defer r.leave()
	_ = r.run()
}
