// Package redisconn opens the go-redis client that vnumd and vnumctl share,
// from one URL that names a single server, a Sentinel group or a Cluster:
//
//	redis://[user@]host:port/db                  one server
//	rediss://...                                 the same over TLS
//	redis://host:26379/0?master_name=mymaster&addr=host2:26379   Sentinel
//	redis+cluster://host:7000?addr=host2:7000    Cluster
//
// The password comes from a file (or the URL's user info, for tests); it
// never appears in an error.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Options complete the URL.
type Options struct {
	// PasswordFile holds the Redis password (trailing newline ignored).
	PasswordFile string
	// Timeout bounds dialing and each read/write (default 1 s: a routing
	// decision must fail fast so the fallback applies).
	Timeout time.Duration
}

// Open builds the client. It does not dial: the first command does.
func Open(rawURL string, opts Options) (redis.UniversalClient, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL %q: does not parse", Redact(rawURL))
	}
	password := ""
	if opts.PasswordFile != "" {
		b, err := os.ReadFile(opts.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("redis password file: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
		if password == "" {
			return nil, fmt.Errorf("redis password file %s is empty", opts.PasswordFile)
		}
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = time.Second
	}
	bad := func(err error) error {
		msg := err.Error()
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		} else if strings.Contains(rawURL, "@") {
			// Credentials go-redis did not read as such may be quoted in
			// its message: say less.
			msg = "does not parse"
		}
		return fmt.Errorf("redis URL %q: %s", Redact(rawURL), msg)
	}
	switch {
	case u.Scheme == "redis+cluster" || u.Scheme == "rediss+cluster":
		u2 := *u
		u2.Scheme = strings.TrimSuffix(u.Scheme, "+cluster")
		o, err := redis.ParseClusterURL(u2.String())
		if err != nil {
			return nil, bad(err)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = timeout, timeout, timeout
		if password != "" {
			o.Password = password
		}
		return redis.NewClusterClient(o), nil
	case u.Query().Has("master_name"):
		o, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, bad(err)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = timeout, timeout, timeout
		if password != "" {
			o.Password = password
		}
		return redis.NewFailoverClient(o), nil
	case u.Scheme == "redis" || u.Scheme == "rediss" || u.Scheme == "unix":
		o, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, bad(err)
		}
		o.DialTimeout, o.ReadTimeout, o.WriteTimeout = timeout, timeout, timeout
		if password != "" {
			o.Password = password
		}
		return redis.NewClient(o), nil
	}
	return nil, bad(errors.New("scheme must be redis, rediss, unix or redis+cluster"))
}

// Redact hides the password of a URL for logs and errors, including text
// that only looks like a URL with credentials.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	if i := strings.LastIndex(raw, "@"); i >= 0 {
		return "…@" + raw[i+1:]
	}
	if err != nil {
		// Not a URL: say nothing of what it held beyond its scheme.
		if i := strings.Index(raw, "://"); i > 0 && i < 20 {
			return raw[:i] + "://…"
		}
		return "…"
	}
	return raw
}

// slogLogger routes go-redis's internal log lines (pool dial failures and
// the like) to slog at debug level instead of the process's stderr.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// RouteLogs sends go-redis's own log lines to log (nil: discard). go-redis
// keeps one logger for the whole process, so only a main calls this.
func RouteLogs(log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	redis.SetLogger(slogLogger{log})
}
