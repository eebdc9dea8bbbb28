package main

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing"
)

func numberAddCmd(e *env) *cli.Command {
	flags := append(numberFlags(),
		&cli.StringFlag{Name: "pool", Usage: "hand out a free number from this pool instead of naming a DID"},
		&cli.StringFlag{Name: "country", Usage: "with --pool: the number's country (ISO code, e.g. FR)"},
		&cli.StringFlag{Name: "area", Usage: "with --pool: the number's area code (e.g. 1 for Paris)"},
	)
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
