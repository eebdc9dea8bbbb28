package aritest

import (
	"time"
)

// Wire shapes, as Asterisk 22.10.1 sends them (see testdata/*.events.jsonl).

type idName struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

type dialplanJSON struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int    `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

type channelJSON struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	State        string            `json:"state"`
	ProtocolID   string            `json:"protocol_id"`
	Caller       idName            `json:"caller"`
	Connected    idName            `json:"connected"`
	Accountcode  string            `json:"accountcode"`
	Dialplan     dialplanJSON      `json:"dialplan"`
	Creationtime string            `json:"creationtime"`
	Language     string            `json:"language"`
	ChannelVars  map[string]string `json:"channelvars,omitempty"`
}

type bridgeJSON struct {
	ID           string   `json:"id"`
	Technology   string   `json:"technology"`
	BridgeType   string   `json:"bridge_type"`
	BridgeClass  string   `json:"bridge_class"`
	Creator      string   `json:"creator"`
	Name         string   `json:"name"`
	Channels     []string `json:"channels"`
	Creationtime string   `json:"creationtime"`
	VideoMode    string   `json:"video_mode"`
}

type recordingJSON struct {
	Name      string `json:"name"`
	Format    string `json:"format"`
	State     string `json:"state"`
	TargetURI string `json:"target_uri"`
	Duration  *int   `json:"duration,omitempty"`
	Cause     string `json:"cause,omitempty"`
}

type storedJSON struct {
	Name   string `json:"name"`
	Format string `json:"format"`
}

type playbackJSON struct {
	ID        string `json:"id"`
	MediaURI  string `json:"media_uri"`
	TargetURI string `json:"target_uri"`
	Language  string `json:"language"`
	State     string `json:"state"`
}

type endpointJSON struct {
	Technology string   `json:"technology"`
	Resource   string   `json:"resource"`
	State      string   `json:"state"`
	ChannelIDs []string `json:"channel_ids"`
}

type applicationJSON struct {
	Name             string   `json:"name"`
	ChannelIDs       []string `json:"channel_ids"`
	BridgeIDs        []string `json:"bridge_ids"`
	EndpointIDs      []string `json:"endpoint_ids"`
	DeviceNames      []string `json:"device_names"`
	EventsAllowed    []any    `json:"events_allowed"`
	EventsDisallowed []any    `json:"events_disallowed"`
}

type textMessageJSON struct {
	From      string            `json:"from"`
	To        string            `json:"to"`
	Body      string            `json:"body"`
	Variables map[string]string `json:"variables,omitempty"`
}

// wireEvent is every event type this emulator sends; unused fields are
// omitted. Pointers mark fields that must appear even when zero.
type wireEvent struct {
	Cause       *int             `json:"cause,omitempty"`
	CauseTxt    string           `json:"cause_txt,omitempty"`
	TechCause   int              `json:"tech_cause,omitempty"`
	Soft        bool             `json:"soft,omitempty"`
	Type        string           `json:"type"`
	Timestamp   string           `json:"timestamp"`
	Args        *[]string        `json:"args,omitempty"`
	Dialstatus  *string          `json:"dialstatus,omitempty"`
	Forward     *string          `json:"forward,omitempty"`
	Dialstring  string           `json:"dialstring,omitempty"`
	Caller      *channelJSON     `json:"caller,omitempty"`
	Peer        *channelJSON     `json:"peer,omitempty"`
	Digit       string           `json:"digit,omitempty"`
	DurationMs  int              `json:"duration_ms,omitempty"`
	Variable    string           `json:"variable,omitempty"`
	Value       *string          `json:"value,omitempty"`
	Bridge      *bridgeJSON      `json:"bridge,omitempty"`
	Channel     *channelJSON     `json:"channel,omitempty"`
	Recording   *recordingJSON   `json:"recording,omitempty"`
	Playback    *playbackJSON    `json:"playback,omitempty"`
	Endpoint    *endpointJSON    `json:"endpoint,omitempty"`
	Message     *textMessageJSON `json:"message,omitempty"`
	AsteriskID  string           `json:"asterisk_id"`
	Application string           `json:"application"`
}

const asteriskID = "02:fc:00:00:00:01"

func ariTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-0700") }

// Channel states as ARI names them.
const (
	stDown    = "Down"
	stRing    = "Ring"
	stRinging = "Ringing"
	stUp      = "Up"
)

type chanKind int

const (
	kindInbound chanKind = iota
	kindOriginated
	kindSnoop
)

type channel struct {
	id, name   string
	state      string
	protocolID string
	caller     idName
	connected  idName
	dp         dialplanJSON
	created    time.Time
	language   string
	vars       map[string]string

	kind     chanKind
	subs     []string // apps receiving this channel's events
	app      string   // Stasis app the channel is (or will be) in
	args     []string // Stasis args
	inStasis bool
	bridge   *bridge
	call     *Call
	endpoint string // originate endpoint, e.g. PJSIP/user-phone
	resource string // endpoint resource name, e.g. user-phone
	dialstr  string
	snoopOf  string
	snooped  int             // number of snoops on this channel
	muted    map[string]bool // muted directions: "in", "out"
	onHold   bool            // music on hold plays (POST .../moh)
	hungUp   bool
	dialing  bool // originate or /dial started

	timers   []*timer
	pbQueue  []*playback // [0] is playing
	rec      *liveRec
	timeout  time.Duration
	behavior Behavior
}

func (c *channel) json() *channelJSON {
	return &channelJSON{
		ID: c.id, Name: c.name, State: c.state, ProtocolID: c.protocolID,
		Caller: c.caller, Connected: c.connected, Dialplan: c.dp,
		Creationtime: ariTime(c.created), Language: c.language,
	}
}

type bridge struct {
	id, name, btype string
	tech            string
	created         time.Time
	members         []*channel
	subs            []string
	rec             *liveRec
	pbQueue         []*playback
	everOccupied    bool
	moh             bool
}

func (b *bridge) memberIDs() []string {
	ids := make([]string, 0, len(b.members))
	for _, m := range b.members {
		ids = append(ids, m.id)
	}
	return ids
}

func (b *bridge) json() *bridgeJSON {
	vm := "talker"
	if b.btype == "holding" {
		vm = "none"
	}
	return &bridgeJSON{
		ID: b.id, Technology: b.tech, BridgeType: b.btype, BridgeClass: "stasis",
		Creator: "Stasis", Name: b.name, Channels: b.memberIDs(),
		Creationtime: ariTime(b.created), VideoMode: vm,
	}
}

type liveRec struct {
	name, format string
	target       string // "channel:ID" or "bridge:ID"
	state        string // queued, recording
	started      time.Time
	startedEvent bool
	terminateOn  string
	ch           *channel
	br           *bridge
	t            *timer
}

func (r *liveRec) json() *recordingJSON {
	return &recordingJSON{Name: r.name, Format: r.format, State: r.state, TargetURI: r.target}
}

type playback struct {
	id       string
	media    []string
	target   string
	language string
	state    string
	ch       *channel
	br       *bridge
	t        *timer
}

func (p *playback) json() *playbackJSON {
	return &playbackJSON{ID: p.id, MediaURI: p.media[0], TargetURI: p.target, Language: p.language, State: p.state}
}

type application struct {
	name      string
	all       bool // connected with subscribeAll=true
	conn      *wsConn
	endpoints map[string]int // subscription ref counts
}

func (a *application) active() bool { return a.conn != nil }
