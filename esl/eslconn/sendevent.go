package eslconn

import (
	"context"
	"fmt"
	"strconv"
	"strings"
)

// SendEvent fires an event in FreeSWITCH: `sendevent <name>`, one
// "Name: value" line per header, and the body after a Content-Length
// header (FreeSWITCH reads exactly that many bytes, so the body may hold
// anything, blank lines included: it can never start a command). It
// returns FreeSWITCH's reply text after "+OK " (the event's UUID). Names
// must be one word of [A-Za-z0-9_:.-]; values are checked with CheckArg
// (no control character can end a header line and start another); the
// caller must not give Content-Length (it is computed). A "-ERR" reply is
// a *CommandError.
//
// Used for `sendevent CUSTOM` with Event-Subclass SMS::SEND_MESSAGE
// (mod_sms), as in the shared capture sms_message.
func (c *Conn) SendEvent(ctx context.Context, name string, headers []Header, body string) (string, error) {
	if !headerName(name) {
		return "", fmt.Errorf("esl: sendevent: %w: event name %q", ErrUnsafeArg, clip(Sanitize(name)))
	}
	var b strings.Builder
	b.WriteString("sendevent " + name + "\n")
	for _, h := range headers {
		if !headerName(h.Name) || strings.EqualFold(h.Name, "Content-Length") {
			return "", fmt.Errorf("esl: sendevent %s: %w: header name %q", name, ErrUnsafeArg, clip(Sanitize(h.Name)))
		}
		if err := CheckArg(h.Value); err != nil {
			return "", fmt.Errorf("esl: sendevent %s: header %s: %w", name, h.Name, err)
		}
		b.WriteString(h.Name + ": " + h.Value + "\n")
	}
	if body != "" {
		b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\n\n" + body)
	} else {
		b.WriteString("\n")
	}
	f, err := c.command(ctx, "sendevent "+name, b.String(), "")
	if err != nil {
		return "", err
	}
	rt := f.Get("Reply-Text")
	if !strings.HasPrefix(rt, "+OK") {
		return "", &CommandError{Command: "sendevent " + name, Reply: rt}
	}
	return strings.TrimSpace(strings.TrimPrefix(rt, "+OK")), nil
}

// headerName reports whether s is a safe event or header name.
func headerName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_:.-", c) >= 0) {
			return false
		}
	}
	return true
}
