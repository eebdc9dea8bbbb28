package main

import (
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

// numberFlags are shared by number add and number update.
func numberFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "owner", Usage: "who the number belongs to"},
		&cli.StringSliceFlag{Name: "forward", Usage: "target: E.164 number or sip: URI (repeatable, rung in order)"},
		&cli.StringFlag{Name: "strategy", Usage: "sequential or simultaneous", Value: "sequential"},
		&cli.DurationFlag{Name: "ring-timeout", Usage: "how long each target rings", Value: routing.DefaultRingTimeout},
		&cli.StringFlag{Name: "caller-id", Usage: "what the far end sees: did, caller or anonymous", Value: "did"},
		&cli.BoolFlag{Name: "record", Usage: "record forwarded calls"},
		&cli.BoolFlag{Name: "voicemail", Usage: "voicemail when no target answers"},
		&cli.StringFlag{Name: "expires", Usage: "when the number stops existing: a duration (720h, 30d) or RFC 3339 time"},
		&cli.StringFlag{Name: "tz", Usage: "IANA time zone for schedules (e.g. Europe/Paris)"},
		&cli.StringSliceFlag{Name: "schedule", Usage: `"DAYS [HH:MM-HH:MM] forward T1,T2|voicemail|reject" (repeatable, first match wins)`},
		&cli.StringSliceFlag{Name: "allow-country", Usage: "ISO country E.164 targets may be in (repeatable; none = all)"},
		&cli.IntFlag{Name: "max-concurrent", Usage: "cap on simultaneous forwarded calls (0 = none)"},
		&cli.IntFlag{Name: "daily-minutes", Usage: "cap on forwarded minutes per UTC day (0 = none)"},
		&cli.BoolFlag{Name: "allowlist-only", Usage: "callers not on the allowlist go to voicemail"},
		&cli.StringFlag{Name: "reject", Usage: "what rejected callers hear: busy, congestion or not-in-service", Value: "busy"},
		&cli.StringSliceFlag{Name: "label", Usage: "key=value label (repeatable)"},
		&cli.StringFlag{Name: "sms-target", Usage: `where text messages to the number go: E.164 or sip: URI (default: the first E.164 --forward target; "none" clears it)`},
	}
}

// applyNumberFlags sets the fields of n whose flags were given (all of
// them for a new number, where defaults apply).
func applyNumberFlags(c *cli.Context, n *routing.Number, region string, isNew bool) error {
	set := func(name string) bool { return isNew || c.IsSet(name) }
	if set("owner") {
		n.Owner = c.String("owner")
		if err := routing.CheckReason(n.Owner); err != nil {
			return badValue("--owner: %v", err)
		}
	}
	if set("forward") {
		n.Route.Targets = nil
		for _, f := range c.StringSlice("forward") {
			t, err := routing.ParseTarget(f, region)
			if err != nil {
				return badValue("--forward: %v", err)
			}
			n.Route.Targets = append(n.Route.Targets, t)
		}
	}
	if set("strategy") {
		n.Route.Strategy = routing.Strategy(c.String("strategy"))
		if err := n.Route.Strategy.Validate(); err != nil {
			return badValue("--strategy: %v", err)
		}
	}
	if set("ring-timeout") {
		d := c.Duration("ring-timeout")
		if d < time.Second || d > 10*time.Minute {
			return badValue("--ring-timeout %s: want between 1s and 10m", d)
		}
		n.Route.RingTimeout = d
	}
	if set("caller-id") {
		n.Route.CallerID = routing.CallerIDPolicy(c.String("caller-id"))
		if err := n.Route.CallerID.Validate(); err != nil {
			return badValue("--caller-id: %v", err)
		}
	}
	if set("record") {
		n.Route.Record = c.Bool("record")
	}
	if set("voicemail") {
		n.Route.Voicemail = c.Bool("voicemail")
	}
	if c.IsSet("expires") {
		v := c.String("expires")
		if v == "" || v == "never" {
			n.ExpiresAt = nil
		} else {
			t, err := parseExpiry(v, time.Now())
			if err != nil {
				return err
			}
			n.ExpiresAt = &t
		}
	}
	if set("tz") {
		n.TZ = c.String("tz")
		if n.TZ != "" {
			if _, err := time.LoadLocation(n.TZ); err != nil {
				return badValue("--tz %q: unknown time zone", n.TZ)
			}
		}
	}
	if set("schedule") {
		n.Schedules = nil
		for _, s := range c.StringSlice("schedule") {
			r, err := routing.ParseSchedule(s, region)
			if err != nil {
				return badValue("--schedule: %v", err)
			}
			n.Schedules = append(n.Schedules, r)
		}
	}
	if set("allow-country") {
		n.Limits.AllowCountries = nil
		for _, cc := range c.StringSlice("allow-country") {
			cc = strings.ToUpper(strings.TrimSpace(cc))
			if len(cc) != 2 || !isUpper(cc) {
				return badValue("--allow-country %q: want an ISO 3166 two-letter code such as FR", cc)
			}
			n.Limits.AllowCountries = append(n.Limits.AllowCountries, cc)
		}
	}
	if set("max-concurrent") {
		if v := c.Int("max-concurrent"); v < 0 {
			return badValue("--max-concurrent %d: must not be negative", v)
		}
		n.Limits.MaxConcurrent = c.Int("max-concurrent")
	}
	if set("daily-minutes") {
		if v := c.Int("daily-minutes"); v < 0 {
			return badValue("--daily-minutes %d: must not be negative", v)
		}
		n.Limits.DailyMinutes = c.Int("daily-minutes")
	}
	if set("allowlist-only") {
		n.AllowlistOnly = c.Bool("allowlist-only")
	}
	if set("reject") {
		n.Reject = routing.RejectMode(c.String("reject"))
		if err := n.Reject.Validate(); err != nil {
			return badValue("--reject: %v", err)
		}
	}
	if c.IsSet("sms-target") {
		n.SMSTarget = routing.Target{}
		if v := c.String("sms-target"); v != "" && v != "none" {
			t, err := routing.ParseTarget(v, region)
			if err != nil {
				return badValue("--sms-target: %v", err)
			}
			n.SMSTarget = t
		}
	}
	if set("label") {
		n.Labels = nil
		for _, l := range c.StringSlice("label") {
			k, v, ok := strings.Cut(l, "=")
			if !ok || k == "" {
				return badValue("--label %q: want key=value", l)
			}
			if err := routing.CheckReason(l); err != nil {
				return badValue("--label: %v", err)
			}
			if n.Labels == nil {
				n.Labels = map[string]string{}
			}
			n.Labels[k] = v
		}
	}
	return nil
}

// parseExpiry reads "720h", "30d" or an RFC 3339 time; it must be in the future.
func parseExpiry(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		if !t.After(now) {
			return time.Time{}, badValue("--expires %q: in the past", v)
		}
		return t.UTC(), nil
	}
	s := v
	mult := time.Duration(1)
	if strings.HasSuffix(s, "d") {
		s, mult = strings.TrimSuffix(s, "d")+"h", 24
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, badValue("--expires %q: want a positive duration (720h, 30d) or an RFC 3339 time", v)
	}
	return now.Add(d * mult).UTC().Truncate(time.Second), nil
}

func isUpper(s string) bool {
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}
