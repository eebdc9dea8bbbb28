package aritest

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("GET /ari/events", s.serveEvents)
	m.HandleFunc("GET /ari/asterisk/info", s.getInfo)
	m.HandleFunc("GET /ari/asterisk/ping", s.getPing)

	m.HandleFunc("GET /ari/channels", s.listChannels)
	m.HandleFunc("POST /ari/channels", s.originate)
	m.HandleFunc("POST /ari/channels/create", s.originate)
	m.HandleFunc("POST /ari/channels/{id}/dial", s.withChannel(false, s.dial))
	m.HandleFunc("GET /ari/channels/{id}", s.withChannel(false, s.getChannel))
	m.HandleFunc("POST /ari/channels/{id}", s.originate)
	m.HandleFunc("DELETE /ari/channels/{id}", s.hangup)
	m.HandleFunc("POST /ari/channels/{id}/answer", s.withChannel(true, s.answer))
	m.HandleFunc("POST /ari/channels/{id}/ring", s.withChannel(true, s.ring))
	m.HandleFunc("DELETE /ari/channels/{id}/ring", s.withChannel(true, s.noop))
	m.HandleFunc("POST /ari/channels/{id}/continue", s.withChannel(true, s.continueDialplan))
	m.HandleFunc("POST /ari/channels/{id}/play", s.withChannel(true, s.playChannel))
	m.HandleFunc("POST /ari/channels/{id}/play/{playbackId}", s.withChannel(true, s.playChannel))
	m.HandleFunc("POST /ari/channels/{id}/record", s.withChannel(true, s.recordChannel))
	m.HandleFunc("GET /ari/channels/{id}/variable", s.withChannel(false, s.getVar))
	m.HandleFunc("POST /ari/channels/{id}/variable", s.withChannel(false, s.setVar))
	m.HandleFunc("POST /ari/channels/{id}/dtmf", s.withChannel(true, s.sendDTMF))
	m.HandleFunc("POST /ari/channels/{id}/snoop", s.withChannel(false, s.snoop))
	m.HandleFunc("POST /ari/channels/{id}/snoop/{snoopId}", s.withChannel(false, s.snoop))
	m.HandleFunc("POST /ari/channels/{id}/hold", s.withChannel(true, s.hold("ChannelHold")))
	m.HandleFunc("DELETE /ari/channels/{id}/hold", s.withChannel(true, s.hold("ChannelUnhold")))
	m.HandleFunc("POST /ari/channels/{id}/moh", s.withChannel(true, s.moh))
	m.HandleFunc("DELETE /ari/channels/{id}/moh", s.withChannel(true, s.stopMOH))
	m.HandleFunc("POST /ari/channels/{id}/mute", s.withChannel(true, s.mute(true)))
	m.HandleFunc("DELETE /ari/channels/{id}/mute", s.withChannel(true, s.mute(false)))
	for _, p := range []string{"POST /ari/channels/{id}/silence", "DELETE /ari/channels/{id}/silence"} {
		m.HandleFunc(p, s.withChannel(true, s.noop))
	}

	m.HandleFunc("GET /ari/bridges", s.listBridges)
	m.HandleFunc("POST /ari/bridges", s.createBridge)
	m.HandleFunc("POST /ari/bridges/{bid}", s.createBridge)
	m.HandleFunc("GET /ari/bridges/{bid}", s.withBridge(s.getBridge))
	m.HandleFunc("DELETE /ari/bridges/{bid}", s.withBridge(s.deleteBridge))
	m.HandleFunc("POST /ari/bridges/{bid}/addChannel", s.withBridge(s.addChannel))
	m.HandleFunc("POST /ari/bridges/{bid}/removeChannel", s.withBridge(s.removeChannel))
	m.HandleFunc("POST /ari/bridges/{bid}/record", s.withBridge(s.recordBridge))
	m.HandleFunc("POST /ari/bridges/{bid}/play", s.withBridge(s.playBridge))
	m.HandleFunc("POST /ari/bridges/{bid}/moh", s.withBridge(s.bridgeMOH(true)))
	m.HandleFunc("DELETE /ari/bridges/{bid}/moh", s.withBridge(s.bridgeMOH(false)))
	m.HandleFunc("POST /ari/recordings/stored/{name}/copy", s.copyStored)
	m.HandleFunc("POST /ari/bridges/{bid}/play/{playbackId}", s.withBridge(s.playBridge))

	m.HandleFunc("GET /ari/playbacks/{pid}", s.getPlayback)
	m.HandleFunc("DELETE /ari/playbacks/{pid}", s.deletePlayback)
	m.HandleFunc("POST /ari/playbacks/{pid}/control", s.controlPlayback)

	m.HandleFunc("GET /ari/recordings/live/{name}", s.getLiveRec)
	m.HandleFunc("POST /ari/recordings/live/{name}/stop", s.stopLiveRec("done"))
	m.HandleFunc("DELETE /ari/recordings/live/{name}", s.stopLiveRec("canceled"))
	m.HandleFunc("GET /ari/recordings/stored", s.listStored)
	m.HandleFunc("GET /ari/recordings/stored/{name}", s.getStored)
	m.HandleFunc("DELETE /ari/recordings/stored/{name}", s.deleteStored)
	m.HandleFunc("GET /ari/recordings/stored/{name}/file", s.getStoredFile)

	m.HandleFunc("GET /ari/applications", s.listApps)
	m.HandleFunc("GET /ari/applications/{app}", s.getApp)
	m.HandleFunc("POST /ari/applications/{app}/subscription", s.subscribe(true))
	m.HandleFunc("DELETE /ari/applications/{app}/subscription", s.subscribe(false))

	m.HandleFunc("GET /ari/endpoints", s.listEndpoints)
	m.HandleFunc("GET /ari/endpoints/{tech}", s.listEndpoints)
	m.HandleFunc("GET /ari/endpoints/{tech}/{res}", s.getEndpoint)
	m.HandleFunc("PUT /ari/endpoints/sendMessage", s.sendMessage)
	m.HandleFunc("PUT /ari/endpoints/{tech}/{res}/sendMessage", s.sendMessage)
}

type chanHandler func(w http.ResponseWriter, r *http.Request, ch *channel)

// withChannel looks the channel up under s.mu (404 Channel not found) and,
// if stasis is set, requires it to be in a Stasis application (409).
func (s *Server) withChannel(stasis bool, h chanHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		ch := s.channels[r.PathValue("id")]
		if ch == nil {
			writeMsg(w, http.StatusNotFound, "Channel not found")
			return
		}
		if stasis && !ch.inStasis {
			writeMsg(w, http.StatusConflict, "Channel not in Stasis application")
			return
		}
		if stasis && (ch.state == stDown || ch.state == stRinging) {
			writeMsg(w, http.StatusPreconditionFailed, "Channel in invalid state")
			return
		}
		h(w, r, ch)
	}
}

func (s *Server) noop(w http.ResponseWriter, _ *http.Request, _ *channel) { writeNoContent(w) }

func (s *Server) listChannels(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*channelJSON, 0, len(s.channels))
	for _, ch := range s.sortedChannelsLocked() {
		out = append(out, ch.json())
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getChannel(w http.ResponseWriter, _ *http.Request, ch *channel) {
	writeJSON(w, http.StatusOK, ch.json())
}

func (s *Server) originate(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		writeMsg(w, http.StatusBadRequest, err.Error())
		return
	}
	o := originateReq{
		endpoint: p.get("endpoint"), app: p.get("app"), appArgs: p.get("appArgs"),
		callerID: p.get("callerId"), channelID: p.get("channelId"), originator: p.get("originator"),
		vars: p.vars(),
	}
	if id := r.PathValue("id"); id != "" {
		o.channelID = id
	}
	create := strings.HasSuffix(r.URL.Path, "/channels/create")
	var ok bool
	if o.timeout, ok = p.int("timeout", 30); !ok {
		writeMsg(w, http.StatusBadRequest, "timeout: invalid value")
		return
	}
	switch {
	case o.timeout == -1:
		o.timeout = 0 // no timeout
	case o.timeout <= 0:
		o.timeout = 30
	}
	tech, res, cut := strings.Cut(o.endpoint, "/")
	switch {
	case o.endpoint == "":
		writeMsg(w, http.StatusBadRequest, "Endpoint must be specified")
		return
	case o.originator != "" && p.get("formats") != "":
		writeMsg(w, http.StatusBadRequest, "Originator and formats can't both be specified")
		return
	case !cut || tech == "" || res == "":
		writeMsg(w, http.StatusBadRequest, "Invalid endpoint specified")
		return
	case create && o.app == "":
		writeMsg(w, http.StatusBadRequest, "Missing parameter app")
		return
	case o.app == "" && p.get("extension") == "":
		writeMsg(w, http.StatusBadRequest, "Application or extension must be specified")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.channelID != "" && s.channels[o.channelID] != nil {
		writeMsg(w, http.StatusConflict, "Channel with given unique ID already exists")
		return
	}
	if o.originator != "" && s.channels[o.originator] == nil {
		writeMsg(w, http.StatusBadRequest, "Provided originator channel was not found")
		return
	}
	ch := s.newOutboundLocked(o, !create)
	writeJSON(w, http.StatusOK, ch.json())
}

// dial dials a channel made with POST /channels/create.
func (s *Server) dial(w http.ResponseWriter, r *http.Request, ch *channel) {
	p, err := parseParams(r)
	if err != nil {
		writeMsg(w, http.StatusBadRequest, err.Error())
		return
	}
	if !ch.inStasis {
		writeMsg(w, http.StatusConflict, "Channel not in Stasis application")
		return
	}
	if ch.kind != kindOriginated || ch.dialing || ch.state != stDown {
		writeMsg(w, http.StatusConflict, "Channel is not in the 'Down' state")
		return
	}
	timeout, ok := p.int("timeout", 0)
	if !ok {
		writeMsg(w, http.StatusBadRequest, "timeout: invalid value")
		return
	}
	ch.timeout = 0
	if timeout > 0 {
		ch.timeout = secs(timeout)
	}
	ch.dialing = true
	writeNoContent(w)
	s.dialLocked(ch)
}

func (s *Server) hangup(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	cause := 16
	if rc := q.Get("reason_code"); rc != "" {
		n, err := strconv.Atoi(rc)
		if err != nil {
			writeMsg(w, http.StatusBadRequest, "Invalid reason for hangup provided")
			return
		}
		cause = n
	} else if reason := q.Get("reason"); reason != "" {
		c, ok := hangupReasons[reason]
		if !ok {
			writeMsg(w, http.StatusBadRequest, "Invalid reason for hangup provided")
			return
		}
		cause = c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[r.PathValue("id")]
	if ch == nil || ch.hungUp {
		writeMsg(w, http.StatusNotFound, "Channel not found")
		return
	}
	s.ariHangupLocked(ch, cause)
	writeNoContent(w)
}

func (s *Server) answer(w http.ResponseWriter, _ *http.Request, ch *channel) {
	s.answerLocked(ch)
	writeNoContent(w)
}

func (s *Server) ring(w http.ResponseWriter, _ *http.Request, ch *channel) {
	if c := ch.call; c != nil && !c.answered && ch.kind == kindInbound {
		if len(c.tones) == 0 || c.tones[len(c.tones)-1] != "ring" {
			c.tones = append(c.tones, "ring")
		}
	}
	writeNoContent(w)
}

func (s *Server) moh(w http.ResponseWriter, _ *http.Request, ch *channel) {
	if ch.call != nil {
		ch.call.played = append(ch.call.played, "moh")
	}
	ch.onHold = true
	writeNoContent(w)
}

func (s *Server) hold(event string) chanHandler {
	return func(w http.ResponseWriter, _ *http.Request, ch *channel) {
		s.chanEventLocked(event, ch)
		writeNoContent(w)
	}
}

// continueDialplan: there is no dialplan here, so the channel leaves Stasis
// and is hung up as by Hangup() (cause 16).
func (s *Server) continueDialplan(w http.ResponseWriter, _ *http.Request, ch *channel) {
	writeNoContent(w)
	s.endChannelLocked(ch, endSpec{cause: 16})
}

func (s *Server) getVar(w http.ResponseWriter, r *http.Request, ch *channel) {
	name := r.URL.Query().Get("variable")
	if name == "" {
		writeMsg(w, http.StatusBadRequest, "Variable name is required")
		return
	}
	v, ok := ch.vars[name]
	if !ok {
		switch name {
		case "CALLERID(num)":
			v, ok = ch.caller.Number, true
		case "CALLERID(name)":
			v, ok = ch.caller.Name, true
		case "CHANNEL(name)":
			v, ok = ch.name, true
		case "CONNECTEDLINE(num)":
			v, ok = ch.connected.Number, true
		case "CONNECTEDLINE(name)":
			v, ok = ch.connected.Name, true
		}
	}
	if !ok {
		writeMsg(w, http.StatusNotFound, "Provided variable was not found")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Value string `json:"value"`
	}{v})
}

func (s *Server) setVar(w http.ResponseWriter, r *http.Request, ch *channel) {
	p, err := parseParams(r)
	if err != nil {
		writeMsg(w, http.StatusBadRequest, err.Error())
		return
	}
	name, value := p.get("variable"), p.get("value")
	if name == "" {
		writeMsg(w, http.StatusBadRequest, "Variable name is required")
		return
	}
	switch name {
	case "CALLERID(num)":
		ch.caller.Number = value
	case "CALLERID(name)":
		ch.caller.Name = value
	default:
		if ch.vars == nil {
			ch.vars = map[string]string{}
		}
		ch.vars[name] = value
	}
	ev := s.newEvent("ChannelVarset")
	ev.Variable = name
	ev.Value = &value
	ev.Channel = ch.json()
	s.sendLocked(ev, ch.subs)
	writeNoContent(w)
}

func (s *Server) sendDTMF(w http.ResponseWriter, r *http.Request, ch *channel) {
	p, err := parseParams(r)
	if err != nil {
		writeMsg(w, http.StatusBadRequest, err.Error())
		return
	}
	d := p.get("dtmf")
	if d == "" {
		writeMsg(w, http.StatusBadRequest, "DTMF is required")
		return
	}
	if ch.call != nil {
		ch.call.played = append(ch.call.played, "dtmf:"+d)
	}
	writeNoContent(w)
}

func (s *Server) snoop(w http.ResponseWriter, r *http.Request, target *channel) {
	p, err := parseParams(r)
	if err != nil {
		writeMsg(w, http.StatusBadRequest, err.Error())
		return
	}
	app := p.get("app")
	if app == "" {
		writeMsg(w, http.StatusBadRequest, "Missing parameter app")
		return
	}
	spy, whisper := p.get("spy"), p.get("whisper")
	for _, d := range []string{spy, whisper} {
		switch d {
		case "", "none", "in", "out", "both":
		default:
			writeMsg(w, http.StatusBadRequest, "Invalid direction specified")
			return
		}
	}
	id := r.PathValue("snoopId")
	if id == "" {
		id = p.get("snoopId")
	}
	if id == "" {
		id = s.nextIDLocked()
	}
	if s.channels[id] != nil {
		writeMsg(w, http.StatusConflict, "Channel with given unique ID already exists")
		return
	}
	sn := &channel{
		id: id, name: s.nextNameLocked("Snoop/" + target.id), state: stUp,
		dp:      dialplanJSON{Context: "default", Exten: "s", Priority: 1},
		created: target.created, language: "en", kind: kindSnoop, app: app,
		subs: []string{app}, snoopOf: target.id, inStasis: true,
	}
	sn.created = timeNow()
	if a := p.get("appArgs"); a != "" {
		sn.args = strings.Split(a, ",")
	}
	sn.dp.AppName = "Stasis"
	sn.dp.AppData = strings.Join(append([]string{app}, sn.args...), ",")
	s.channels[id] = sn
	target.snooped++
	if b := target.bridge; b != nil && b.tech == "native_rtp" {
		b.tech = "simple_bridge"
	}
	writeJSON(w, http.StatusOK, sn.json())
	sn.timers = append(sn.timers, s.afterLocked(0, func() { s.enterStasisLocked(sn) }))
}

func (s *Server) playChannel(w http.ResponseWriter, r *http.Request, ch *channel) {
	s.play(w, r, ch, nil)
}

// play handles channel and bridge playbacks.
func (s *Server) play(w http.ResponseWriter, r *http.Request, ch *channel, br *bridge) {
	p, err := parseParams(r)
	if err != nil {
		writeMsg(w, http.StatusBadRequest, err.Error())
		return
	}
	media := p.list("media")
	if len(media) == 0 {
		writeMsg(w, http.StatusBadRequest, "Missing parameter media")
		return
	}
	id := r.PathValue("playbackId")
	if id == "" {
		id = p.get("playbackId")
	}
	if id == "" {
		id = s.nextIDLocked() + "-pb"
	}
	if s.playbacks[id] != nil {
		writeMsg(w, http.StatusConflict, "Playback with given ID already exists")
		return
	}
	lang := p.get("lang")
	if lang == "" {
		lang = "en"
	}
	pb := &playback{id: id, media: media, language: lang, state: "queued", ch: ch, br: br}
	var q *[]*playback
	if ch != nil {
		pb.target = "channel:" + ch.id
		q = &ch.pbQueue
	} else {
		pb.target = "bridge:" + br.id
		q = &br.pbQueue
	}
	s.playbacks[id] = pb
	*q = append(*q, pb)
	resp := pb.json()
	s.startPlaybackLocked(q)
	w.Header().Set("Location", "/playbacks/"+id)
	writeJSON(w, http.StatusCreated, resp)
}

// recOpts reads and validates record parameters shared by channels and
// bridges; it writes the error response itself.
func (s *Server) recOpts(w http.ResponseWriter, r *http.Request) (*liveRec, int, bool) {
	p, err := parseParams(r)
	if err != nil {
		writeMsg(w, http.StatusBadRequest, err.Error())
		return nil, 0, false
	}
	rec := &liveRec{name: p.get("name"), format: p.get("format"), terminateOn: p.get("terminateOn")}
	if rec.name == "" || rec.format == "" {
		writeMsg(w, http.StatusBadRequest, "Recording name and format are required")
		return nil, 0, false
	}
	switch rec.terminateOn {
	case "", "none", "any", "*", "#":
	default:
		writeMsg(w, http.StatusBadRequest, "terminateOn invalid")
		return nil, 0, false
	}
	maxDur, ok := p.int("maxDurationSeconds", 0)
	if !ok || maxDur < 0 {
		writeMsg(w, http.StatusBadRequest, "maxDurationSeconds cannot be negative")
		return nil, 0, false
	}
	ifExists := p.get("ifExists")
	switch ifExists {
	case "", "fail", "overwrite", "append":
	default:
		writeMsg(w, http.StatusBadRequest, "ifExists invalid")
		return nil, 0, false
	}
	switch rec.format {
	case "wav", "WAV", "gsm", "ulaw", "alaw", "sln", "sln16", "wav16", "wav49", "g722", "g729", "ogg", "au":
	default:
		writeMsg(w, http.StatusUnprocessableEntity, "specified format is unknown on this system")
		return nil, 0, false
	}
	if strings.Contains(rec.name, "..") || strings.HasPrefix(rec.name, "/") {
		writeMsg(w, http.StatusBadRequest, "Recording name invalid")
		return nil, 0, false
	}
	_, stored := s.stored[rec.name]
	if s.liveRecs[rec.name] != nil || (stored && (ifExists == "" || ifExists == "fail")) {
		writeMsg(w, http.StatusConflict, "Recording '"+rec.name+"' already exists and can not be overwritten")
		return nil, 0, false
	}
	return rec, maxDur, true
}

func (s *Server) recordChannel(w http.ResponseWriter, r *http.Request, ch *channel) {
	if ch.bridge != nil {
		writeMsg(w, http.StatusConflict, "Channel is currently bridged with other channels")
		return
	}
	rec, maxDur, ok := s.recOpts(w, r)
	if !ok {
		return
	}
	if ch.rec != nil {
		writeMsg(w, http.StatusConflict, "Channel is already being recorded")
		return
	}
	rec.ch, rec.target = ch, "channel:"+ch.id
	ch.rec = rec
	resp := rec.json()
	resp.State = "queued"
	if ch.state == stUp && ch.kind != kindSnoop {
		resp.State = "recording"
	}
	w.Header().Set("Location", "/recordings/live/"+url.PathEscape(rec.name))
	writeJSON(w, http.StatusCreated, resp)
	s.startRecLocked(rec)
	if maxDur > 0 {
		rec.t = s.afterLocked(secs(maxDur), func() { s.finishRecLocked(rec, "done") })
	}
}
