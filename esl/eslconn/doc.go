// Package eslconn is vnum's client for the FreeSWITCH Event Socket (ESL) in
// inbound mode: vnumd connects to FreeSWITCH, authenticates, subscribes to
// JSON events and drives calls with api, bgapi and sendmsg.
//
// The wire framing is implemented here rather than taken from
// github.com/0x19/goesl; esl/README.md explains why, defect by defect.
//
// One Conn multiplexes three kinds of traffic on one TCP stream:
//
//   - replies (command/reply, api/response), which FreeSWITCH sends strictly
//     in the order of the commands; they are paired with a FIFO of waiting
//     commands, never with events;
//   - events (text/event-json, text/event-plain), delivered on Events();
//     BACKGROUND_JOB events of jobs started by BgAPI are routed to the
//     waiting BgAPI call by Job-UUID instead;
//   - text/disconnect-notice, after which FreeSWITCH closes the socket.
//
// Caller-supplied text must go through QuoteVar / OriginateVars / SetVarValue
// (or at least CheckArg) before it is put into any command; API, BgAPI and
// SendMsg reject control characters in every argument themselves.
package eslconn
