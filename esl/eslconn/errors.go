package eslconn

import (
	"errors"
	"strings"
)

var (
	// ErrAuth means FreeSWITCH refused the password. The error text never
	// contains the password.
	ErrAuth = errors.New("esl: authentication failed")
	// ErrClosed is returned by calls on a Conn after Close or after the
	// connection was lost (Err tells why it ended).
	ErrClosed = errors.New("esl: connection closed")
	// ErrDisconnected means FreeSWITCH sent text/disconnect-notice or closed
	// the socket.
	ErrDisconnected = errors.New("esl: disconnected by FreeSWITCH")
	// ErrFrame means the byte stream is not valid ESL framing (bad or
	// missing Content-Length, header line without a colon, oversized frame,
	// EOF in the middle of a frame...). The connection cannot recover from it.
	ErrFrame = errors.New("esl: malformed frame")
	// ErrUnsafeArg means a command argument contains a byte that would end
	// or split the command on the wire (any byte < 0x20, or DEL), or a
	// variable name that is not [A-Za-z0-9_.-]+.
	ErrUnsafeArg = errors.New("esl: unsafe argument")
	// ErrCommandFailed is matched (errors.Is) by every *CommandError.
	ErrCommandFailed = errors.New("esl: command failed")
	// ErrEventBacklog means the consumer of Events() fell so far behind that
	// the connection was closed rather than dropping events silently.
	ErrEventBacklog = errors.New("esl: event consumer too slow")
)

// CommandError is FreeSWITCH's negative answer (-ERR, -USAGE) to a command.
// The connection stays usable.
type CommandError struct {
	Command string // the command verb and API name only, e.g. "api uuid_kill"; never arguments
	Reply   string // FreeSWITCH's text, e.g. "-ERR No such channel!"
}

func (e *CommandError) Error() string { return "esl: " + e.Command + ": " + e.Reply }

// Unwrap makes errors.Is(err, ErrCommandFailed) true.
func (e *CommandError) Unwrap() error { return ErrCommandFailed }

// isNegative reports whether a reply text is a FreeSWITCH failure.
func isNegative(s string) bool {
	return strings.HasPrefix(s, "-ERR") || strings.HasPrefix(s, "-USAGE")
}
