package redisstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/internal/redistest"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// putMessages stores, for did: three voicemails a minute apart (oldest
// first: vm-1, vm-2, vm-3) and, between them, a call recording.
func putMessages(t *testing.T, s *redisstore.Store, did string, base time.Time) {
	t.Helper()
	ctx := context.Background()
	for _, r := range []routing.Recording{
		{Name: did + "-vm-1", CallID: "c1", DID: did, Kind: "voicemail", Caller: "…0123", Started: base, Duration: 12 * time.Second, Node: "n1", PBX: "asterisk"},
		{Name: did + "-call-2", CallID: "c2", DID: did, Kind: "call", Caller: "…0123", Started: base.Add(90 * time.Second), Duration: time.Minute},
		{Name: did + "-vm-2", CallID: "c3", DID: did, Kind: "voicemail", Caller: "anonymous", Started: base.Add(time.Minute), Duration: 3 * time.Second, Node: "n2", PBX: "freeswitch"},
		{Name: did + "-vm-3", CallID: "c4", DID: did, Kind: "voicemail", Caller: "hmac:00ff", Started: base.Add(2 * time.Minute), Duration: 40 * time.Second, Node: "n1", PBX: "asterisk"},
	} {
		if err := s.PutRecording(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
}

func names(recs []routing.Recording) string {
	var b []string
	for _, r := range recs {
		b = append(b, r.Name)
	}
	return strings.Join(b, ",")
}

func TestVoicemailListShowDelete(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{})
	rdb := srv.Client()
	other := "+33187650000"
	for _, d := range []string{did, other} {
		n := number()
		n.DID = d
		if err := s.AddNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond).UTC()
	putMessages(t, s, did, base)
	putMessages(t, s, other, base.Add(time.Second))

	// Newest first, voicemails only, this number's only.
	list, err := s.ListVoicemails(ctx, did)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := names(list), did+"-vm-3,"+did+"-vm-2,"+did+"-vm-1"; got != want {
		t.Fatalf("list = %s, want %s", got, want)
	}
	want := routing.Recording{Name: did + "-vm-2", CallID: "c3", DID: did, Kind: "voicemail", Caller: "anonymous",
		Started: base.Add(time.Minute), Duration: 3 * time.Second, Node: "n2", PBX: "freeswitch"}
	if list[1] != want {
		t.Fatalf("listed %+v, want %+v", list[1], want)
	}

	// Show.
	got, err := s.GetVoicemail(ctx, did, did+"-vm-2")
	if err != nil || got != want {
		t.Fatalf("show = %+v, %v; want %+v", got, err, want)
	}
	// A call recording, another number's message, an unknown name: not
	// this number's voicemail, and the error names what was asked.
	for _, c := range [][2]string{{did, did + "-call-2"}, {did, other + "-vm-1"}, {did, "nope"}, {other, did + "-vm-1"}} {
		if _, err := s.GetVoicemail(ctx, c[0], c[1]); !errors.Is(err, redisstore.ErrNotFound) || !strings.Contains(err.Error(), c[1]) {
			t.Errorf("show %s of %s: %v, want ErrNotFound naming it", c[1], c[0], err)
		}
	}

	// Delete: through another number or a call recording's name, nothing
	// happens.
	for _, c := range [][2]string{{other, did + "-vm-2"}, {did, did + "-call-2"}, {did, "nope"}} {
		if _, err := s.DeleteVoicemail(ctx, c[0], c[1]); !errors.Is(err, redisstore.ErrNotFound) || !strings.Contains(err.Error(), c[1]) {
			t.Errorf("delete %s of %s: %v, want ErrNotFound naming it", c[1], c[0], err)
		}
	}
	if n := rdb.Exists(ctx, "vnum:rec:{"+did+"-vm-2}", "vnum:rec:{"+did+"-call-2}").Val(); n != 2 {
		t.Fatalf("a refused delete removed something: %d of 2 left", n)
	}
	if q, err := s.QueuedDeletions(ctx); err != nil || len(q) != 0 {
		t.Fatalf("a refused delete queued %v (%v)", q, err)
	}
	del, err := s.DeleteVoicemail(ctx, did, did+"-vm-2")
	if err != nil || del != want {
		t.Fatalf("delete = %+v, %v", del, err)
	}
	if n := rdb.Exists(ctx, "vnum:rec:{"+did+"-vm-2}").Val(); n != 0 {
		t.Fatal("the message's metadata is still there")
	}
	// Its file waits for vnumd to delete it from the PBX.
	if q, err := s.QueuedDeletions(ctx); err != nil || strings.Join(q, ",") != did+"-vm-2" {
		t.Fatalf("deletion queue: %v (%v)", q, err)
	}
	if _, err := rdb.ZScore(ctx, "vnum:{"+did+"}:recs", did+"-vm-2").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("the message is still indexed: %v", err)
	}
	if list, _ := s.ListVoicemails(ctx, did); names(list) != did+"-vm-3,"+did+"-vm-1" {
		t.Fatalf("after delete: %s", names(list))
	}
	if _, err := s.GetVoicemail(ctx, did, did+"-vm-2"); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("show after delete: %v", err)
	}
	if _, err := s.DeleteVoicemail(ctx, did, did+"-vm-2"); !errors.Is(err, redisstore.ErrNotFound) || !strings.Contains(err.Error(), did+"-vm-2") {
		t.Fatalf("second delete: %v", err)
	}
	// The call recording and the other number's messages are untouched.
	if recs, _ := s.ListRecordings(ctx, did); names(recs) != did+"-vm-3,"+did+"-call-2,"+did+"-vm-1" {
		t.Fatalf("recordings after delete: %s", names(recs))
	}
	if list, _ := s.ListVoicemails(ctx, other); len(list) != 3 {
		t.Fatalf("other number: %s", names(list))
	}

	// A message whose metadata expired (retention) while its name is still
	// indexed is not listed.
	rdb.Del(ctx, "vnum:rec:{"+did+"-vm-3}")
	if list, err := s.ListVoicemails(ctx, did); err != nil || names(list) != did+"-vm-1" {
		t.Fatalf("after expiry: %s, %v", names(list), err)
	}

	// A number that never existed; one with no message.
	if _, err := s.ListVoicemails(ctx, "+33187659999"); !errors.Is(err, redisstore.ErrNotFound) || !strings.Contains(err.Error(), "+33187659999") {
		t.Fatalf("unknown number: %v", err)
	}
	n := number()
	n.DID = "+33187651111"
	if err := s.AddNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListVoicemails(ctx, n.DID); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("empty mailbox: %#v, %v", list, err)
	}
}

func TestMailboxSettings(t *testing.T) {
	ctx := context.Background()
	s, srv := newStore(t, redisstore.Options{})
	rdb := srv.Client()
	str := func(s string) *string { return &s }
	dur := func(d time.Duration) *time.Duration { return &d }

	// Unknown number: refused, nothing written.
	if _, err := s.GetMailbox(ctx, did); !errors.Is(err, redisstore.ErrNotFound) || !strings.Contains(err.Error(), did) {
		t.Fatalf("get, no number: %v", err)
	}
	if _, err := s.UpdateMailbox(ctx, did, redisstore.MailboxChange{Greeting: str("sound:vm-intro")}); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("update, no number: %v", err)
	}
	if keys := rdb.Keys(ctx, "*").Val(); len(keys) != 0 {
		t.Fatalf("wrote %v for a number that does not exist", keys)
	}

	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMailbox(ctx, did)
	if err != nil || m != routing.DefaultMailbox() {
		t.Fatalf("defaults: %+v, %v", m, err)
	}

	// Each setting changes alone.
	m, err = s.UpdateMailbox(ctx, did, redisstore.MailboxChange{Greeting: str("file:alice/hello.wav")})
	if err != nil || m != (routing.Mailbox{Greeting: "file:alice/hello.wav", MaxMessage: 2 * time.Minute}) {
		t.Fatalf("greeting: %+v, %v", m, err)
	}
	m, err = s.UpdateMailbox(ctx, did, redisstore.MailboxChange{MaxMessage: dur(45 * time.Second)})
	set := routing.Mailbox{Greeting: "file:alice/hello.wav", MaxMessage: 45 * time.Second}
	if err != nil || m != set {
		t.Fatalf("max: %+v, %v", m, err)
	}
	if m, err := s.GetMailbox(ctx, did); err != nil || m != set {
		t.Fatalf("read back: %+v, %v", m, err)
	}

	// Bad values: refused with the value named, nothing written.
	before := dumpAll(t, rdb)
	for _, c := range []struct {
		ch   redisstore.MailboxChange
		want error
		name string
	}{
		{redisstore.MailboxChange{Greeting: str("file:../../etc/passwd")}, routing.ErrBadGreeting, "../../etc/passwd"},
		{redisstore.MailboxChange{Greeting: str("sound:a\n\nb")}, routing.ErrBadGreeting, `a\n\nb`},
		{redisstore.MailboxChange{Greeting: str("hello.wav")}, routing.ErrBadGreeting, "hello.wav"},
		{redisstore.MailboxChange{Greeting: str("file:" + strings.Repeat("x", 129))}, routing.ErrBadGreeting, "xxxx"},
		{redisstore.MailboxChange{Greeting: str("sound:ok"), MaxMessage: dur(11 * time.Minute)}, routing.ErrBadMaxMessage, "11m"},
		{redisstore.MailboxChange{MaxMessage: dur(500 * time.Millisecond)}, routing.ErrBadMaxMessage, "500ms"},
		{redisstore.MailboxChange{MaxMessage: dur(-time.Second)}, routing.ErrBadMaxMessage, "-1s"},
	} {
		if _, err := s.UpdateMailbox(ctx, did, c.ch); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%+v: %v, want %v naming %q", c.ch, err, c.want, c.name)
		}
	}
	if err := s.SetMailbox(ctx, did, routing.Mailbox{Greeting: "sound:x y", MaxMessage: time.Minute}); !errors.Is(err, routing.ErrBadGreeting) {
		t.Errorf("set, bad greeting: %v", err)
	}
	if err := s.SetMailbox(ctx, did, routing.Mailbox{}); !errors.Is(err, routing.ErrBadMaxMessage) {
		t.Errorf("set, no max: %v", err)
	}
	if after := dumpAll(t, rdb); !equalDumps(before, after) {
		t.Fatalf("a refused change wrote something")
	}

	// Back to the defaults: nothing left stored.
	m, err = s.UpdateMailbox(ctx, did, redisstore.MailboxChange{Greeting: str(""), MaxMessage: dur(0)})
	if err != nil || m != routing.DefaultMailbox() {
		t.Fatalf("reset: %+v, %v", m, err)
	}
	if n := rdb.Exists(ctx, "vnum:{"+did+"}:mailbox").Val(); n != 0 {
		t.Fatal("a default mailbox is still stored")
	}
	if err := s.SetMailbox(ctx, did, set); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.GetMailbox(ctx, did); m != set {
		t.Fatalf("set: %+v", m)
	}

	// Updating the number keeps its mailbox; a new number on the same DID
	// (removed, released and handed out again) never hears the previous
	// owner's greeting, even though the old settings are still stored.
	n, _ := s.GetNumber(ctx, did)
	n.Owner = "alice2"
	if err := s.UpdateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.GetMailbox(ctx, did); m != set {
		t.Fatalf("after a number update: %+v", m)
	}
	if err := s.RemoveNumber(ctx, did); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetMailbox(ctx, did); !errors.Is(err, redisstore.ErrNotFound) {
		t.Fatalf("removed number: %v", err)
	}
	time.Sleep(2 * time.Millisecond) // a new creation time
	if err := s.AddNumber(ctx, number(func(n *routing.Number) { n.Owner = "bob" })); err != nil {
		t.Fatal(err)
	}
	if m, err := s.GetMailbox(ctx, did); err != nil || m != routing.DefaultMailbox() {
		t.Fatalf("new owner got %+v, %v", m, err)
	}
	m, err = s.UpdateMailbox(ctx, did, redisstore.MailboxChange{MaxMessage: dur(time.Minute)})
	if err != nil || m != (routing.Mailbox{MaxMessage: time.Minute}) {
		t.Fatalf("new owner's first change kept old settings: %+v, %v", m, err)
	}

	// A corrupt stored value is an error, not a silent default.
	rdb.HSet(ctx, "vnum:{"+did+"}:mailbox", "max_ms", "lots")
	if _, err := s.GetMailbox(ctx, did); !errors.Is(err, redisstore.ErrCorrupt) {
		t.Fatalf("corrupt: %v", err)
	}
}

// On a real Redis Cluster the message (slot of its name) and the number's
// index (slot of the DID) sit on different masters.
func TestVoicemailOnRedisCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	s := redisstore.New(rdb, redisstore.Options{})
	ctx := context.Background()
	if err := s.AddNumber(ctx, number()); err != nil {
		t.Fatal(err)
	}
	putMessages(t, s, did, time.Now().Add(-time.Hour))
	if list, err := s.ListVoicemails(ctx, did); err != nil || len(list) != 3 {
		t.Fatalf("list: %s, %v", names(list), err)
	}
	if _, err := s.DeleteVoicemail(ctx, did, did+"-vm-1"); err != nil {
		t.Fatal(err)
	}
	if list, err := s.ListVoicemails(ctx, did); err != nil || names(list) != did+"-vm-3,"+did+"-vm-2" {
		t.Fatalf("after delete: %s, %v", names(list), err)
	}
	m := routing.Mailbox{Greeting: "sound:vm-intro", MaxMessage: 30 * time.Second}
	if err := s.SetMailbox(ctx, did, m); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetMailbox(ctx, did); err != nil || got != m {
		t.Fatalf("mailbox: %+v, %v", got, err)
	}
}

func dumpAll(t *testing.T, rdb *redis.Client) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, k := range rdb.Keys(ctx, "*").Val() {
		out[k] = rdb.Dump(ctx, k).Val()
	}
	return out
}

func equalDumps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// BenchmarkGetMailbox: what the call flow pays to read a mailbox (one
// EVALSHA: the number's spec decoded server side to check the mailbox is
// this number's). Compare with BenchmarkRedisPing.
func BenchmarkGetMailbox(b *testing.B) {
	s, _ := newStore(b, redisstore.Options{})
	ctx := context.Background()
	if err := s.AddNumber(ctx, number()); err != nil {
		b.Fatal(err)
	}
	m := routing.Mailbox{Greeting: "file:alice/greeting", MaxMessage: time.Minute}
	if err := s.SetMailbox(ctx, did, m); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if got, err := s.GetMailbox(ctx, did); err != nil || got != m {
			b.Fatal(got, err)
		}
	}
}
