package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/redisstore"
)

// voicemailCmd groups the voicemail commands: a number's messages and its
// mailbox settings.
func voicemailCmd(e *env) *cli.Command {
	return &cli.Command{Name: "voicemail", Usage: "voicemail messages and mailbox settings of a number", Subcommands: []*cli.Command{
		voicemailListCmd(e), voicemailShowCmd(e), voicemailDeleteCmd(e), voicemailGreetingCmd(e), voicemailSettingsCmd(e)}}
}

// jsonFlag lets "--json" follow a voicemail command as well as precede it.
func jsonFlag() cli.Flag { return &cli.BoolFlag{Name: "json", Usage: "print JSON"} }

// wantJSON reports whether JSON was asked for, before or after the command.
func (e *env) wantJSON(c *cli.Context) bool {
	e.json = e.json || c.Bool("json")
	return e.json
}

// didNameArgs reads the DID and NAME arguments of a message command.
func (e *env) didNameArgs(c *cli.Context) (did, name string, err error) {
	if c.NArg() != 2 {
		return "", "", usageError{fmt.Errorf("%s: want the DID and the message NAME, got %d arguments", c.Command.HelpName, c.NArg())}
	}
	did, err = routing.ParseE164(c.Args().Get(0), e.region)
	if err != nil {
		return "", "", badValue("DID: %v", err)
	}
	return did, c.Args().Get(1), nil
}

// messageAction is the Action of a command on one message (DID NAME).
func (e *env) messageAction(do func(ctx context.Context, s *redisstore.Store, did, name string) (result any, text string, err error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		e.wantJSON(c)
		did, name, err := e.didNameArgs(c)
		if err != nil {
			return err
		}
		s, ctx, err := e.open(c)
		if err != nil {
			return err
		}
		res, text, err := do(ctx, s, did, name)
		if err != nil {
			return err
		}
		if e.json {
			return e.printJSON(res)
		}
		_, err = fmt.Fprint(e.out, text)
		return err
	}
}

func describeVoicemail(r routing.Recording) string {
	var b strings.Builder
	fmt.Fprintf(&b, "message   %s\n", r.Name)
	fmt.Fprintf(&b, "number    %s\n", r.DID)
	fmt.Fprintf(&b, "received  %s\n", r.Started.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "duration  %s\n", r.Duration.Round(time.Second))
	fmt.Fprintf(&b, "caller    %s\n", orDash(r.Caller))
	fmt.Fprintf(&b, "call      %s\n", orDash(r.CallID))
	if r.Node != "" || r.PBX != "" {
		fmt.Fprintf(&b, "recorded  by node %s on %s\n", orDash(r.Node), orDash(r.PBX))
	}
	return b.String()
}

// mailboxView is a mailbox as vnumctl prints it.
type mailboxView struct {
	DID string `json:"did"`
	routing.Mailbox
}

func describeMailbox(did string, m routing.Mailbox) string {
	g := "default prompt"
	if src, name := m.GreetingSource(); src != "" {
		g = src + " " + name
	}
	return fmt.Sprintf("number       %s\ngreeting     %s\nmax message  %s\n", did, g, m.MaxMessage)
}
