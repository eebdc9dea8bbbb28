package aritest

import (
	"encoding/binary"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// ---- asterisk ----

func (s *Server) getInfo(w http.ResponseWriter, _ *http.Request) {
	start := ariTime(time.Unix(s.epoch, 0))
	writeJSON(w, http.StatusOK, map[string]any{
		"build": map[string]string{"os": "Linux", "kernel": "6.18.44", "machine": "x86_64",
			"options": "OPTIONAL_API", "date": start, "user": "root"},
		"system": map[string]string{"version": "22.10.1", "entity_id": asteriskID},
		"config": map[string]any{"name": "", "default_language": "en",
			"setid": map[string]string{"user": "", "group": ""}},
		"status": map[string]string{"startup_time": start, "last_reload_time": start},
	})
}

func (s *Server) getPing(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{
		"asterisk_id": asteriskID, "ping": "pong", "timestamp": ariTime(time.Now()),
	})
}

// ---- bridges ----

type bridgeHandler func(w http.ResponseWriter, r *http.Request, b *bridge)

func (s *Server) withBridge(h bridgeHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		b := s.bridges[r.PathValue("bid")]
		if b == nil {
			writeMsg(w, http.StatusNotFound, "Bridge not found")
			return
		}
		h(w, r, b)
	}
}

func (s *Server) listBridges(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*bridgeJSON, 0, len(s.bridges))
	for _, b := range s.sortedBridgesLocked() {
		out = append(out, b.json())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createBridge(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		writeMsg(w, http.StatusBadRequest, err.Error())
		return
	}
	id := r.PathValue("bid")
	if id == "" {
		id = p.get("bridgeId")
	}
	btype := "mixing"
	for _, t := range p.list("type") {
		if t == "holding" {
			btype = "holding"
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == "" {
		id = "br-" + s.nextIDLocked()
	}
	if s.bridges[id] != nil {
		writeMsg(w, http.StatusConflict, "Bridge with the same bridgeId already exists")
		return
	}
	b := &bridge{id: id, name: p.get("name"), btype: btype, tech: "simple_bridge", created: time.Now()}
	if btype == "holding" {
		b.tech = "holding_bridge"
	}
	s.bridges[id] = b
	writeJSON(w, http.StatusOK, b.json())
}

func (s *Server) getBridge(w http.ResponseWriter, _ *http.Request, b *bridge) {
	writeJSON(w, http.StatusOK, b.json())
}

func (s *Server) deleteBridge(w http.ResponseWriter, _ *http.Request, b *bridge) {
	s.destroyBridgeLocked(b)
	writeNoContent(w)
}

// bridgeChannels resolves the "channel" list; it writes the error itself.
func (s *Server) bridgeChannels(w http.ResponseWriter, r *http.Request) ([]*channel, *params, bool) {
	p, err := parseParams(r)
	if err != nil {
		writeMsg(w, http.StatusBadRequest, err.Error())
		return nil, nil, false
	}
	ids := p.list("channel")
	if len(ids) == 0 {
		writeMsg(w, http.StatusBadRequest, "Missing parameter channel")
		return nil, nil, false
	}
	var out []*channel
	for _, id := range ids {
		ch := s.channels[id]
		if ch == nil {
			writeMsg(w, http.StatusBadRequest, "Channel not found")
			return nil, nil, false
		}
		out = append(out, ch)
	}
	return out, p, true
}

func (s *Server) addChannel(w http.ResponseWriter, r *http.Request, b *bridge) {
	chans, _, ok := s.bridgeChannels(w, r)
	if !ok {
		return
	}
	for _, ch := range chans {
		if !ch.inStasis {
			writeMsg(w, http.StatusUnprocessableEntity, "Channel not in Stasis application")
			return
		}
		if ch.rec != nil {
			writeMsg(w, http.StatusConflict, "Channel currently recording")
			return
		}
	}
	writeNoContent(w)
	for _, ch := range chans {
		s.joinBridgeLocked(b, ch)
	}
}

func (s *Server) removeChannel(w http.ResponseWriter, r *http.Request, b *bridge) {
	chans, _, ok := s.bridgeChannels(w, r)
	if !ok {
		return
	}
	for _, ch := range chans {
		if ch.bridge != b {
			writeMsg(w, http.StatusUnprocessableEntity, "Channel not in this bridge")
			return
		}
	}
	writeNoContent(w)
	for _, ch := range chans {
		s.leaveBridgeLocked(ch)
	}
	if len(b.members) == 0 && b.rec != nil {
		s.finishRecLocked(b.rec, "done")
	}
}

func (s *Server) recordBridge(w http.ResponseWriter, r *http.Request, b *bridge) {
	rec, maxDur, ok := s.recOpts(w, r)
	if !ok {
		return
	}
	if b.rec != nil {
		writeMsg(w, http.StatusConflict, "Bridge is already being recorded")
		return
	}
	rec.br, rec.target = b, "bridge:"+b.id
	b.rec = rec
	resp := rec.json()
	resp.State = "queued"
	w.Header().Set("Location", "/recordings/live/"+url.PathEscape(rec.name))
	writeJSON(w, http.StatusCreated, resp)
	s.startRecLocked(rec)
	if maxDur > 0 {
		rec.t = s.afterLocked(secs(maxDur), func() { s.finishRecLocked(rec, "done") })
	}
}

func (s *Server) bridgeMOH(start bool) bridgeHandler {
	return func(w http.ResponseWriter, _ *http.Request, b *bridge) {
		if !start && !b.moh {
			writeMsg(w, http.StatusConflict, "Bridge isn't playing music")
			return
		}
		b.moh = start
		if start {
			for _, m := range b.members {
				if m.call != nil {
					m.call.played = append(m.call.played, "moh")
				}
			}
		}
		writeNoContent(w)
	}
}

func (s *Server) copyStored(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		writeMsg(w, http.StatusBadRequest, err.Error())
		return
	}
	dst := p.get("destinationRecordingName")
	if dst == "" {
		writeMsg(w, http.StatusBadRequest, "Missing parameter destinationRecordingName")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.stored[r.PathValue("name")]
	if !ok {
		writeMsg(w, http.StatusNotFound, "Recording not found")
		return
	}
	if _, exists := s.stored[dst]; exists {
		writeMsg(w, http.StatusConflict, "A recording with the same name already exists on the system")
		return
	}
	s.stored[dst] = f
	writeJSON(w, http.StatusOK, storedJSON{Name: dst, Format: f})
}

func (s *Server) playBridge(w http.ResponseWriter, r *http.Request, b *bridge) {
	s.play(w, r, nil, b)
}

// ---- playbacks ----

func (s *Server) getPlayback(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.playbacks[r.PathValue("pid")]
	if p == nil {
		writeMsg(w, http.StatusNotFound, "Playback not found")
		return
	}
	writeJSON(w, http.StatusOK, p.json())
}

func (s *Server) pbQueue(p *playback) *[]*playback {
	if p.ch != nil {
		return &p.ch.pbQueue
	}
	return &p.br.pbQueue
}

func (s *Server) deletePlayback(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.playbacks[r.PathValue("pid")]
	if p == nil {
		writeMsg(w, http.StatusNotFound, "Playback not found")
		return
	}
	writeNoContent(w)
	s.finishPlaybackLocked(p, s.pbQueue(p))
}

func (s *Server) controlPlayback(w http.ResponseWriter, r *http.Request) {
	op := r.URL.Query().Get("operation")
	if p, err := parseParams(r); err == nil && op == "" {
		op = p.get("operation")
	}
	switch op {
	case "restart", "pause", "unpause", "reverse", "forward":
	default:
		writeMsg(w, http.StatusBadRequest, "Invalid operation")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.playbacks[r.PathValue("pid")]
	if p == nil {
		writeMsg(w, http.StatusNotFound, "Playback not found")
		return
	}
	if p.state != "playing" {
		writeMsg(w, http.StatusConflict, "Playback not playing")
		return
	}
	writeNoContent(w)
}

// ---- recordings ----

func (s *Server) getLiveRec(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.liveRecs[r.PathValue("name")]
	if rec == nil {
		writeMsg(w, http.StatusNotFound, "Recording not found")
		return
	}
	writeJSON(w, http.StatusOK, rec.json())
}

func (s *Server) stopLiveRec(state string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		rec := s.liveRecs[r.PathValue("name")]
		if rec == nil {
			writeMsg(w, http.StatusNotFound, "Recording not found")
			return
		}
		writeNoContent(w)
		s.finishRecLocked(rec, state)
	}
}

func (s *Server) listStored(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]storedJSON, 0, len(s.stored))
	for n, f := range s.stored {
		out = append(out, storedJSON{Name: n, Format: f})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getStored(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := r.PathValue("name")
	f, ok := s.stored[n]
	if !ok {
		writeMsg(w, http.StatusNotFound, "Recording not found")
		return
	}
	writeJSON(w, http.StatusOK, storedJSON{Name: n, Format: f})
}

func (s *Server) deleteStored(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := r.PathValue("name")
	if _, ok := s.stored[n]; !ok {
		writeMsg(w, http.StatusNotFound, "Recording not found")
		return
	}
	delete(s.stored, n)
	writeNoContent(w)
}

func (s *Server) getStoredFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	_, ok := s.stored[r.PathValue("name")]
	s.mu.Unlock()
	if !ok {
		writeMsg(w, http.StatusNotFound, "Recording not found")
		return
	}
	w.Header().Set("Content-Type", "audio/wav")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(silentWAV(8000))
}

// silentWAV is a 16-bit 8 kHz mono PCM WAV of n silent samples.
func silentWAV(n int) []byte {
	data := n * 2
	b := make([]byte, 44+data)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 16000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	return b
}

// ---- applications ----

func (s *Server) appJSONLocked(a *application) *applicationJSON {
	j := &applicationJSON{Name: a.name, ChannelIDs: []string{}, BridgeIDs: []string{},
		EndpointIDs: []string{}, DeviceNames: []string{}, EventsAllowed: []any{}, EventsDisallowed: []any{}}
	for _, ch := range s.sortedChannelsLocked() {
		if slices.Contains(ch.subs, a.name) {
			j.ChannelIDs = append(j.ChannelIDs, ch.id)
		}
	}
	for _, b := range s.sortedBridgesLocked() {
		if slices.Contains(b.subs, a.name) {
			j.BridgeIDs = append(j.BridgeIDs, b.id)
		}
	}
	for e, n := range a.endpoints {
		if n > 0 {
			j.EndpointIDs = append(j.EndpointIDs, e)
		}
	}
	sort.Strings(j.EndpointIDs)
	return j
}

func (s *Server) listApps(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.apps))
	for n := range s.apps {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*applicationJSON, 0, len(names))
	for _, n := range names {
		out = append(out, s.appJSONLocked(s.apps[n]))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.apps[r.PathValue("app")]
	if a == nil {
		writeMsg(w, http.StatusNotFound, "Application not found")
		return
	}
	writeJSON(w, http.StatusOK, s.appJSONLocked(a))
}

func (s *Server) subscribe(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := parseParams(r)
		if err != nil {
			writeMsg(w, http.StatusBadRequest, err.Error())
			return
		}
		sources := p.list("eventSource")
		if len(sources) == 0 {
			writeMsg(w, http.StatusBadRequest, "Missing parameter eventSource")
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		a := s.apps[r.PathValue("app")]
		if a == nil {
			writeMsg(w, http.StatusNotFound, "Application not found")
			return
		}
		// validate everything first, then apply
		for _, src := range sources {
			scheme, id, _ := strings.Cut(src, ":")
			switch scheme {
			case "channel":
				ch := s.channels[id]
				if ch == nil {
					writeMsg(w, http.StatusUnprocessableEntity, "Event source does not exist")
					return
				}
				if !add && !slices.Contains(ch.subs, a.name) {
					writeMsg(w, http.StatusUnprocessableEntity, "Event source was not subscribed to")
					return
				}
			case "bridge":
				b := s.bridges[id]
				if b == nil {
					writeMsg(w, http.StatusUnprocessableEntity, "Event source does not exist")
					return
				}
				if !add && !slices.Contains(b.subs, a.name) {
					writeMsg(w, http.StatusUnprocessableEntity, "Event source was not subscribed to")
					return
				}
			case "endpoint":
				tech, res, hasRes := strings.Cut(id, "/")
				if tech == "" || (hasRes && !s.endpoints[res]) {
					writeMsg(w, http.StatusUnprocessableEntity, "Event source does not exist")
					return
				}
				if !add && a.endpoints[id] == 0 {
					writeMsg(w, http.StatusUnprocessableEntity, "Event source was not subscribed to")
					return
				}
			case "deviceState":
			default:
				writeMsg(w, http.StatusBadRequest, "Invalid event source URI scheme")
				return
			}
		}
		for _, src := range sources {
			scheme, id, _ := strings.Cut(src, ":")
			switch scheme {
			case "channel":
				ch := s.channels[id]
				if add {
					ch.subs = addSub(ch.subs, a.name)
				} else {
					ch.subs = removeSub(ch.subs, a.name)
				}
			case "bridge":
				b := s.bridges[id]
				if add {
					b.subs = addSub(b.subs, a.name)
				} else {
					b.subs = removeSub(b.subs, a.name)
				}
			case "endpoint":
				if add {
					a.endpoints[id]++
				} else if a.endpoints[id]--; a.endpoints[id] <= 0 {
					delete(a.endpoints, id)
				}
			}
		}
		writeJSON(w, http.StatusOK, s.appJSONLocked(a))
	}
}

// ---- endpoints and messages ----

func (s *Server) endpointJSONLocked(res string) *endpointJSON {
	e := &endpointJSON{Technology: "PJSIP", Resource: res, State: "offline", ChannelIDs: []string{}}
	for _, ch := range s.sortedChannelsLocked() {
		if ch.resource == res {
			e.ChannelIDs = append(e.ChannelIDs, ch.id)
		}
	}
	if len(e.ChannelIDs) > 0 {
		e.State = "online"
	}
	return e
}

func (s *Server) listEndpoints(w http.ResponseWriter, r *http.Request) {
	tech := r.PathValue("tech")
	s.mu.Lock()
	defer s.mu.Unlock()
	if tech != "" && !strings.EqualFold(tech, "PJSIP") {
		writeMsg(w, http.StatusNotFound, "Endpoint not found")
		return
	}
	names := make([]string, 0, len(s.endpoints))
	for n := range s.endpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*endpointJSON, 0, len(names))
	for _, n := range names {
		out = append(out, s.endpointJSONLocked(n))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getEndpoint(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res := r.PathValue("res")
	if !strings.EqualFold(r.PathValue("tech"), "PJSIP") || !s.endpoints[res] {
		writeMsg(w, http.StatusNotFound, "Endpoint not found")
		return
	}
	writeJSON(w, http.StatusOK, s.endpointJSONLocked(res))
}

// ---- observation ----

func (s *Server) sortedChannelsLocked() []*channel {
	out := make([]*channel, 0, len(s.channels))
	for _, ch := range s.channels {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.Before(out[j].created)
		}
		return out[i].id < out[j].id
	})
	return out
}

func (s *Server) sortedBridgesLocked() []*bridge {
	out := make([]*bridge, 0, len(s.bridges))
	for _, b := range s.bridges {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].created.Equal(out[j].created) {
			return out[i].created.Before(out[j].created)
		}
		return out[i].id < out[j].id
	})
	return out
}

// ChannelInfo is a snapshot of a live channel.
type ChannelInfo struct {
	ID, Name, State string
	CallerName      string
	CallerNumber    string
	ConnectedName   string
	ConnectedNumber string
	// Endpoint is the originate endpoint ("" for inbound and snoop channels).
	Endpoint string
	Inbound  bool
	Snoop    bool
	InStasis bool
	Args     []string
	Bridge   string // bridge id, "" if none
	Vars     map[string]string
}

// Channels lists live channels in creation order.
func (s *Server) Channels() []ChannelInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ChannelInfo
	for _, ch := range s.sortedChannelsLocked() {
		ci := ChannelInfo{
			ID: ch.id, Name: ch.name, State: ch.state,
			CallerName: ch.caller.Name, CallerNumber: ch.caller.Number,
			ConnectedName: ch.connected.Name, ConnectedNumber: ch.connected.Number,
			Endpoint: ch.endpoint, Inbound: ch.kind == kindInbound, Snoop: ch.kind == kindSnoop,
			InStasis: ch.inStasis, Args: slices.Clone(ch.args),
		}
		if ch.bridge != nil {
			ci.Bridge = ch.bridge.id
		}
		if len(ch.vars) > 0 {
			ci.Vars = make(map[string]string, len(ch.vars))
			for k, v := range ch.vars {
				ci.Vars[k] = v
			}
		}
		out = append(out, ci)
	}
	return out
}

// BridgeInfo is a snapshot of a bridge.
type BridgeInfo struct {
	ID, Name, Type, Technology string
	Channels                   []string
	Recording                  string // live recording name, "" if none
}

// Bridges lists bridges in creation order.
func (s *Server) Bridges() []BridgeInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []BridgeInfo
	for _, b := range s.sortedBridgesLocked() {
		bi := BridgeInfo{ID: b.id, Name: b.name, Type: b.btype, Technology: b.tech, Channels: b.memberIDs()}
		if b.rec != nil {
			bi.Recording = b.rec.name
		}
		out = append(out, bi)
	}
	return out
}

// Recordings lists the names of stored and live recordings, sorted.
func (s *Server) Recordings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.stored {
		out = append(out, n)
	}
	for n := range s.liveRecs {
		if _, dup := s.stored[n]; !dup {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
