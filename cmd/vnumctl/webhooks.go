package main

import (
	"errors"
	"io"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/internal/webhook"
)

// secretEnv holds a webhook signing secret when --secret-file is not given.
const secretEnv = "VNUM_WEBHOOK_SECRET"

func webhooksCmd(e *env) *cli.Command {
	return &cli.Command{Name: "webhooks", Usage: "manage webhook endpoints (signed JSON events over HTTP)",
		Subcommands: []*cli.Command{webhooksAddCmd(e), webhooksRemoveCmd(e), webhooksListCmd(e), webhooksStatusCmd(e)}}
}

// readSecret reads the signing secret from the file, or else from
// $VNUM_WEBHOOK_SECRET; surrounding white space is dropped. Errors never
// contain the secret.
func readSecret(file string) (string, error) {
	if file == "" {
		s := strings.TrimSpace(os.Getenv(secretEnv))
		if s == "" {
			return "", badValue("--secret-file: required (or set %s)", secretEnv)
		}
		if err := webhook.ValidateSecret(s); err != nil {
			return "", badValue("%s: %v", secretEnv, err)
		}
		return s, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return "", badValue("--secret-file %q: %v", file, errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 8192))
	if err != nil {
		return "", badValue("--secret-file %q: %v", file, err)
	}
	s := strings.TrimSpace(string(b))
	if err := webhook.ValidateSecret(s); err != nil {
		return "", badValue("--secret-file %q: %v", file, err)
	}
	return s, nil
}

func hookScope(ep webhook.Endpoint) string {
	if ep.DID == "" {
		return "all numbers"
	}
	return ep.DID
}

func hookEvents(ep webhook.Endpoint) string {
	if len(ep.Events) == 0 {
		return "all"
	}
	return strings.Join(ep.Events, ",")
}

func timeOrDash(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.RFC3339)
}
