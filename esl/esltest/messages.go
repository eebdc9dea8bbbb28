package esltest

import (
	"strconv"
	"strings"
)

// Text messages, as FreeSWITCH 1.10.12 with mod_sms handled them in the
// shared capture sms_message: an inbound SIP MESSAGE fires RECV_MESSAGE
// (fire-message-events=true) and two MESSAGE events (the chatplan's
// `fire`; the second with Nonblocking-Delivery: true), all three with the
// same Event-Sequence, the text as the event body; `sendevent CUSTOM` with
// Event-Subclass SMS::SEND_MESSAGE answers "+OK <uuid>" and delivers.

// SentMessage is a text message vnumd sent with sendevent
// SMS::SEND_MESSAGE.
type SentMessage struct {
	From    string // the from header, e.g. "+33187654321@sms.example"
	To      string // the to header, e.g. "external/sip:+336...@host"
	Profile string // sip_profile
	Body    string
	Headers map[string]string
}

// Messages returns the messages sent, in order.
func (s *Server) Messages() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMessage(nil), s.sentMessages...)
}

// MessagesTo returns the messages sent to a to header, in order.
func (s *Server) MessagesTo(to string) []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SentMessage
	for _, m := range s.sentMessages {
		if m.To == to {
			out = append(out, m)
		}
	}
	return out
}

// sendevent handles `sendevent NAME` (called with s.mu held) and returns
// the reply text. An SMS::SEND_MESSAGE is recorded when it has what
// mod_sms needs (proto, from, to in the "<profile>/sip:..." form a real
// FreeSWITCH required, and a body); others are accepted as FreeSWITCH
// accepts any event.
func (s *Server) sendevent(p *packet) string {
	name := strings.TrimSpace(strings.TrimPrefix(p.line, "sendevent"))
	if name == "CUSTOM" && p.get("Event-Subclass") == "SMS::SEND_MESSAGE" {
		to := p.get("to")
		profile, uri, ok := strings.Cut(to, "/")
		if p.get("proto") == "" || p.get("from") == "" || !ok || profile == "" || !strings.HasPrefix(uri, "sip:") {
			// mod_sms finds no way to deliver it: FreeSWITCH still
			// answers +OK (the delivery report says it failed).
			return "+OK " + newUUID()
		}
		h := map[string]string{}
		for _, x := range p.headers {
			h[x.name] = x.value
		}
		s.sentMessages = append(s.sentMessages, SentMessage{From: p.get("from"), To: to, Profile: p.get("sip_profile"),
			Body: p.body, Headers: h})
	}
	return "+OK " + newUUID()
}

// InboundMessage delivers a SIP MESSAGE from the carrier to the DID (its
// digits, as the carrier sends them) and fires what FreeSWITCH fires:
// RECV_MESSAGE, then two MESSAGE events from the chatplan (which sets
// vnum_sms_did), with one Event-Sequence. from is the sender's user part.
func (s *Server) InboundMessage(from, did, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	to := strings.TrimPrefix(did, "+")
	s.seq++
	seq := strconv.FormatUint(s.seq, 10)
	common := func(e *event) {
		for i, h := range e.hdrs {
			if h.k == "Event-Sequence" {
				e.hdrs[i].v = seq
			}
		}
		e.add("login", "sip:mod_sofia@127.0.0.1:5062")
		e.add("proto", "sip")
		e.add("to_proto", "sip")
		e.add("from", from+"@127.0.0.1")
		e.add("from_user", from)
		e.add("from_host", "127.0.0.1")
		e.add("to_user", to)
		e.add("to_host", "127.0.0.1")
		e.add("from_sip_ip", "127.0.0.1")
		e.add("from_sip_port", "5072")
		e.add("to", to+"@127.0.0.1")
		e.add("subject", "SIMPLE MESSAGE")
		e.add("context", "carrier")
		e.add("type", "text/plain")
		e.add("from_full", `"Carrier SMS" <sip:`+from+`@127.0.0.1:5072>;tag=`+newUUID()[:8])
		e.add("sip_profile", "lab")
		e.body = body
	}
	recv := s.newEvent("RECV_MESSAGE", "sofia_presence.c", "sofia_presence_handle_sip_i_message", 4889)
	s.seq--
	// RECV_MESSAGE has Event-Name last (a real FreeSWITCH quirk).
	recv.hdrs = recv.hdrs[1:]
	common(recv)
	recv.add("Event-Name", "RECV_MESSAGE")
	s.emit(recv)
	for i := range 2 {
		m := s.newEvent("MESSAGE", "sofia_presence.c", "sofia_presence_handle_sip_i_message", 4889)
		s.seq--
		common(m)
		m.add("dest_proto", "sip")
		m.add("max_forwards", "70")
		m.add("DP_MATCH", to)
		m.add("vnum_sms_did", to)
		if i == 1 {
			m.add("Nonblocking-Delivery", "true")
		}
		s.emit(m)
	}
}
