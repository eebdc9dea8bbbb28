package esltest

import "strings"

// confPlay runs `conference <room> play <file> [<member-id>]`: every
// member (here: all of them; a member id is not emulated) hears the
// file. mod_conference answers "+OK (play) Playing file <file>"
// (conference_api_sub_play; not in the captures) and reports the end with
// a conference::maintenance play-file-done event, which vnum does not
// read: only the start is emulated.
func (s *Server) confPlay(c *conference, args []string) string {
	if len(args) == 0 {
		return "-ERR (play) no file specified\n"
	}
	file := strings.Join(args, " ")
	for _, m := range c.members {
		m.ch.played = append(m.ch.played, file)
		if m.ch.legIdx >= 0 {
			s.legs[m.ch.legIdx].Played = append(s.legs[m.ch.legIdx].Played, file)
		}
	}
	e := s.confEvent(c, "play-file")
	e.add("File", file)
	s.emit(e)
	return "+OK (play) Playing file " + file + "\n"
}

// Muted reports whether the channel uuid is a muted member of a room.
func (s *Server) Muted(uuid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[uuid]
	if ch == nil || ch.conf == nil {
		return false
	}
	for _, m := range ch.conf.members {
		if m.ch == ch {
			return m.muted
		}
	}
	return false
}
