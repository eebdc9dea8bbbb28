package esltest

import (
	"encoding/xml"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// mod_conference, as fixture e_conference shows it to an ESL client:
// a room is created by its first member (CUSTOM conference::maintenance
// conference-create, add-member, floor-change) and destroyed after its
// last member's CHANNEL_HANGUP_COMPLETE (conference-destroy). A member
// that hangs up gives CHANNEL_HANGUP, (floor-change if it held the
// floor), del-member, CHANNEL_HANGUP_COMPLETE, then the floor passes to
// the newest member. The API answers `conference list`, `conference
// <room> list [count]`, `mute`/`unmute` as in the capture; `xml_list`
// follows conference_xlist in mod_conference's source; `hup` and the
// "not found" texts are best guesses (not in the captures).

// conference is one mod_conference room.
type conference struct {
	name, profile, uuid string
	members             []*member // join order
	nextID              int
	floor               *member
	created             time.Time
}

// member is one channel in a room.
type member struct {
	id     int
	ch     *channel
	muted  bool
	inline bool // joined through an inline transfer: the channel hangs up when it leaves
	joined time.Time
}

// confEvent starts a CUSTOM conference::maintenance event with the
// conference's headers (conference_event_add_data).
func (s *Server) confEvent(c *conference, action string) *event {
	e := s.newEvent("CUSTOM", "conference_event.c", "conference_event_add_data", 1)
	e.subclass = "conference::maintenance"
	e.hdrs = append([]hdr{{"Event-Subclass", "conference::maintenance"}}, e.hdrs...)
	e.add("Conference-Name", c.name)
	e.add("Conference-Domain", "lab.local")
	e.add("Conference-Size", strconv.Itoa(len(c.members)))
	e.add("Conference-Ghosts", "0")
	e.add("Conference-Profile-Name", c.profile)
	e.add("Conference-Unique-ID", c.uuid)
	if action != "" {
		e.add("Action", action)
	}
	return e
}

// memberEvent is a conference event with the member's channel data and
// flags (conference_member_add_event_data), Action last.
func (s *Server) memberEvent(c *conference, m *member, action string, extra ...hdr) *event {
	e := s.confEvent(c, "")
	for _, h := range extra {
		if h.k == "Old-ID" {
			e.add(h.k, h.v)
		}
	}
	e.add("Floor", strconv.FormatBool(c.floor == m))
	ch := s.chanEvent("", m.ch)
	for _, h := range ch.hdrs {
		switch {
		case strings.HasPrefix(h.k, "Channel-") || strings.HasPrefix(h.k, "Caller-") || h.k == "Unique-ID" ||
			h.k == "Call-Direction" || h.k == "Presence-Call-Direction" || h.k == "Answer-State" || h.k == "Hangup-Cause":
			e.add(h.k, h.v)
		}
	}
	speak := strconv.FormatBool(!m.muted)
	for _, kv := range [][2]string{{"Video", "false"}, {"Hear", "true"}, {"See", "true"}, {"Speak", speak},
		{"Talking", "false"}, {"Mute-Detect", "false"}, {"Hold", "false"}, {"Member-ID", strconv.Itoa(m.id)},
		{"Member-Type", "member"}, {"Member-Ghost", "false"}, {"Energy-Level", "100"}, {"Current-Energy", "0"}} {
		e.add(kv[0], kv[1])
	}
	for _, h := range extra {
		if h.k != "Old-ID" {
			e.add(h.k, h.v)
		}
	}
	if action != "" {
		e.add("Action", action)
	}
	return e
}

// parseConferenceData splits "room[@profile][+flags{...}]".
func parseConferenceData(data string) (room, profile string) {
	data, _, _ = strings.Cut(data, "+")
	room, profile, _ = strings.Cut(data, "@")
	if profile == "" {
		profile = "default"
	}
	return room, profile
}

// joinConference runs the conference application on ch. inline: the
// channel came by an inline transfer, so it hangs up when it leaves.
func (s *Server) joinConference(ch *channel, data, appUUID string, inline bool) {
	room, profile := parseConferenceData(data)
	if room == "" || ch.hungup {
		return
	}
	if old := ch.conf; old != nil {
		s.leaveConference(ch, false)
		s.confMaybeGone(old)
	}
	if ch.bridged {
		// A transfer breaks the bridge; the other side goes back to park.
		partner := s.channels[ch.other]
		ch.bridged = false
		s.emit(s.chanEvent("CHANNEL_UNBRIDGE", ch, hdr{"Bridge-A-Unique-ID", ch.uuid}, hdr{"Bridge-B-Unique-ID", ch.other}))
		if partner != nil && !partner.hungup {
			partner.bridged = false
			partner.setVar("current_application", "park")
			s.emit(s.chanEvent("CHANNEL_PARK", partner))
		}
	}
	ch.setVar("current_application", "conference")
	ch.setVar("current_application_data", data)
	s.emit(s.chanEvent("CHANNEL_EXECUTE", ch, hdr{"Application", "conference"}, hdr{"Application-Data", data},
		hdr{"Application-UUID", appUUID}))
	s.answer(ch)
	c := s.confs[room]
	if c == nil {
		c = &conference{name: room, profile: profile, uuid: newUUID(), created: time.Now()}
		s.confs[room] = c
		s.emit(s.confEvent(c, "conference-create"))
	}
	c.nextID++
	m := &member{id: c.nextID, ch: ch, inline: inline, joined: time.Now()}
	c.members = append(c.members, m)
	ch.conf = c
	ch.setVar("conference_name", room)
	ch.setVar("conference_member_id", strconv.Itoa(m.id))
	ch.setVar("conference_uuid", c.uuid)
	ch.callState = "ACTIVE"
	s.emit(s.memberEvent(c, m, "add-member"))
	if c.floor == nil {
		c.floor = m
		s.emit(s.memberEvent(c, m, "floor-change", hdr{"Old-ID", "none"}, hdr{"New-ID", strconv.Itoa(m.id)}))
	}
}

// leaveConference takes ch out of its room (floor-change if it held the
// floor, del-member). hungup: the channel is hanging up (the event then
// carries its Hangup-Cause).
func (s *Server) leaveConference(ch *channel, _ bool) {
	c := ch.conf
	if c == nil {
		return
	}
	i := slices.IndexFunc(c.members, func(m *member) bool { return m.ch == ch })
	if i < 0 {
		ch.conf = nil
		return
	}
	m := c.members[i]
	if c.floor == m {
		c.floor = nil
		e := s.confEvent(c, "floor-change")
		e.add("Old-ID", "none")
		e.add("New-ID", "none")
		s.emit(e)
	}
	c.members = slices.Delete(c.members, i, i+1)
	s.emit(s.memberEvent(c, m, "del-member"))
	ch.conf = nil
}

// confMaybeGone destroys an empty room, or passes the floor on.
func (s *Server) confMaybeGone(c *conference) {
	if s.confs[c.name] != c {
		return
	}
	if len(c.members) == 0 {
		delete(s.confs, c.name)
		s.emit(s.confEvent(c, "conference-destroy"))
		return
	}
	if c.floor == nil {
		m := c.members[len(c.members)-1]
		c.floor = m
		s.emit(s.memberEvent(c, m, "floor-change", hdr{"Old-ID", "none"}, hdr{"New-ID", strconv.Itoa(m.id)}))
	}
}

// hupMember ends a member's stay: it leaves the room, then its inline
// dialplan ends and it hangs up (or, run by sendmsg, it is parked again).
func (s *Server) hupMember(m *member) {
	ch := m.ch
	c := ch.conf
	s.leaveConference(ch, false)
	if m.inline {
		s.markHangup(ch, "NORMAL_CLEARING")
		s.emit(s.chanEvent("CHANNEL_HANGUP", ch))
		s.complete(ch)
	} else {
		s.executeComplete(ch, "conference", c.name+"@"+c.profile, "", "_none_")
		ch.setVar("current_application", "park")
		s.emit(s.chanEvent("CHANNEL_PARK", ch))
	}
	s.confMaybeGone(c)
}

// flagsText is the member flags column of `conference list`.
func (c *conference) flagsText(m *member) string {
	f := "hear"
	if !m.muted {
		f += "|speak"
	}
	if c.floor == m {
		f += "|floor"
	}
	return f
}

// listLines are the member lines of `conference <room> list`, newest
// member first (mod_conference keeps them that way).
func (c *conference) listLines(b *strings.Builder, delim string) {
	for i := len(c.members) - 1; i >= 0; i-- {
		m := c.members[i]
		b.WriteString(strings.Join([]string{strconv.Itoa(m.id), m.ch.name, m.ch.uuid, m.ch.cidName, m.ch.cidNum,
			c.flagsText(m), "0", "0", "100"}, delim) + "\n")
	}
}

func (s *Server) sortedConfs() []*conference {
	out := make([]*conference, 0, len(s.confs))
	for _, c := range s.confs {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].created.Before(out[j].created) })
	return out
}

// conferenceAPI runs `conference <args>`.
func (s *Server) conferenceAPI(args string) string {
	argv := strings.Fields(args)
	if len(argv) == 0 {
		return "-USAGE: conference <name> <command> ...\n"
	}
	switch argv[0] {
	case "list":
		delim := ";"
		if len(argv) >= 3 && argv[1] == "delim" {
			delim = argv[2]
		}
		var b strings.Builder
		for i, c := range s.sortedConfs() {
			if i == 0 {
				b.WriteString("+OK ")
			}
			n := len(c.members)
			plural := "s"
			if n == 1 {
				plural = ""
			}
			b.WriteString("Conference " + c.name + " (" + strconv.Itoa(n) + " member" + plural +
				" rate: 8000 flags: running|answered|enforce_min|dynamic|exit_sound|enter_sound|json_status)\n")
			c.listLines(&b, delim)
		}
		if b.Len() == 0 {
			return "No active conferences.\n"
		}
		return b.String()
	case "xml_list":
		return s.xmlList(s.sortedConfs())
	}
	c := s.confs[argv[0]]
	if c == nil {
		return "-ERR Conference " + argv[0] + " not found\n"
	}
	if len(argv) < 2 {
		return "Conference command, not specified.\nTry 'help'\n"
	}
	target := func() []*member {
		if len(argv) < 3 {
			return nil
		}
		switch argv[2] {
		case "all":
			return slices.Clone(c.members)
		case "last":
			if len(c.members) > 0 {
				return []*member{c.members[len(c.members)-1]}
			}
			return nil
		}
		id, _ := strconv.Atoi(argv[2])
		for _, m := range c.members {
			if m.id == id {
				return []*member{m}
			}
		}
		return nil
	}
	switch argv[1] {
	case "list":
		if len(argv) >= 3 && argv[2] == "count" {
			return strconv.Itoa(len(c.members))
		}
		var b strings.Builder
		c.listLines(&b, ";")
		return b.String()
	case "xml_list":
		return s.xmlList([]*conference{c})
	case "mute", "unmute":
		ms := target()
		if len(ms) == 0 {
			return "Non-Existant ID " + strings.Join(argv[2:], " ") + "\n"
		}
		var b strings.Builder
		for _, m := range ms {
			m.muted = argv[1] == "mute"
			b.WriteString("+OK " + argv[1] + " " + strconv.Itoa(m.id) + "\n")
			s.emit(s.memberEvent(c, m, argv[1]+"-member"))
		}
		return b.String()
	case "recording":
		// conference <room> recording start|stop <path>: the room's mix
		// goes to a file until stopped or the room ends.
		if len(argv) < 4 || (argv[2] != "start" && argv[2] != "stop") {
			return "-ERR usage: recording start|stop <path>\n"
		}
		if argv[2] == "start" {
			s.storeRecording(argv[3])
		}
		return "+OK\n"
	case "play":
		return s.confPlay(c, argv[2:])
	case "hup", "kick":
		for _, m := range target() {
			s.hupMember(m)
		}
		if argv[1] == "kick" {
			return "+OK kicked\n"
		}
		return ""
	}
	return "Conference command '" + argv[1] + "' not found.\n"
}

// xmlList renders `conference xml_list` as conference_xlist builds it
// (member values URL-encoded, as add_x_tag does).
func (s *Server) xmlList(cs []*conference) string {
	type xflags struct {
		CanHear   bool `xml:"can_hear"`
		CanSpeak  bool `xml:"can_speak"`
		MuteDet   bool `xml:"mute_detect"`
		Talking   bool `xml:"talking"`
		HasVideo  bool `xml:"has_video"`
		VidBridge bool `xml:"video_bridge"`
		HasFloor  bool `xml:"has_floor"`
		IsMod     bool `xml:"is_moderator"`
		EndConf   bool `xml:"end_conference"`
		IsGhost   bool `xml:"is_ghost"`
	}
	type xmember struct {
		Type        string `xml:"type,attr"`
		ID          string `xml:"id"`
		UUID        string `xml:"uuid"`
		CIDName     string `xml:"caller_id_name"`
		CIDNum      string `xml:"caller_id_number"`
		JoinTime    string `xml:"join_time"`
		LastTalking string `xml:"last_talking"`
		Energy      string `xml:"energy"`
		VolIn       string `xml:"volume_in"`
		VolOut      string `xml:"volume_out"`
		Flags       xflags `xml:"flags"`
		OutVol      string `xml:"output-volume"`
		InVol       string `xml:"input-volume"`
		AutoVol     string `xml:"auto-adjusted-input-volume"`
	}
	type xconf struct {
		Name        string    `xml:"name,attr"`
		MemberCount int       `xml:"member-count,attr"`
		GhostCount  int       `xml:"ghost-count,attr"`
		Rate        int       `xml:"rate,attr"`
		UUID        string    `xml:"uuid,attr"`
		Running     string    `xml:"running,attr"`
		Answered    string    `xml:"answered,attr"`
		EnforceMin  string    `xml:"enforce_min,attr"`
		Dynamic     string    `xml:"dynamic,attr"`
		ExitSound   string    `xml:"exit_sound,attr"`
		EnterSound  string    `xml:"enter_sound,attr"`
		RunTime     int       `xml:"run_time,attr"`
		Members     []xmember `xml:"members>member"`
	}
	type xconfs struct {
		XMLName xml.Name `xml:"conferences"`
		Confs   []xconf  `xml:"conference"`
	}
	enc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }
	out := xconfs{}
	now := time.Now()
	for _, c := range cs {
		xc := xconf{Name: c.name, MemberCount: len(c.members), Rate: 8000, UUID: c.uuid, Running: "true",
			Answered: "true", EnforceMin: "true", Dynamic: "true", ExitSound: "true", EnterSound: "true",
			RunTime: int(now.Sub(c.created) / time.Second)}
		for i := len(c.members) - 1; i >= 0; i-- {
			m := c.members[i]
			xc.Members = append(xc.Members, xmember{Type: "caller", ID: strconv.Itoa(m.id), UUID: enc(m.ch.uuid),
				CIDName: enc(m.ch.cidName), CIDNum: enc(m.ch.cidNum), JoinTime: strconv.Itoa(int(now.Sub(m.joined) / time.Second)),
				LastTalking: "N/A", Energy: "100", VolIn: "0", VolOut: "0",
				Flags:  xflags{CanHear: true, CanSpeak: !m.muted, HasFloor: c.floor == m},
				OutVol: "0", InVol: "0", AutoVol: "0"})
		}
		out.Confs = append(out.Confs, xc)
	}
	b, err := xml.MarshalIndent(out, "", "  ")
	if err != nil {
		return "-ERR " + err.Error() + "\n"
	}
	return `<?xml version="1.0"?>` + "\n" + string(b) + "\n"
}

// Room is the conference a channel is in now, or, for two channels
// bridged with uuid_bridge/bridge (FreeSWITCH has no bridge object), an
// id both sides share: their UUIDs, sorted, joined by "+". "" when none.
func (s *Server) Room(uuid string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[uuid]
	if ch == nil || ch.hungup {
		return ""
	}
	if ch.conf != nil {
		return ch.conf.name
	}
	if ch.bridged && ch.other != "" {
		ids := []string{ch.uuid, ch.other}
		sort.Strings(ids)
		return ids[0] + "+" + ids[1]
	}
	return ""
}

// Conferences lists the rooms and their members' UUIDs (join order).
func (s *Server) Conferences() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for name, c := range s.confs {
		for _, m := range c.members {
			out[name] = append(out[name], m.ch.uuid)
		}
	}
	return out
}
