package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/redisstore"
)

func poolListCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list pools with their free, allocated and quarantined counts",
		Action: func(c *cli.Context) error {
			if c.NArg() != 0 {
				return usageError{fmt.Errorf("%s: takes no argument, got %d", c.Command.HelpName, c.NArg())}
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			pools, err := s.ListPools(ctx)
			if err != nil {
				return err
			}
			if e.json {
				if pools == nil {
					pools = []redisstore.Pool{}
				}
				return e.printJSON(pools)
			}
			rows := make([][]string, 0, len(pools))
			for _, p := range pools {
				rows = append(rows, []string{p.Name, fmt.Sprint(p.Free), fmt.Sprint(p.Allocated), fmt.Sprint(p.Quarantined), days(p.CoolOff)})
			}
			return e.table("POOL\tFREE\tALLOCATED\tQUARANTINED\tCOOL-OFF", rows)
		},
	}
}
