package eslconn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits of the frame reader. FreeSWITCH's largest normal frames are
// CHANNEL_* events of 5–10 KiB and `show channels` bodies; 1 MiB leaves
// plenty of room while bounding memory per connection.
const (
	DefaultMaxBody   = 1 << 20 // bytes of one Content-Length body
	maxHeaderLine    = 64 << 10
	maxHeaderLines   = 1024
	maxLeadingBlanks = 16
)

// Content types FreeSWITCH sends to an inbound controller.
const (
	TypeAuthRequest      = "auth/request"
	TypeCommandReply     = "command/reply"
	TypeAPIResponse      = "api/response"
	TypeEventJSON        = "text/event-json"
	TypeEventPlain       = "text/event-plain"
	TypeDisconnectNotice = "text/disconnect-notice"
)

// Header is one "Name: value" line, name spelled exactly as received.
type Header struct{ Name, Value string }

// Frame is one ESL message: its outer header block and its body.
type Frame struct {
	Headers []Header
	Body    []byte
}

// Get returns the value of the first header whose name matches
// case-insensitively, or "".
func (f *Frame) Get(name string) string {
	for _, h := range f.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// ContentType is shorthand for Get("Content-Type").
func (f *Frame) ContentType() string { return f.Get("Content-Type") }

// FrameReader reads ESL frames from a byte stream. It never panics on
// hostile input: every malformation is an error wrapping ErrFrame (or
// io.ErrUnexpectedEOF for a stream that ends inside a frame).
type FrameReader struct {
	r       *bufio.Reader
	maxBody int
}

// NewFrameReader returns a reader with the given body limit (<= 0 means
// DefaultMaxBody).
func NewFrameReader(r io.Reader, maxBody int) *FrameReader {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	return &FrameReader{r: bufio.NewReaderSize(r, 64<<10), maxBody: maxBody}
}

// ReadFrame returns the next frame. At a clean end of stream (between
// frames) it returns io.EOF.
func (fr *FrameReader) ReadFrame() (*Frame, error) {
	hdrs, err := readHeaderBlock(fr.r, true)
	if err != nil {
		return nil, err
	}
	f := &Frame{Headers: hdrs}
	if f.ContentType() == "" {
		return nil, fmt.Errorf("%w: no Content-Type", ErrFrame)
	}
	n, has, err := contentLength(hdrs, fr.maxBody)
	if err != nil {
		return nil, err
	}
	if !has {
		switch f.ContentType() {
		case TypeAPIResponse, TypeEventJSON, TypeEventPlain:
			return nil, fmt.Errorf("%w: %s without Content-Length", ErrFrame, f.ContentType())
		}
		return f, nil
	}
	f.Body = make([]byte, n)
	if _, err := io.ReadFull(fr.r, f.Body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: body: %w", ErrFrame, err)
	}
	return f, nil
}

// contentLength validates the (last) Content-Length header: only ASCII
// digits, at most max.
func contentLength(hdrs []Header, max int) (n int, has bool, err error) {
	var v string
	for _, h := range hdrs {
		if strings.EqualFold(h.Name, "Content-Length") {
			v, has = h.Value, true
		}
	}
	if !has {
		return 0, false, nil
	}
	if v == "" || len(v) > 10 {
		return 0, true, fmt.Errorf("%w: bad Content-Length %q", ErrFrame, clip(v))
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, true, fmt.Errorf("%w: bad Content-Length %q", ErrFrame, clip(v))
		}
	}
	n, err = strconv.Atoi(v)
	if err != nil || n > max {
		return 0, true, fmt.Errorf("%w: Content-Length %s exceeds limit %d", ErrFrame, clip(v), max)
	}
	return n, true, nil
}

func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// readHeaderBlock reads "Name: value" lines up to a blank line. outer
// selects the behaviour at the start of a frame: leading blank lines are
// skipped (bounded) and EOF before any byte is a clean io.EOF. For an inner
// block (plain event body) EOF ends the block.
func readHeaderBlock(r *bufio.Reader, outer bool) ([]Header, error) {
	var hdrs []Header
	blanks := 0
	for {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxHeaderLine {
			return nil, fmt.Errorf("%w: header line longer than %d bytes", ErrFrame, maxHeaderLine)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				if !outer {
					if len(line) > 0 {
						h, herr := parseHeaderLine(line)
						if herr != nil {
							return nil, herr
						}
						hdrs = append(hdrs, h)
					}
					return hdrs, nil
				}
				if len(hdrs) == 0 && len(line) == 0 {
					return nil, io.EOF
				}
				return nil, fmt.Errorf("%w: header block: %w", ErrFrame, io.ErrUnexpectedEOF)
			}
			return nil, err
		}
		line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
		if len(line) == 0 {
			if len(hdrs) == 0 && outer {
				blanks++
				if blanks > maxLeadingBlanks {
					return nil, fmt.Errorf("%w: too many blank lines", ErrFrame)
				}
				continue
			}
			return hdrs, nil
		}
		if len(hdrs) >= maxHeaderLines {
			return nil, fmt.Errorf("%w: more than %d header lines", ErrFrame, maxHeaderLines)
		}
		h, err := parseHeaderLine(line)
		if err != nil {
			return nil, err
		}
		hdrs = append(hdrs, h)
	}
}

func parseHeaderLine(line []byte) (Header, error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return Header{}, fmt.Errorf("%w: header line without name: %q", ErrFrame, clip(string(line)))
	}
	name := string(line[:i])
	val := line[i+1:]
	if len(val) > 0 && val[0] == ' ' {
		val = val[1:]
	}
	return Header{Name: name, Value: string(val)}, nil
}
