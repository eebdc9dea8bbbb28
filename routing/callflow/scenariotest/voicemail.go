package scenariotest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vnum/vnum/routing"
)

// busyVoicemail: a busy owner, the caller hears the number's own greeting,
// leaves a message ended by '#'; the owner lists it and deletes it, and the file goes
// from the PBX too.
func busyVoicemail(t *testing.T, e *Env) {
	ctx := context.Background()
	addNumber(t, e, func(n *routing.Number) { n.Route.Voicemail = true })
	if err := e.Store.SetMailbox(ctx, did, routing.Mailbox{Greeting: "sound:vnum-owner-greeting", MaxMessage: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	e.PBX.Target(mobile, Behavior{Busy: true})
	c := e.PBX.Inbound(t, did, caller, callerNam)
	eventually(t, "the owner's greeting and the beep", func() bool { return heardLike(c, "vnum-owner-greeting") && heard(c, "beep") })
	if heard(c, "voicemail-greeting") {
		t.Fatalf("the default greeting played though the mailbox has its own: %v", c.Heard())
	}
	time.Sleep(300 * time.Millisecond)
	c.Press("#") // done: the message ends and vnumd hangs up
	wait(t, c, "the caller after pressing # at the end of the message")
	var msgs []routing.Recording
	eventually(t, "the message listed", func() bool {
		msgs, _ = e.Store.ListVoicemails(ctx, did)
		return len(msgs) == 1
	})
	if msgs[0].Caller == caller {
		t.Fatalf("the message keeps the caller's full number under a last4 policy: %+v", msgs[0])
	}
	name := msgs[0].Name
	eventually(t, "the message's file on the PBX", func() bool {
		return slices.ContainsFunc(e.PBX.Recordings(), func(r string) bool { return containsName(r, name) })
	})
	if _, err := e.Store.DeleteVoicemail(ctx, did, name); err != nil {
		t.Fatal(err)
	}
	if msgs, _ := e.Store.ListVoicemails(ctx, did); len(msgs) != 0 {
		t.Fatalf("still listed after delete: %+v", msgs)
	}
	eventually(t, "the message's file deleted from the PBX by vnumd", func() bool {
		return !slices.ContainsFunc(e.PBX.Recordings(), func(r string) bool { return containsName(r, name) })
	})
}

// containsName reports whether a PBX's recording entry (a name or a path)
// is the recording name.
func containsName(entry, name string) bool {
	return entry == name || len(entry) > len(name) && entry[len(entry)-len(name)-1] == '/' && entry[len(entry)-len(name):] == name ||
		len(entry) >= len(name) && entry[:len(name)] == name && (len(entry) == len(name) || entry[len(name)] == '.')
}
