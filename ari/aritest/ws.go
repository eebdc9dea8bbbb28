package aritest

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// A minimal RFC 6455 server side: enough for ARI's event stream (server sends
// text frames, client sends nothing but control frames). Written by hand
// because golang.org/x/net is not in this module's go.sum (see package doc).

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

var errWSProtocol = errors.New("aritest: websocket protocol error")

func wsAccept(key string) string {
	h := sha1.New()
	h.Write([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// wsUpgrade performs the server handshake and hijacks the connection.
func wsUpgrade(w http.ResponseWriter, r *http.Request) (net.Conn, *bufio.Reader, error) {
	if r.Method != http.MethodGet || !headerHasToken(r.Header, "Connection", "upgrade") ||
		!headerHasToken(r.Header, "Upgrade", "websocket") {
		return nil, nil, fmt.Errorf("%w: not a websocket upgrade", errWSProtocol)
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if key == "" || r.Header.Get("Sec-WebSocket-Version") != "13" {
		return nil, nil, fmt.Errorf("%w: bad key or version", errWSProtocol)
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("aritest: hijack: %w", err)
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: " + wsAccept(key) + "\r\n\r\n"
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(resp)); err != nil {
		_ = conn.Close()
		return nil, nil, fmt.Errorf("aritest: websocket handshake: %w", err)
	}
	return conn, brw.Reader, nil
}

const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// wsWriteFrame writes one unmasked (server) or masked (client) frame.
func wsWriteFrame(w io.Writer, op byte, payload []byte, mask bool) error {
	hdr := make([]byte, 0, 14)
	hdr = append(hdr, 0x80|op)
	mbit := byte(0)
	if mask {
		mbit = 0x80
	}
	n := len(payload)
	switch {
	case n < 126:
		hdr = append(hdr, mbit|byte(n))
	case n <= 0xFFFF:
		hdr = append(hdr, mbit|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, mbit|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	if mask {
		key := [4]byte{0x12, 0x34, 0x56, 0x78}
		hdr = append(hdr, key[:]...)
		p := make([]byte, n)
		for i := range payload {
			p[i] = payload[i] ^ key[i%4]
		}
		payload = p
	}
	if _, err := w.Write(append(hdr, payload...)); err != nil {
		return err
	}
	return nil
}

// maxFrame bounds what a peer may make us allocate.
const maxFrame = 1 << 20

// wsReadFrame reads one frame (fragmentation is not used by ARI peers; a
// continuation is returned as is).
func wsReadFrame(r io.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	op = h[0] & 0x0F
	masked := h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return 0, nil, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > maxFrame {
		return 0, nil, fmt.Errorf("%w: frame of %d bytes", errWSProtocol, n)
	}
	var key [4]byte
	if masked {
		if _, err = io.ReadFull(r, key[:]); err != nil {
			return 0, nil, err
		}
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return op, payload, nil
}

// wsConn is one connected application WebSocket: a queue of encoded events
// drained by the connection's own writer (the HTTP handler goroutine).
type wsConn struct {
	conn   net.Conn
	apps   []string
	mu     sync.Mutex
	queue  [][]byte
	signal chan struct{}
	done   chan struct{}
	once   sync.Once
	wmu    sync.Mutex // serialises frame writes (events, pongs, close)
}

func newWSConn(c net.Conn, apps []string) *wsConn {
	return &wsConn{conn: c, apps: apps, signal: make(chan struct{}, 1), done: make(chan struct{})}
}

func (c *wsConn) enqueue(msg []byte) {
	c.mu.Lock()
	c.queue = append(c.queue, msg)
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func (c *wsConn) take() [][]byte {
	c.mu.Lock()
	q := c.queue
	c.queue = nil
	c.mu.Unlock()
	return q
}

// close asks run to stop; a write blocked on a peer that does not read is
// cut short.
func (c *wsConn) close() {
	c.once.Do(func() {
		close(c.done)
		_ = c.conn.SetWriteDeadline(time.Now().Add(closeGrace))
	})
}

const closeGrace = 100 * time.Millisecond

func (c *wsConn) write(op byte, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	d := 5 * time.Second
	select {
	case <-c.done:
		d = closeGrace
	default:
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(d))
	return wsWriteFrame(c.conn, op, p, false)
}

// run drains the queue until the connection is closed by either side. It
// owns one reader goroutine and waits for it.
func (c *wsConn) run(br *bufio.Reader) {
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		defer c.close()
		for {
			op, p, err := wsReadFrame(br)
			if err != nil {
				return
			}
			switch op {
			case opClose:
				_ = c.write(opClose, p)
				return
			case opPing:
				_ = c.write(opPong, p)
			}
		}
	}()
loop:
	for {
		select {
		case <-c.done:
			break loop
		case <-c.signal:
		}
		for _, m := range c.take() {
			if err := c.write(opText, m); err != nil {
				break loop
			}
		}
	}
	c.close()
	_ = c.write(opClose, []byte{0x03, 0xE8})
	_ = c.conn.Close()
	<-readerDone
}
