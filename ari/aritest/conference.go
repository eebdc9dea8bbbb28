package aritest

import "net/http"

// Conference parts of a channel: mute (POST/DELETE
// /channels/{id}/mute?direction=in|out|both, default both, as in the
// Swagger) and music on hold (POST/DELETE /channels/{id}/moh). Playbacks
// on a bridge (tones) reach every member (see play).

func (s *Server) mute(on bool) chanHandler {
	return func(w http.ResponseWriter, r *http.Request, ch *channel) {
		p, err := parseParams(r)
		if err != nil {
			writeMsg(w, http.StatusBadRequest, err.Error())
			return
		}
		dir := p.get("direction")
		var dirs []string
		switch dir {
		case "", "both":
			dirs = []string{"in", "out"}
		case "in", "out":
			dirs = []string{dir}
		default:
			writeMsg(w, http.StatusBadRequest, "Invalid direction specified")
			return
		}
		if ch.muted == nil {
			ch.muted = map[string]bool{}
		}
		for _, d := range dirs {
			ch.muted[d] = on
		}
		writeNoContent(w)
	}
}

func (s *Server) stopMOH(w http.ResponseWriter, _ *http.Request, ch *channel) {
	ch.onHold = false
	writeNoContent(w)
}

// Muted reports whether what the party says is muted (direction in: the
// others in its bridge no longer hear it).
func (c *Call) Muted() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ch := c.s.channels[c.id]
	return ch != nil && ch.muted["in"]
}

// OnHold reports whether the party hears music on hold now.
func (c *Call) OnHold() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	ch := c.s.channels[c.id]
	return ch != nil && ch.onHold && !ch.hungUp
}
