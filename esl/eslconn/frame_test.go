package eslconn

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// chunkReader returns the data in random small chunks, as TCP does.
type chunkReader struct {
	data []byte
	rnd  *rand.Rand
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := 1 + c.rnd.IntN(97)
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

func captures(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob("testdata/captures/*.fs2ctl.raw")
	if err != nil || len(files) < 30 {
		t.Fatalf("captures missing: %v (%d files)", err, len(files))
	}
	return files
}

// plainHeaderNames returns the distinct header names of a plain event body
// and the number of header lines, read independently of the parser.
func plainHeaderNames(body []byte) map[string]bool {
	head, _, _ := bytes.Cut(body, []byte("\n\n"))
	names := map[string]bool{}
	for _, l := range strings.Split(string(head), "\n") {
		if k, _, ok := strings.Cut(l, ": "); ok {
			names[k] = true
		}
	}
	return names
}

// TestCapturedStreams reads every byte FreeSWITCH 1.10.12 sent in the lab
// captures (in random TCP-like chunks) and checks that every frame and
// every event, plain or JSON, parses with all its headers.
func TestCapturedStreams(t *testing.T) {
	total := map[string]int{}
	for _, file := range captures(t) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		fr := NewFrameReader(&chunkReader{data: data, rnd: rand.New(rand.NewPCG(1, uint64(len(data))))}, 0)
		for {
			f, err := fr.ReadFrame()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			ct := f.ContentType()
			total[ct]++
			switch ct {
			case TypeEventJSON:
				ev, err := ParseEvent(f)
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				var raw map[string]json.RawMessage
				if err := json.Unmarshal(f.Body, &raw); err != nil {
					t.Fatal(err)
				}
				want := len(raw)
				if _, ok := raw["_body"]; ok {
					want--
					var b string
					_ = json.Unmarshal(raw["_body"], &b)
					if ev.Body != b {
						t.Errorf("%s: %s body %q, want %q", file, ev.Name, ev.Body, b)
					}
				}
				if len(ev.Headers) != want {
					t.Errorf("%s: %s has %d headers, JSON has %d", file, ev.Name, len(ev.Headers), want)
				}
				checkChannelEvent(t, file, ev)
			case TypeEventPlain:
				ev, err := ParseEvent(f)
				if err != nil {
					t.Fatalf("%s: %v", file, err)
				}
				names := plainHeaderNames(f.Body)
				if len(ev.Headers) != len(names) {
					t.Errorf("%s: %s has %d headers, body has %d names", file, ev.Name, len(ev.Headers), len(names))
				}
				for n := range names {
					if _, ok := ev.Headers[n]; !ok {
						t.Errorf("%s: %s lost header %q", file, ev.Name, n)
					}
				}
				checkChannelEvent(t, file, ev)
			case TypeAPIResponse, TypeDisconnectNotice:
				if f.Get("Content-Length") == "" {
					t.Errorf("%s: %s without Content-Length", file, ct)
				}
			}
		}
	}
	t.Logf("frames parsed from %d captures: %v", len(captures(t)), total)
	if total[TypeEventJSON] < 100 || total[TypeEventPlain] < 100 || total[TypeAPIResponse] < 20 {
		t.Errorf("too few frames parsed: %v", total)
	}
}

func checkChannelEvent(t *testing.T, file string, ev Event) {
	t.Helper()
	if ev.Name == "" || ev.Headers["Event-Name"] != ev.Name {
		t.Errorf("%s: event name %q", file, ev.Name)
	}
	if strings.HasPrefix(ev.Name, "CHANNEL_") && ev.Name != "CHANNEL_DATA" {
		if ev.Headers["Unique-ID"] == "" { // exact case, as FreeSWITCH sends it
			t.Errorf("%s: %s without Unique-ID (headers re-cased?)", file, ev.Name)
		}
		if ev.Get("unique-id") != ev.Headers["Unique-ID"] {
			t.Errorf("%s: case-insensitive Get differs", file)
		}
	}
	if gmt := ev.Headers["Event-Date-GMT"]; gmt != "" && !strings.Contains(gmt, " GMT") {
		t.Errorf("%s: Event-Date-GMT not decoded: %q", file, gmt)
	}
}

// TestPlainAndJSONAgree compares the same events received in JSON (conn1)
// and plain (conn2) form in the same scenario: after decoding they must
// carry identical headers and bodies.
func TestPlainAndJSONAgree(t *testing.T) {
	read := func(name string) map[string]Event {
		data, err := os.ReadFile("testdata/captures/" + name)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]Event{}
		fr := NewFrameReader(bytes.NewReader(data), 0)
		for {
			f, err := fr.ReadFrame()
			if errors.Is(err, io.EOF) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			if ct := f.ContentType(); ct == TypeEventJSON || ct == TypeEventPlain {
				ev, err := ParseEvent(f)
				if err != nil {
					t.Fatal(err)
				}
				out[ev.Headers["Event-Sequence"]] = ev
			}
		}
	}
	compared := 0
	for _, sc := range []string{"a_caller_hangup", "d_dtmf", "e_conference"} {
		js, pl := read(sc+".conn1.fs2ctl.raw"), read(sc+".conn2.fs2ctl.raw")
		for seq, j := range js {
			p, ok := pl[seq]
			if !ok {
				continue
			}
			compared++
			if j.Body != p.Body {
				t.Errorf("%s seq %s %s: body json %q plain %q", sc, seq, j.Name, j.Body, p.Body)
			}
			for k, v := range j.Headers {
				if p.Headers[k] != v {
					t.Errorf("%s seq %s %s: %s json %q plain %q", sc, seq, j.Name, k, v, p.Headers[k])
				}
			}
			if len(j.Headers) != len(p.Headers) {
				t.Errorf("%s seq %s %s: %d json headers, %d plain", sc, seq, j.Name, len(j.Headers), len(p.Headers))
			}
		}
	}
	if compared < 50 {
		t.Fatalf("only %d events seen in both forms", compared)
	}
	t.Logf("%d events identical in JSON and plain form", compared)
}

func TestSendMessageTwoContentLengths(t *testing.T) {
	data, err := os.ReadFile("testdata/captures/sms_message.conn1.fs2ctl.raw")
	if err != nil {
		t.Fatal(err)
	}
	fr := NewFrameReader(bytes.NewReader(data), 0)
	found := 0
	for {
		f, err := fr.ReadFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f.ContentType() != TypeEventPlain {
			continue
		}
		ev, err := ParseEvent(f)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Headers["Event-Subclass"] == "SMS::SEND_MESSAGE" {
			found++
			if !strings.HasPrefix(ev.Body, "Reply from vnum") && ev.Body == "" {
				t.Errorf("SEND_MESSAGE body %q", ev.Body)
			}
		}
		if ev.Name == "MESSAGE" && ev.Headers["from_user"] == "15550009999" && !strings.HasSuffix(ev.Body, "\r\n") {
			t.Errorf("inbound MESSAGE body %q lost its SIP CRLF", ev.Body)
		}
	}
	if found != 2 {
		t.Errorf("SEND_MESSAGE events: %d, want 2", found)
	}
}

func TestFrameErrors(t *testing.T) {
	big := strings.Repeat("x", 70<<10)
	tests := []struct {
		name    string
		in      string
		max     int
		wantErr error // nil: parses
		body    string
	}{
		{"api response", "Content-Type: api/response\nContent-Length: 4\n\n+OK\n", 0, nil, "+OK\n"},
		{"-ERR is data, not a read error", "Content-Type: api/response\nContent-Length: 22\n\n-ERR No such channel!\n", 0, nil, "-ERR No such channel!\n"},
		{"command reply -ERR", "Content-Type: command/reply\nReply-Text: -ERR invalid\n\n", 0, nil, ""},
		{"disconnect notice", "Content-Type: text/disconnect-notice\nContent-Length: 3\n\nbye", 0, nil, "bye"},
		{"CRLF tolerated", "Content-Type: command/reply\r\nReply-Text: +OK\r\n\r\n", 0, nil, ""},
		{"body over 64 KiB", "Content-Type: api/response\nContent-Length: 71680\n\n" + big, 0, nil, big},
		{"body over limit", "Content-Type: api/response\nContent-Length: 71680\n\n" + big, 1024, ErrFrame, ""},
		{"short body (EOF mid-frame)", "Content-Type: api/response\nContent-Length: 10\n\n+OK", 0, io.ErrUnexpectedEOF, ""},
		{"EOF in header block", "Content-Type: api/resp", 0, io.ErrUnexpectedEOF, ""},
		{"missing Content-Length on api/response", "Content-Type: api/response\n\n", 0, ErrFrame, ""},
		{"missing Content-Length on event", "Content-Type: text/event-json\n\n", 0, ErrFrame, ""},
		{"garbage Content-Length", "Content-Type: api/response\nContent-Length: 4x\n\nabcd", 0, ErrFrame, ""},
		{"negative Content-Length", "Content-Type: api/response\nContent-Length: -1\n\n", 0, ErrFrame, ""},
		{"empty Content-Length", "Content-Type: api/response\nContent-Length: \n\n", 0, ErrFrame, ""},
		{"huge Content-Length", "Content-Type: api/response\nContent-Length: 99999999999999999999\n\n", 0, ErrFrame, ""},
		{"header without colon", "Content-Type: api/response\ngarbage\n\n", 0, ErrFrame, ""},
		{"no Content-Type", "Reply-Text: +OK\n\n", 0, ErrFrame, ""},
		{"clean EOF", "", 0, io.EOF, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFrameReader(strings.NewReader(tt.in), tt.max).ReadFrame()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				if string(f.Body) != tt.body {
					t.Fatalf("body %q, want %q", clip(string(f.Body)), clip(tt.body))
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestHeaderCaseKept(t *testing.T) {
	body := "Event-Name: CHANNEL_PARK\nUnique-ID: a%20b%2Bc\n\n"
	in := "Content-Length: " + strconv.Itoa(len(body)) + "\nContent-Type: text/event-plain\n\n" + body
	f, err := NewFrameReader(strings.NewReader(in), 0).ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ParseEvent(f)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Headers["Unique-ID"] != "a b+c" {
		t.Fatalf("headers %v", ev.Headers)
	}
}

func TestJSONValuesAsStrings(t *testing.T) {
	body := `{"Event-Name":"CHANNEL_EXECUTE_COMPLETE","n":42,"f":1.50,"b":true,"z":null,"variable_DP_MATCH":["a=b","101"],"o":{"x":1},"_body":"hi"}`
	f := &Frame{Headers: []Header{{"Content-Type", TypeEventJSON}}, Body: []byte(body)}
	ev, err := ParseEvent(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Event-Name": "CHANNEL_EXECUTE_COMPLETE", "n": "42", "f": "1.50", "b": "true", "z": "",
		"variable_DP_MATCH": "ARRAY::a=b|:101", "o": `{"x":1}`}
	for k, v := range want {
		if ev.Headers[k] != v {
			t.Errorf("%s = %q, want %q", k, ev.Headers[k], v)
		}
	}
	if ev.Body != "hi" || len(ev.Headers) != len(want) {
		t.Errorf("body %q, headers %v", ev.Body, ev.Headers)
	}
}

// FuzzFrameReader feeds arbitrary bytes to the frame and event parsers:
// they must never panic, never return a body longer than the limit, and
// return exactly Content-Length bytes of body.
func FuzzFrameReader(f *testing.F) {
	for _, s := range []string{
		"Content-Type: api/response\nContent-Length: 4\n\n+OK\n",
		"Content-Type: api/response\nContent-Length: 10\n\n+OK",
		"Content-Type: api/response\n\n",
		"Content-Type: api/response\nContent-Length: 4x\n\nabcd",
		"Content-Type: api/response\nContent-Length: 70000\n\n" + strings.Repeat("y", 70000),
		"Content-Type: command/reply\nReply-Text: -ERR\n\n",
		"Content-Type: command/reply\nReply-Text: -ERR invalid\n\nContent-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n",
		"Content-Length: 30\nContent-Type: text/event-plain\n\nEvent-Name: X\nContent-Length: 9\n\n",
		"Content-Length: 20\nContent-Type: text/event-json\n\n{\"Event-Name\":[1,2]}",
		"Content-Type: auth/request\n\n",
	} {
		f.Add([]byte(s))
	}
	for _, name := range []string{"g_errors.conn1", "g_errors.conn2", "c1_busy.conn1", "caller_name_injection_3.conn1", "sms_message.conn1"} {
		data, err := os.ReadFile("testdata/captures/" + name + ".fs2ctl.raw")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 4096
		fr := NewFrameReader(bufio.NewReader(bytes.NewReader(data)), max)
		for i := 0; i < 1000; i++ {
			fm, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if len(fm.Body) > max {
				t.Fatalf("body %d bytes over limit", len(fm.Body))
			}
			if n, has, _ := contentLength(fm.Headers, max); has && n != len(fm.Body) {
				t.Fatalf("body %d bytes, Content-Length %d", len(fm.Body), n)
			}
			if ct := fm.ContentType(); ct == TypeEventJSON || ct == TypeEventPlain {
				ev, err := ParseEvent(fm)
				if err == nil && ev.Name == "" {
					t.Fatal("event without name accepted")
				}
			}
		}
	})
}
