package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/ari"
)

func asteriskCmd() *cli.Command {
	flags := append(commonFlags(),
		&cli.StringFlag{Name: "ari-url", Value: "http://127.0.0.1:8088/ari", EnvVars: []string{"VNUM_ARI_URL"}, Usage: "ARI root URL"},
		&cli.StringFlag{Name: "ari-user", Value: "vnum", EnvVars: []string{"VNUM_ARI_USER"}, Usage: "ARI user"},
		&cli.StringFlag{Name: "ari-password-file", EnvVars: []string{"VNUM_ARI_PASSWORD_FILE"}, Usage: "file holding the ARI password (or env VNUM_ARI_PASSWORD)"},
		&cli.StringFlag{Name: "app", Value: "vnum", EnvVars: []string{"VNUM_APP"}, Usage: "Stasis application name"},
		&cli.StringFlag{Name: "record-method", Value: "snoop", EnvVars: []string{"VNUM_RECORD_METHOD"}, Usage: "snoop (cheaper) or bridge"},
	)
	return &cli.Command{
		Name:  "asterisk",
		Usage: "drive an Asterisk through ARI",
		Flags: flags,
		Action: func(c *cli.Context) error {
			log, err := newLogger(c.String("log-level"))
			if err != nil {
				return err
			}
			pw, err := readSecret(c.String("ari-password-file"), "VNUM_ARI_PASSWORD", "ARI password")
			if err != nil {
				return err
			}
			snd, err := sounds(c)
			if err != nil {
				return err
			}
			drv, err := ari.New(ari.Options{URL: c.String("ari-url"), User: c.String("ari-user"), Password: pw,
				App: c.String("app"), Trunk: c.String("trunk"), SIPTemplate: c.String("sip-template"),
				Record: c.String("record-method"), Sounds: snd, Logger: log})
			if err != nil {
				return err
			}
			warnIfPublic(log, "--ari-url", hostOf(c.String("ari-url")))
			return serve(c, log, drv)
		},
	}
}
