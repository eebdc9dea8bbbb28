// Package aritest is a wire-level Asterisk ARI emulator for tests.
//
// A Server speaks ARI as Asterisk 22.10.1 does: REST under /ari/... (HTTP
// basic auth or ?api_key=user:password; parameters from the query string, a
// JSON body or a form body) and the event WebSocket
// GET /ari/events?app=NAME[&subscribeAll=true]. The production ARI client is
// what tests exercise: point it at URL() and WebsocketURL().
//
// Tests play the outside world: Inbound places a carrier call into
// Stasis(app, args...); SetDestination says how an originated endpoint
// answers (ring, answer, busy 486, no answer 480, no response 408 after
// Timer B, 503, hang up later). Every party is a *Call that records what it
// experienced: answered or not, the final SIP status, the hang-up cause, the
// tones it heard (ring, busy, congestion), the media played to it, the caller
// ID the far end was shown.
//
// Behaviour copied from real Asterisk captures (testdata/, replayed by
// TestFidelity):
//   - remote BYE: ChannelHangupRequest without cause; ARI DELETE: cause 32,
//     soft; caller CANCEL: 127/487; busy 17/486; no answer 19/480 with no
//     ChannelHangupRequest; no response 18/408 after Timer B.
//   - originated legs are subscribed from creation (Dial, ChannelStateChange,
//     ChannelDestroyed) but get StasisStart only when answered; the inbound
//     leg leaves at StasisEnd and never shows ChannelDestroyed.
//   - POST /ring answers 204, sends 180 and no event.
//   - a channel playback stopped by DELETE ends with PlaybackFinished "done".
//   - a bridge recording started on an empty bridge sends no
//     RecordingStarted; RecordingFinished comes when the bridge empties.
//   - bridges, channels and subscriptions survive a WebSocket disconnect;
//     events raised while no WebSocket is connected are lost; a call to
//     Stasis() with the application absent or inactive fails (603 Decline).
//   - a mixing bridge of three or more members (inbound or originated
//     alike) is a softmix one; every member's entry and exit is a
//     ChannelEnteredBridge / ChannelLeftBridge; an emptied bridge stays
//     until DELETE (e_conference). Call.Bridge tells which bridge a party
//     is in. Originated members take playbacks and send digits
//     (Call.SendDTMF) like inbound ones; digits need an answered call.
//   - DELETE /recordings/stored/NAME removes it from Recordings(); a second
//     DELETE is 404 (channel_record).
//   - a JSON body's string is one value (no comma splitting); query strings
//     split lists on commas.
//   - endpoint subscriptions are reference counted; a SIP MESSAGE reaches the
//     application only while it is subscribed to endpoint:PJSIP[/carrier].
//
// Not emulated: the dialplan (a channel that continues leaves Stasis and is
// hung up), media (a playback lasts Options.PlaybackDuration), most
// ChannelVarset events (only those caused by POST /variable), redirect,
// move, externalMedia, device states, mailboxes, sounds, user events.
//
// The event stream is served with golang.org/x/net/websocket, the library
// the CyCoreSystems client dials with.
//
// Every REST call and event is handled under one mutex with timers
// (time.AfterFunc) instead of goroutines per channel; each WebSocket has one
// writer. Measured with TestLoad on 2 shared cores, the controller and its
// HTTP/WebSocket clients in the same process: 10,000 concurrent forwarded
// calls at 1,000 setups/s offered, p50 setup 0.6-0.7 ms, p99 9-16 ms; it
// saturates at about 1,800-3,500 setups/s depending on the machine's load.
package aritest
