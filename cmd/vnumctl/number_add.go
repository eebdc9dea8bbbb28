package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func numberAddCmd(e *env) *cli.Command {
	flags := append(numberFlags(),
		&cli.StringFlag{Name: "pool", Usage: "hand out a free number from this pool instead of naming a DID"},
		&cli.StringFlag{Name: "country", Usage: "with --pool: the number's country (ISO code, e.g. FR)"},
		&cli.StringFlag{Name: "area", Usage: "with --pool: the number's area code (e.g. 1 for Paris)"},
	)
	flags = append(flags, retentionFlags()...)
	return &cli.Command{
		Name:      "add",
		Usage:     "provision a virtual number (a DID you name, or one from a pool)",
		ArgsUsage: "DID | --pool NAME",
		Flags:     flags,
		Action: func(c *cli.Context) error {
			pool := c.String("pool")
			var did string
			var err error
			switch {
			case pool != "" && c.NArg() > 0:
				return usageError{fmt.Errorf("number add: give a DID or --pool, not both")}
			case pool != "":
				if pool, err = routing.ParsePoolName(pool); err != nil {
					return badValue("--pool: %v", err)
				}
				did = "+10000000000" // placeholder for validation; replaced by the allocated DID
			default:
				if did, err = e.didArg(c); err != nil {
					return err
				}
			}
			n := routing.Number{DID: did, State: routing.StateActive}
			if err := applyNumberFlags(c, &n, e.region, true); err != nil {
				return err
			}
			if err := applyRetentionFlags(c, &n); err != nil {
				return err
			}
			if err := n.Validate(); err != nil {
				return badValue("%v", err)
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			if pool != "" {
				country := strings.ToUpper(c.String("country"))
				if n.DID, err = s.Allocate(ctx, pool, country, c.String("area")); err != nil {
					return err
				}
				if n.Labels == nil {
					n.Labels = map[string]string{}
				}
				n.Labels[routing.LabelPool] = pool
				if err := s.AddNumber(ctx, n); err != nil {
					if uerr := s.Unallocate(ctx, pool, n.DID); uerr != nil {
						return fmt.Errorf("%w (and giving %s back to pool %s failed: %v)", err, n.DID, pool, uerr)
					}
					return err
				}
				did = n.DID
			} else if err := s.AddNumber(ctx, n); err != nil {
				return err
			}
			n, err = s.GetNumber(ctx, did)
			if err != nil {
				return err
			}
			if e.json {
				return e.printJSON(n)
			}
			_, err = e.out.Write([]byte(describeNumber(n)))
			return err
		},
	}
}

// retentionFlags are the number's own retention periods and its recording
// consent (number add and number update).
func retentionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "retention-cdr", Usage: "keep this number's CDRs this long (720h, 30d; 0 = the deployment's); applies only when shorter than the deployment's"},
		&cli.StringFlag{Name: "retention-recordings", Usage: "keep this number's call recordings this long (files and metadata); applies only when shorter than the deployment's"},
		&cli.StringFlag{Name: "retention-voicemail", Usage: "keep this number's voicemail messages this long; applies only when shorter than the deployment's"},
		&cli.StringFlag{Name: "retention-sms", Usage: "keep this number's SMS threads this long after their last message; applies only when shorter than the deployment's"},
		&cli.StringFlag{Name: "consent", Usage: "announce recorded calls to both parties: always, never (default) or by-country (vnumd --consent-countries)"},
	}
}

// applyRetentionFlags sets the retention periods and consent mode whose
// flags were given.
func applyRetentionFlags(c *cli.Context, n *routing.Number) error {
	for _, f := range []struct {
		name string
		d    *time.Duration
	}{{"retention-cdr", &n.Retention.CDR}, {"retention-recordings", &n.Retention.Recordings},
		{"retention-voicemail", &n.Retention.Voicemail}, {"retention-sms", &n.Retention.SMS}} {
		if !c.IsSet(f.name) {
			continue
		}
		d, err := parseRetention(c.String(f.name))
		if err != nil {
			return badValue("--%s %q: %v", f.name, c.String(f.name), err)
		}
		*f.d = d
	}
	if c.IsSet("consent") {
		m := routing.ConsentMode(c.String("consent"))
		if m == "" {
			return badValue("--consent \"\": want always, never or by-country")
		}
		if err := m.Validate(); err != nil {
			return badValue("--consent: %v", err)
		}
		n.Consent = m
	}
	return nil
}

// parseRetention reads a retention period: a Go duration (720h) or days
// (30d); 0 unsets it.
func parseRetention(v string) (time.Duration, error) {
	if v == "0" {
		return 0, nil
	}
	s, mult := v, time.Duration(1)
	if strings.HasSuffix(s, "d") {
		s, mult = strings.TrimSuffix(s, "d")+"h", 24
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > 100*365*24*time.Hour/mult {
		return 0, errors.New("want a positive period such as 720h or 30d (0: the deployment's)")
	}
	return d * mult, nil
}
