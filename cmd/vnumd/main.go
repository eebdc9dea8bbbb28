// Command vnumd is vnum's call controller: it drives one Asterisk (ARI) or
// FreeSWITCH (ESL) and routes every call through the routing store.
//
//	vnumd asterisk   --ari-user vnum --ari-password-file /etc/vnum/ari.secret --trunk 'PJSIP/{e164}@carrier'
//	vnumd freeswitch --esl-password-file /etc/vnum/esl.secret --trunk 'sofia/gateway/carrier/{e164}'
//
// SIGTERM drains (no new calls; running calls finish, then vnumd exits); a
// second signal, or SIGINT, stops at once without dropping calls: the
// next vnumd on this node adopts them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/internal/daemon"
	"github.com/vnum/vnum/internal/redisconn"
	"github.com/vnum/vnum/routing"
	"github.com/vnum/vnum/routing/callflow"
	"github.com/vnum/vnum/routing/redisstore"
)

func main() { os.Exit(run(os.Args, os.Stderr)) }

// commonFlags are shared by both PBX commands. Every flag also reads an
// environment variable VNUM_*.
func commonFlags() []cli.Flag {
	host, _ := os.Hostname()
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "sound", EnvVars: []string{"VNUM_SOUNDS"}, Usage: "override a prompt's sound: PROMPT=MEDIA (repeatable; e.g. recording-consent=sound:custom/call-recorded on Asterisk, a file path on FreeSWITCH)"},
		&cli.StringFlag{Name: "redis", Value: "redis://127.0.0.1:6379/0", EnvVars: []string{"VNUM_REDIS"}, Usage: "Redis URL (one server, Sentinel with ?master_name=, or redis+cluster://)"},
		&cli.StringFlag{Name: "redis-password-file", EnvVars: []string{"VNUM_REDIS_PASSWORD_FILE"}, Usage: "file holding the Redis password"},
		&cli.StringFlag{Name: "trunk", EnvVars: []string{"VNUM_TRUNK"}, Required: true, Usage: "dial template for E.164 targets ({e164} or {digits})"},
		&cli.StringFlag{Name: "sip-template", EnvVars: []string{"VNUM_SIP_TEMPLATE"}, Usage: "dial template for sip: URI targets ({uri})"},
		&cli.StringFlag{Name: "default-region", EnvVars: []string{"VNUM_DEFAULT_REGION"}, Usage: "ISO country for caller numbers in national format"},
		&cli.StringFlag{Name: "node", Value: host, EnvVars: []string{"VNUM_NODE"}, Usage: "this node's name (owner of its calls in the registry)"},
		&cli.StringFlag{Name: "listen", Value: "127.0.0.1:9180", EnvVars: []string{"VNUM_LISTEN"}, Usage: "health and metrics address (keep it on loopback)"},
		&cli.StringFlag{Name: "fallback", Value: "busy", EnvVars: []string{"VNUM_FALLBACK"}, Usage: "new calls while Redis is unreachable: busy, voicemail or forward:+E164"},
		&cli.StringFlag{Name: "caller-storage", Value: "full", EnvVars: []string{"VNUM_CALLER_STORAGE"}, Usage: "how records keep caller numbers: full, last4 or hmac"},
		&cli.StringFlag{Name: "hmac-key-file", EnvVars: []string{"VNUM_HMAC_KEY_FILE"}, Usage: "deployment key for --caller-storage hmac"},
		&cli.DurationFlag{Name: "confirm-timeout", Value: 10 * time.Second, EnvVars: []string{"VNUM_CONFIRM_TIMEOUT"}, Usage: "how long a party answering a session call with --confirm has to press a key"},
		&cli.DurationFlag{Name: "cdr-retention", EnvVars: []string{"VNUM_CDR_RETENTION"}, Usage: "drop CDRs older than this (e.g. 2160h); 0 keeps the newest ~1,000,000"},
		&cli.DurationFlag{Name: "recording-retention", Value: redisstore.DefaultRetention, EnvVars: []string{"VNUM_RECORDING_RETENTION"}, Usage: "delete call recordings (files and metadata) older than this"},
		&cli.DurationFlag{Name: "voicemail-retention", Value: redisstore.DefaultRetention, EnvVars: []string{"VNUM_VOICEMAIL_RETENTION"}, Usage: "delete voicemail messages (files and metadata) older than this"},
		&cli.DurationFlag{Name: "sms-retention", Value: redisstore.DefaultRetention, EnvVars: []string{"VNUM_SMS_RETENTION"}, Usage: "keep SMS threads this long after their last message"},
		&cli.StringFlag{Name: "consent-countries", Value: strings.Join(routing.DefaultConsentCountries, ","), EnvVars: []string{"VNUM_CONSENT_COUNTRIES"}, Usage: "ISO codes where numbers with --consent by-country announce recordings (default: EEA, CH, GB; have it reviewed by your lawyer)"},
		&cli.IntFlag{Name: "velocity-per-did", EnvVars: []string{"VNUM_VELOCITY_PER_DID"}, Usage: "block a caller making more than this many calls to one number within --velocity-window (0: off)"},
		&cli.IntFlag{Name: "velocity-dids", EnvVars: []string{"VNUM_VELOCITY_DIDS"}, Usage: "block a caller calling more than this many numbers within --velocity-window (0: off)"},
		&cli.DurationFlag{Name: "velocity-window", Value: 10 * time.Minute, EnvVars: []string{"VNUM_VELOCITY_WINDOW"}, Usage: "window of the velocity limits"},
		&cli.DurationFlag{Name: "velocity-block", Value: 24 * time.Hour, EnvVars: []string{"VNUM_VELOCITY_BLOCK"}, Usage: "how long a velocity block lasts"},
		&cli.StringFlag{Name: "log-level", Value: "info", EnvVars: []string{"VNUM_LOG_LEVEL"}, Usage: "debug, info, warn or error"},
	}
}

func run(args []string, stderr io.Writer) int {
	app := &cli.App{
		Name:           "vnumd",
		Usage:          "vnum call controller for Asterisk (ARI) or FreeSWITCH (ESL)",
		Writer:         stderr,
		ErrWriter:      stderr,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands:       []*cli.Command{asteriskCmd(), freeswitchCmd()},
	}
	if err := app.Run(args); err != nil {
		fmt.Fprintf(stderr, "vnumd: %v\n", err)
		return 1
	}
	return 0
}

// readSecret reads a secret from a file (or, failing that, an environment
// variable); the secret never appears in an error.
func readSecret(file, envVar, what string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s file: %w", what, err)
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			return "", fmt.Errorf("%s file %s is empty", what, file)
		}
		return s, nil
	}
	if v := os.Getenv(envVar); v != "" {
		return v, nil
	}
	return "", fmt.Errorf("%s: give its file (or set %s)", what, envVar)
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// warnIfPublic warns when an address is not loopback.
func warnIfPublic(log *slog.Logger, what, addr string) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		log.Warn(what+" is not on loopback: keep it behind a firewall", "addr", addr)
	}
}

// serve builds the daemon from the common flags and a driver, and runs it
// under signals: SIGTERM drains, a second signal or SIGINT stops now.
func serve(c *cli.Context, log *slog.Logger, drv callflow.Driver) error {
	region := strings.ToUpper(c.String("default-region"))
	fb, err := callflow.ParseFallback(c.String("fallback"), region)
	if err != nil {
		return err
	}
	priv := routing.Privacy{Caller: routing.CallerStorage(c.String("caller-storage"))}
	if priv.Caller == routing.StoreHMAC {
		key, err := readSecret(c.String("hmac-key-file"), "VNUM_HMAC_KEY", "HMAC key")
		if err != nil {
			return err
		}
		priv.Key = []byte(key)
	}
	if err := priv.Validate(); err != nil {
		return err
	}
	if c.String("node") == "" {
		return errors.New("--node: a node name is required")
	}
	warnIfPublic(log, "--listen", c.String("listen"))
	redisconn.RouteLogs(log)
	rdb, err := redisconn.Open(c.String("redis"), redisconn.Options{PasswordFile: c.String("redis-password-file")})
	if err != nil {
		return err
	}
	vel := redisstore.Velocity{PerDID: c.Int("velocity-per-did"), DIDs: c.Int("velocity-dids"),
		Window: c.Duration("velocity-window"), Block: c.Duration("velocity-block")}
	if vel.PerDID < 0 || vel.DIDs < 0 || vel.Window < 0 || vel.Block < 0 {
		rdb.Close()
		return fmt.Errorf("velocity limits must not be negative (per-did %d, dids %d, window %s, block %s)", vel.PerDID, vel.DIDs, vel.Window, vel.Block)
	}
	if c.Duration("confirm-timeout") <= 0 {
		return fmt.Errorf("--confirm-timeout %s: must be positive", c.Duration("confirm-timeout"))
	}
	for _, f := range []string{"cdr-retention", "recording-retention", "voicemail-retention", "sms-retention"} {
		if c.Duration(f) < 0 {
			rdb.Close()
			return fmt.Errorf("--%s %s: must not be negative", f, c.Duration(f))
		}
	}
	consent, err := routing.ParseCountries(c.String("consent-countries"))
	if err != nil {
		rdb.Close()
		return fmt.Errorf("--consent-countries: %w", err)
	}
	d, err := daemon.New(daemon.Config{Node: c.String("node"), Region: region, Listen: c.String("listen"),
		Fallback: fb, Privacy: priv, Logger: log, Redis: rdb, Driver: drv, CDRRetention: c.Duration("cdr-retention"), Velocity: vel,
		ConfirmTimeout: c.Duration("confirm-timeout"), RecordingRetention: c.Duration("recording-retention"),
		VoicemailRetention: c.Duration("voicemail-retention"), SMSRetention: c.Duration("sms-retention"), ConsentCountries: consent})
	if err != nil {
		rdb.Close()
		return err
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	go func() {
		first := true
		for s := range sigs {
			if first && s == syscall.SIGTERM {
				first = false
				idle := d.Drain()
				go func() {
					select {
					case <-idle:
						log.Info("drained: every call has ended")
						stop()
					case <-ctx.Done():
					}
				}()
				continue
			}
			log.Info("stopping now; running calls stay up and the next vnumd adopts them", "signal", s.String())
			stop()
			return
		}
	}()
	return d.Run(ctx)
}

// sounds reads the --sound PROMPT=MEDIA overrides; an unknown prompt or a
// missing '=' is an error naming it (the driver checks the media itself).
func sounds(c *cli.Context) (map[callflow.Prompt]string, error) {
	known := map[callflow.Prompt]bool{}
	for _, p := range []callflow.Prompt{callflow.PromptNotInService, callflow.PromptVoicemail, callflow.PromptBeep,
		callflow.PromptConfirm, callflow.PromptConsent, callflow.PromptEnterPIN, callflow.PromptBadPIN,
		callflow.PromptRoomFull, callflow.PromptRoomLocked, callflow.PromptJoinTone, callflow.PromptLeaveTone} {
		known[p] = true
	}
	out := map[callflow.Prompt]string{}
	for _, kv := range c.StringSlice("sound") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || v == "" {
			return nil, fmt.Errorf("--sound %q: want PROMPT=MEDIA", clipArg(kv))
		}
		if !known[callflow.Prompt(k)] {
			return nil, fmt.Errorf("--sound %q: unknown prompt %q", clipArg(kv), clipArg(k))
		}
		out[callflow.Prompt(k)] = v
	}
	return out, nil
}

// clipArg shortens a bad value for an error message.
func clipArg(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
