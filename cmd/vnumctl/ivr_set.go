package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/routing/ivr"
)

// ivrSummary is the JSON output of ivr set.
type ivrSummary struct {
	DID   string `json:"did"`
	Start string `json:"start"`
	Menus int    `json:"menus"`
}

func ivrSetCmd(e *env) *cli.Command {
	return &cli.Command{
		Name:      "set",
		Usage:     "give a number an IVR menu from a YAML file (validated fully before anything is written)",
		ArgsUsage: "DID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Required: true, Usage: "the menu file (YAML; see the README)"},
		},
		Action: func(c *cli.Context) error {
			did, err := e.didArg(c)
			if err != nil {
				return err
			}
			name := c.String("file")
			data, err := readMenuFile(name)
			if err != nil {
				return badValue("--file %s: %v", name, err)
			}
			m, err := ivr.Parse(data, e.region)
			if err != nil {
				return badValue("%s: %v", name, err)
			}
			s, ctx, err := e.open(c)
			if err != nil {
				return err
			}
			if err := s.SetIVR(ctx, did, m); err != nil {
				if errors.Is(err, ivr.ErrInvalid) {
					return badValue("%s: %v", name, err)
				}
				return err
			}
			if e.json {
				return e.printJSON(ivrSummary{DID: did, Start: m.Start, Menus: len(m.Menus)})
			}
			_, err = fmt.Fprintf(e.out, "IVR set on %s: %d menu(s), calls start in %s\n", did, len(m.Menus), m.Start)
			return err
		},
	}
}

// readMenuFile reads at most one byte more than a menu file may hold, so
// ivr.Parse refuses a bigger one without reading it all.
func readMenuFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, pe.Err
		}
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, ivr.MaxFileSize+1))
}
