package aritest_test

import (
	"fmt"
	"time"

	"github.com/vnum/vnum/ari/aritest"
)

// A typical test: start the emulator, point the driver under test at
// URL()/WebsocketURL() with the same credentials, place a carrier call and
// assert what the parties experienced.
func Example() {
	s, err := aritest.New(aritest.Options{User: "vnum", Password: "test-only"})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	s.SetDestination("PJSIP/+33612345678@carrier", aritest.Behavior{RingEvent: true, AnswerAfter: 10 * time.Millisecond})

	// ... start the driver under test with s.URL(), s.WebsocketURL(), "vnum", "test-only"
	// and wait until s.Connected("vnum") ...

	caller, err := s.Inbound(aritest.InboundCall{DID: "15551230001", CallerNumber: "+14155550100"})
	if err != nil {
		fmt.Println("no app:", err, caller.SIPStatus()) // 603 Decline, as Asterisk without an app
		return
	}
	// ... wait for the callee, then:
	for _, callee := range s.CallsTo("PJSIP/+33612345678@carrier") {
		name, number := callee.CallerID() // the far end must see the DID
		fmt.Println(name, number)
	}
	caller.Hangup()
	<-caller.Done()
}
