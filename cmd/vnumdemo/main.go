// Command vnumdemo shows vnum at work without a PBX or a Redis: vnumd's
// daemon drives a PBX emulator (Asterisk's ARI or FreeSWITCH's ESL, the
// same emulators the tests use) through scripted calls, with an embedded
// Redis (miniredis, which runs the same Lua decision script), and prints a
// timeline and the resulting CDRs.
//
//	make demo              # Asterisk
//	make demo PBX=freeswitch
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/vnum/vnum/internal/daemon"
	"github.com/vnum/vnum/internal/redisconn"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
	"github.com/vnum/vnum/routing/redisstore"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout)) }

// phone is one party outside the PBX, as an emulator shows it.
type phone interface {
	Hangup()
	Done() <-chan struct{}
	Answered() bool
	CallerID() (name, number string)
	Heard() []string
}

// behavior of a target phone.
type behavior struct {
	answerAfter, hangupAfter time.Duration
	busy, noAnswer           bool
}

// world is a PBX emulator and the driver that drives it.
type world interface {
	name() string
	driver(log *slog.Logger) (callflow.Driver, error)
	connected() bool
	inbound(did, number, name string) (phone, error)
	target(t routing.Target, b behavior)
	reached(t routing.Target) []phone
	recordings() []string
	close()
}

const (
	did     = "+33187654321"
	mobile  = "+33612345678"
	desk    = "+33140000000"
	caller  = "+447700900123"
	spammer = "+14155550199"
)

func run(args []string, out io.Writer) int {
	fs := flag.NewFlagSet("vnumdemo", flag.ContinueOnError)
	pbx := fs.String("pbx", "asterisk", "asterisk or freeswitch")
	verbose := fs.Bool("v", false, "print vnumd's own log lines too")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	w, err := newWorld(*pbx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vnumdemo: %v\n", err)
		return 2
	}
	defer w.close()
	if err := demo(w, out, *verbose); err != nil {
		fmt.Fprintf(os.Stderr, "vnumdemo: %v\n", err)
		return 1
	}
	return 0
}

func newWorld(pbx string) (world, error) {
	switch pbx {
	case "asterisk":
		return newAsterisk()
	case "freeswitch":
		return newFreeSWITCH()
	}
	return nil, fmt.Errorf("-pbx %q: want asterisk or freeswitch", pbx)
}

func demo(w world, out io.Writer, verbose bool) error {
	start := time.Now()
	say := func(format string, a ...any) {
		fmt.Fprintf(out, "%6.2fs  %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}
	mr, err := miniredis.Run()
	if err != nil {
		return err
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	store := redisstore.New(rdb, redisstore.Options{})
	ctx := context.Background()

	logOut := io.Discard
	if verbose {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	redisconn.RouteLogs(nil)

	fmt.Fprintf(out, "vnum demo on %s (emulated), embedded Redis\n\n", w.name())
	n := routing.Number{DID: did, Owner: "alice",
		Route: routing.Route{Targets: []routing.Target{{E164: mobile}, {E164: desk}}, RingTimeout: 2 * time.Second,
			Voicemail: false, Record: true}}
	if err := store.AddNumber(ctx, n); err != nil {
		return err
	}
	if err := store.AddEntry(ctx, redisstore.Blocklist, did, routing.Entry{Pattern: routing.Pattern(spammer), Reason: "robocalls"}); err != nil {
		return err
	}
	say("provisioned %s (owner alice): forward to %s then %s, record, caller ID = the DID", did, mobile, desk)
	say("blocked %s on %s (reason: robocalls)", spammer, did)

	drv, err := w.driver(log)
	if err != nil {
		return err
	}
	d, err := daemon.New(daemon.Config{Node: "demo", Region: "FR", Redis: rdb, Driver: drv, Logger: log,
		Fallback: callflow.Fallback{Action: routing.ActionReject}, Privacy: routing.Privacy{Caller: routing.StoreLast4}})
	if err != nil {
		return err
	}
	dctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(dctx) }()
	defer func() { stop(); <-done }()
	<-d.Ready()
	for deadline := time.Now().Add(5 * time.Second); !w.connected(); {
		if time.Now().After(deadline) {
			return fmt.Errorf("vnumd did not connect to the %s emulator", w.name())
		}
		time.Sleep(10 * time.Millisecond)
	}
	say("vnumd connected to %s", w.name())
	fmt.Fprintln(out)

	waitEnd := func(p phone, max time.Duration) {
		select {
		case <-p.Done():
		case <-time.After(max):
		}
	}
	waitAnswered := func(p phone) bool {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if p.Answered() {
				return true
			}
		}
		return false
	}
	showCallee := func(ps []phone) {
		for _, p := range ps {
			name, num := p.CallerID()
			say("   the phone rung saw caller ID %q <%s>: the DID, never the caller", name, num)
		}
	}

	// 1. Forwarded and masked; the caller hangs up.
	say("call 1: %s (\"Alice Caller\") calls %s; the mobile answers", caller, did)
	w.target(routing.Target{E164: mobile}, behavior{answerAfter: 300 * time.Millisecond})
	c, err := w.inbound(did, caller, "Alice Caller")
	if err != nil {
		return err
	}
	if waitAnswered(c) {
		say("   bridged to %s, recording", mobile)
	}
	showCallee(w.reached(routing.Target{E164: mobile}))
	time.Sleep(700 * time.Millisecond)
	c.Hangup()
	waitEnd(c, 5*time.Second)
	say("   the caller hung up; vnumd hung up the mobile and wrote the CDR")

	// 2. Blocked.
	say("call 2: blocked %s calls %s", spammer, did)
	c, err = w.inbound(did, spammer, "Robo")
	if err != nil {
		return err
	}
	waitEnd(c, 5*time.Second)
	say("   the caller heard %v; no phone rang (a block is never announced)", c.Heard())

	// 3. Busy, then the next target; the callee hangs up.
	say("call 3: +447700900456 calls %s; the mobile is busy, the desk answers and hangs up after 1 s", did)
	w.target(routing.Target{E164: mobile}, behavior{busy: true})
	w.target(routing.Target{E164: desk}, behavior{answerAfter: 200 * time.Millisecond, hangupAfter: time.Second})
	c, err = w.inbound(did, "+447700900456", "Bob")
	if err != nil {
		return err
	}
	waitEnd(c, 8*time.Second)
	say("   the desk answered after the busy mobile; the callee hung up and vnumd ended the caller's leg")

	// 4. The caller gives up while the targets ring.
	say("call 4: +447700900789 calls %s and hangs up while it rings", did)
	w.target(routing.Target{E164: mobile}, behavior{noAnswer: true})
	c, err = w.inbound(did, "+447700900789", "Carol")
	if err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	c.Hangup()
	waitEnd(c, 5*time.Second)
	time.Sleep(200 * time.Millisecond)
	say("   the ringing target was cancelled at once")

	// 5. A number that does not exist.
	say("call 5: someone calls +33100000000, which vnum does not hold")
	c, err = w.inbound("+33100000000", "+447700900999", "Dave")
	if err != nil {
		return err
	}
	waitEnd(c, 5*time.Second)
	say("   the caller heard %v", c.Heard())

	for deadline := time.Now().Add(5 * time.Second); d.Engine().Active() > 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	fmt.Fprintln(out)
	recs, err := store.ListCDRs(ctx, "", 20)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "CDRs (newest first; caller numbers kept as their last 4 digits):\n")
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DID\tCALLER\tACTION\tOUTCOME\tREASON\tTARGET\tBILLSEC\tHUNG UP BY\tRECORDING")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.DID, r.Caller, r.Action, r.Outcome, r.Reason,
			dash(r.Target), int(r.Billsec/time.Second), r.HangupBy, dash(r.Recording))
	}
	tw.Flush()
	rs, _ := store.ListRecordings(ctx, did)
	fmt.Fprintf(out, "\nrecordings of %s: %d (%s)\n", did, len(rs), strings.Join(names(rs), ", "))
	return nil
}

func names(rs []routing.Recording) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
