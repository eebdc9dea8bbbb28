package esltest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// hdr is one event header; events keep FreeSWITCH's header order.
type hdr struct{ k, v string }

// event is an event as the emulator fires it.
type event struct {
	name     string
	subclass string // for CUSTOM
	hdrs     []hdr
	body     string
}

func (e *event) add(k, v string) { e.hdrs = append(e.hdrs, hdr{k, v}) }

func (e *event) get(k string) string {
	for _, h := range e.hdrs {
		if h.k == k {
			return h.v
		}
	}
	return ""
}

// frame renders the event in the given format ("json" or "plain") as a
// complete ESL frame. Content-Length comes first, as FreeSWITCH sends it.
func (e *event) frame(format string) []byte {
	var body string
	ct := "text/event-plain"
	if format == "json" {
		ct = "text/event-json"
		body = e.json()
	} else {
		body = e.plain()
	}
	return []byte("Content-Length: " + strconv.Itoa(len(body)) + "\nContent-Type: " + ct + "\n\n" + body)
}

// plain is switch_event_serialize with URL encoding.
func (e *event) plain() string {
	var b strings.Builder
	for _, h := range e.hdrs {
		b.WriteString(h.k + ": " + urlEncode(h.v) + "\n")
	}
	if e.body != "" {
		b.WriteString("Content-Length: " + strconv.Itoa(len(e.body)) + "\n\n" + e.body)
	} else {
		b.WriteString("\n")
	}
	return b.String()
}

// json is switch_event_serialize_json (cJSON, unformatted).
func (e *event) json() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, h := range e.hdrs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(jsonQuote(h.k) + ":" + jsonQuote(h.v))
	}
	if e.body != "" {
		b.WriteString(`,"Content-Length":"` + strconv.Itoa(len(e.body)) + `","_body":` + jsonQuote(e.body))
	}
	b.WriteByte('}')
	return b.String()
}

func jsonQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 {
				fmt.Fprintf(&b, `\u%04x`, c)
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// urlEncode is switch_url_encode (no double encoding of an existing %XX).
func urlEncode(s string) string {
	const unsafe = " \"#%&+:;<=>?@[\\]^`{|}"
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		if c < ' ' || c > '~' || strings.IndexByte(unsafe, c) >= 0 {
			b.WriteByte('%')
			b.WriteByte(hexd[c>>4])
			b.WriteByte(hexd[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// newEvent starts an event with FreeSWITCH's common headers.
func (s *Server) newEvent(name, file, fn string, line int) *event {
	s.seq++
	now := time.Now()
	e := &event{name: name}
	e.add("Event-Name", name)
	e.add("Core-UUID", s.coreUUID)
	e.add("FreeSWITCH-Hostname", "vm")
	e.add("FreeSWITCH-Switchname", "vm")
	e.add("FreeSWITCH-IPv4", "192.0.2.2")
	e.add("FreeSWITCH-IPv6", "fd00::2")
	e.add("Event-Date-Local", now.Format("2006-01-02 15:04:05"))
	e.add("Event-Date-GMT", now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	e.add("Event-Date-Timestamp", strconv.FormatInt(now.UnixMicro(), 10))
	e.add("Event-Calling-File", file)
	e.add("Event-Calling-Function", fn)
	e.add("Event-Calling-Line-Number", strconv.Itoa(line))
	e.add("Event-Sequence", strconv.FormatUint(s.seq, 10))
	return e
}

// chanEvent builds a channel event with the channel's headers and
// variables, the way switch_channel_event_set_data does.
func (s *Server) chanEvent(name string, ch *channel, extra ...hdr) *event {
	e := s.newEvent(name, "switch_channel.c", "switch_channel_perform_"+strings.ToLower(name), 1)
	for _, h := range extra {
		if strings.HasPrefix(h.k, "Bridge-") {
			e.add(h.k, h.v)
		}
	}
	e.add("Channel-State", ch.state)
	e.add("Channel-Call-State", ch.callState)
	e.add("Channel-Name", ch.name)
	e.add("Unique-ID", ch.uuid)
	e.add("Call-Direction", ch.direction)
	e.add("Presence-Call-Direction", ch.direction)
	e.add("Channel-Call-UUID", ch.uuid)
	e.add("Answer-State", ch.answerState)
	if ch.cause != "" {
		e.add("Hangup-Cause", ch.cause)
	}
	e.add("Caller-Direction", ch.direction)
	e.add("Caller-Logical-Direction", ch.direction)
	e.add("Caller-Username", ch.cidNum)
	e.add("Caller-Dialplan", ch.dialplan)
	e.add("Caller-Caller-ID-Name", ch.cidName)
	e.add("Caller-Caller-ID-Number", ch.cidNum)
	e.add("Caller-Orig-Caller-ID-Name", ch.cidName)
	e.add("Caller-Orig-Caller-ID-Number", ch.cidNum)
	e.add("Caller-Network-Addr", "127.0.0.1")
	e.add("Caller-ANI", ch.cidNum)
	e.add("Caller-Destination-Number", ch.dest)
	e.add("Caller-Unique-ID", ch.uuid)
	e.add("Caller-Source", "mod_sofia")
	e.add("Caller-Context", "carrier")
	e.add("Caller-Channel-Name", ch.name)
	e.add("Caller-Channel-Created-Time", strconv.FormatInt(ch.created.UnixMicro(), 10))
	if ch.other != "" {
		e.add("Other-Type", ch.otherType)
		e.add("Other-Leg-Unique-ID", ch.other)
	}
	for _, h := range extra {
		if !strings.HasPrefix(h.k, "Bridge-") {
			e.add(h.k, h.v)
		}
	}
	for _, v := range ch.vars {
		e.add("variable_"+v.Name, v.Value)
	}
	return e
}
