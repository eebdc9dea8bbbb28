package aritest

import (
	"net/http"
	"slices"
	"sort"
	"strings"
)

// Text messages, as Asterisk 22 handled them in the sms and
// x_sms_subscription_persists captures: an inbound SIP MESSAGE reaches
// the apps subscribed to endpoint:PJSIP[/carrier] (202), else the carrier
// gets 404; PUT /endpoints/sendMessage answers 202 (before the far end
// does) or 404 "Endpoint not found".

// Message is an SMS the application sent with PUT /endpoints/sendMessage.
type Message struct {
	To, From, Body string
	Variables      map[string]string
	// Endpoint is the destination as an originate endpoint would name it:
	// "PJSIP/+33612345678@carrier" for to=pjsip:PJSIP/+33612345678@carrier
	// (the dial-string form), "PJSIP/sip:bob@example.com" for
	// to=pjsip:sip:bob@example.com (default outbound endpoint),
	// "PJSIP/user-phone/sip:..." for to=pjsip:user-phone/sip:...
	Endpoint string
}

// Messages returns the messages sent through ARI, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.messages)
}

// MessagesTo returns the messages sent to an endpoint (Message.Endpoint),
// in order.
func (s *Server) MessagesTo(endpoint string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Message
	for _, m := range s.messages {
		if m.Endpoint == endpoint {
			out = append(out, m)
		}
	}
	return out
}

// messageDest resolves a sendMessage "to" (after its "pjsip:" prefix) to
// the endpoint resource that sends it and the originate-style endpoint.
func messageDest(to string) (res, endpoint string) {
	switch {
	case strings.HasPrefix(to, "PJSIP/"):
		// Dial-string form PJSIP/user@endpoint (or PJSIP/endpoint).
		d := strings.TrimPrefix(to, "PJSIP/")
		if _, ep, ok := strings.Cut(d, "@"); ok {
			return ep, to
		}
		return d, to
	case strings.HasPrefix(to, "sip:"), strings.HasPrefix(to, "sips:"), strings.HasPrefix(to, "<"), strings.HasPrefix(to, `"`):
		return "", "PJSIP/" + to // the default outbound endpoint
	}
	// endpoint, endpoint/aor, endpoint/<uri>, endpoint@domain
	ep, _, _ := strings.Cut(to, "/")
	ep, _, _ = strings.Cut(ep, "@")
	return ep, "PJSIP/" + to
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request) {
	p, err := parseParams(r)
	if err != nil {
		writeMsg(w, http.StatusBadRequest, err.Error())
		return
	}
	to, from, body := p.get("to"), p.get("from"), p.get("body")
	res := r.PathValue("res")
	endpoint := ""
	if res == "" {
		// to = "pjsip:user-phone/sip:+336...@host", "pjsip:name",
		// "pjsip:PJSIP/+336...@carrier" or "pjsip:sip:bob@host"
		tech, rest, _ := strings.Cut(to, ":")
		if !strings.EqualFold(tech, "pjsip") || rest == "" {
			writeMsg(w, http.StatusBadRequest, "Invalid to parameter")
			return
		}
		res, endpoint = messageDest(rest)
	} else {
		to = strings.ToLower(r.PathValue("tech")) + ":" + res
		endpoint = "PJSIP/" + res
	}
	if from == "" || (r.PathValue("res") == "" && to == "") {
		writeMsg(w, http.StatusBadRequest, "Missing parameter")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if res != "" && !s.endpoints[res] {
		writeMsg(w, http.StatusNotFound, "Endpoint not found")
		return
	}
	var vars map[string]string
	if v := p.vars(); v != nil {
		vars = v
	}
	s.messages = append(s.messages, Message{To: to, From: from, Body: body, Variables: vars, Endpoint: endpoint})
	w.WriteHeader(http.StatusAccepted)
}

// InboundMessage delivers a SIP MESSAGE from the carrier endpoint
// ("carrier"). As on Asterisk 22 it reaches ARI only if an application is
// subscribed to endpoint:PJSIP/carrier or endpoint:PJSIP; the returned SIP
// status is 202 then (even if that application is disconnected: the message
// is lost), else 404.
func (s *Server) InboundMessage(from, to, body string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	var subs []string
	for n, a := range s.apps {
		if a.endpoints["PJSIP/carrier"] > 0 || a.endpoints["PJSIP"] > 0 {
			subs = append(subs, n)
		}
	}
	if len(subs) == 0 {
		return 404
	}
	sort.Strings(subs)
	ev := s.newEvent("TextMessageReceived")
	ev.Endpoint = s.endpointJSONLocked("carrier")
	ev.Message = &textMessageJSON{From: from, To: to, Body: body, Variables: map[string]string{}}
	s.sendLocked(ev, subs)
	return 202
}
