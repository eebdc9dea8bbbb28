package eslconn

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// Event is one FreeSWITCH event.
//
// Headers keeps every header with its name spelled exactly as FreeSWITCH
// sent it (Unique-ID, not Unique-Id) and every value as a string: JSON
// numbers keep their literal text, booleans read "true"/"false", JSON arrays
// (e.g. variable_DP_MATCH) are rendered the way FreeSWITCH itself renders a
// multi-value header in plain events, "ARRAY::a|:b". Plain-event values are
// URL-decoded. When a header occurs twice (SEND_MESSAGE events carry two
// Content-Length lines) the last one wins. The body (JSON "_body") is in
// Body, not in Headers.
type Event struct {
	Name    string
	Headers map[string]string
	Body    string
}

// Get looks a header up case-insensitively ("unique-id" finds
// "Unique-ID"); an exact-case hit is tried first.
func (e Event) Get(name string) string {
	if v, ok := e.Headers[name]; ok {
		return v
	}
	for k, v := range e.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// ParseEvent decodes a text/event-json or text/event-plain frame.
func ParseEvent(f *Frame) (Event, error) {
	switch ct := f.ContentType(); ct {
	case TypeEventJSON:
		return parseJSONEvent(f.Body)
	case TypeEventPlain:
		return parsePlainEvent(f.Body)
	default:
		return Event{}, fmt.Errorf("%w: %q is not an event", ErrFrame, clip(ct))
	}
}

func parseJSONEvent(b []byte) (Event, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return Event{}, fmt.Errorf("%w: json event: %w", ErrFrame, err)
	}
	if m == nil {
		return Event{}, fmt.Errorf("%w: json event is not an object", ErrFrame)
	}
	ev := Event{Headers: make(map[string]string, len(m))}
	for k, v := range m {
		s := jsonString(v)
		if k == "_body" {
			ev.Body = s
			continue
		}
		ev.Headers[k] = s
	}
	ev.Name = ev.Headers["Event-Name"]
	if ev.Name == "" {
		return Event{}, fmt.Errorf("%w: json event without Event-Name", ErrFrame)
	}
	return ev, nil
}

func jsonString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case []any:
		var sb strings.Builder
		sb.WriteString("ARRAY::")
		for i, e := range x {
			if i > 0 {
				sb.WriteString("|:")
			}
			sb.WriteString(jsonString(e))
		}
		return sb.String()
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func parsePlainEvent(b []byte) (Event, error) {
	r := bufio.NewReaderSize(bytes.NewReader(b), 64<<10)
	hdrs, err := readHeaderBlock(r, false)
	if err != nil {
		return Event{}, fmt.Errorf("plain event: %w", err)
	}
	ev := Event{Headers: make(map[string]string, len(hdrs))}
	for _, h := range hdrs {
		v, err := url.PathUnescape(h.Value)
		if err != nil {
			v = h.Value // FreeSWITCH encodes '%' as %25; keep a stray one verbatim
		}
		ev.Headers[h.Name] = v
	}
	n, has, err := contentLength(hdrs, len(b))
	if err != nil {
		return Event{}, fmt.Errorf("plain event: %w", err)
	}
	if has {
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return Event{}, fmt.Errorf("%w: plain event body: %w", ErrFrame, err)
		}
		ev.Body = string(body)
	}
	ev.Name = ev.Headers["Event-Name"]
	if ev.Name == "" {
		return Event{}, fmt.Errorf("%w: plain event without Event-Name", ErrFrame)
	}
	return ev, nil
}
