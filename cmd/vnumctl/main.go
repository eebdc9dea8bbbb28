// Command vnumctl administers vnum: numbers, block and allow lists, the
// routing simulator, live calls and CDRs. Every command is one file here.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/internal/redisconn"
	"github.com/vnum/vnum/routing/redisstore"
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// usageError marks bad input: exit status 2 for flag errors, 1 for values.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// env is what every command gets: its output and the store.
type env struct {
	out     io.Writer
	json    bool
	region  string
	store   *redisstore.Store
	cancels []func()
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	redisconn.RouteLogs(nil)
	e := &env{out: stdout}
	app := &cli.App{
		Name:  "vnumctl",
		Usage: "administer vnum virtual numbers",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "redis", Value: "redis://127.0.0.1:6379/0", EnvVars: []string{"VNUM_REDIS"}, Usage: "Redis URL (one server, Sentinel with ?master_name=, or redis+cluster://)"},
			&cli.StringFlag{Name: "redis-password-file", EnvVars: []string{"VNUM_REDIS_PASSWORD_FILE"}, Usage: "file holding the Redis password"},
			&cli.StringFlag{Name: "default-region", Value: "", EnvVars: []string{"VNUM_DEFAULT_REGION"}, Usage: "ISO country for numbers written in national format (e.g. FR)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.DurationFlag{Name: "timeout", Value: 5 * time.Second, Usage: "time limit of the command"},
		},
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		// Values hold commas ("sat,sun voicemail"): repeat a flag instead.
		DisableSliceFlagSeparator: true,
		ExitErrHandler:            func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return usageError{err}
		},
		Before: func(c *cli.Context) error {
			e.json = c.Bool("json")
			e.region = c.String("default-region")
			return nil
		},
		Commands: []*cli.Command{
			{Name: "number", Usage: "manage virtual numbers", Subcommands: []*cli.Command{
				numberAddCmd(e), numberUpdateCmd(e), numberShowCmd(e), numberListCmd(e), numberRemoveCmd(e),
				numberReleaseCmd(e), numberRotateCmd(e)}},
			{Name: "pool", Usage: "manage number pools", Subcommands: []*cli.Command{poolAddCmd(e), poolListCmd(e), poolShowCmd(e)}},
			{Name: "session", Usage: "masked sessions: participants reach each other through a pool's proxy number", Subcommands: []*cli.Command{
				sessionCreateCmd(e), sessionCloseCmd(e), sessionListCmd(e), sessionShowCmd(e)}},
			{Name: "block", Usage: "manage blocklists (per number or global)", Subcommands: []*cli.Command{
				blockAddCmd(e), blockRemoveCmd(e), blockListCmd(e)}},
			{Name: "allow", Usage: "manage a number's allowlist (for --allowlist-only numbers)", Subcommands: []*cli.Command{
				allowAddCmd(e), allowRemoveCmd(e), allowListCmd(e)}},
			{Name: "ivr", Usage: "manage a number's IVR menu", Subcommands: []*cli.Command{ivrSetCmd(e), ivrShowCmd(e), ivrRemoveCmd(e)}},
			simulateCmd(e),
			whyCmd(e),
			{Name: "calls", Usage: "live calls", Subcommands: []*cli.Command{callsListCmd(e), callsHangupCmd(e)}},
			{Name: "cdr", Usage: "call detail records", Subcommands: []*cli.Command{cdrListCmd(e)}},
			{Name: "recordings", Usage: "call recordings and voicemail messages", Subcommands: []*cli.Command{recordingsListCmd(e)}},
			purgeCmd(e),
			auditCmd(e),
			webhooksCmd(e),
			voicemailCmd(e),
			conferenceCmd(e),
		},
	}
	for _, c := range app.Commands {
		setUsageHandler(c)
	}
	err := app.RunContext(ctx, intersperse(app, args))
	for _, f := range e.cancels {
		f()
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "vnumctl: %v\n", err)
	var ue usageError
	if errors.As(err, &ue) && !errors.As(ue.err, new(valueError)) {
		return 2
	}
	return 1
}

// valueError is bad input in a flag or argument value (exit status 1).
type valueError struct{ error }

func badValue(format string, a ...any) error { return valueError{fmt.Errorf(format, a...)} }

func setUsageHandler(c *cli.Command) {
	c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return usageError{err} }
	for _, s := range c.Subcommands {
		setUsageHandler(s)
	}
}

// open connects the store on first use, so bad input is refused before
// anything dials.
func (e *env) open(c *cli.Context) (*redisstore.Store, context.Context, error) {
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	e.cancels = append(e.cancels, cancel)
	if e.store != nil {
		return e.store, ctx, nil
	}
	rdb, err := redisconn.Open(c.String("redis"), redisconn.Options{PasswordFile: c.String("redis-password-file"), Timeout: 2 * time.Second})
	if err != nil {
		return nil, nil, usageError{valueError{err}}
	}
	e.store = redisstore.New(rdb, redisstore.Options{})
	e.cancels = append(e.cancels, func() { rdb.Close() })
	return e.store, ctx, nil
}
