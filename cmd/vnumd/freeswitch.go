package main

import (
	"errors"
	"net/url"

	"github.com/urfave/cli/v2"
)

func freeswitchCmd() *cli.Command {
	flags := append(commonFlags(),
		&cli.StringFlag{Name: "esl-addr", Value: "127.0.0.1:8021", EnvVars: []string{"VNUM_ESL_ADDR"}, Usage: "FreeSWITCH event socket address"},
		&cli.StringFlag{Name: "esl-password-file", EnvVars: []string{"VNUM_ESL_PASSWORD_FILE"}, Usage: "file holding the ESL password (or env VNUM_ESL_PASSWORD)"},
	)
	return &cli.Command{
		Name:  "freeswitch",
		Usage: "drive a FreeSWITCH through the event socket (inbound mode)",
		Flags: flags,
		Action: func(c *cli.Context) error {
			return errors.New("freeswitch: driver not built yet")
		},
	}
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}
