package main

import (
	"net/url"

	"github.com/urfave/cli/v2"

	"github.com/vnum/vnum/esl"
)

func freeswitchCmd() *cli.Command {
	flags := append(commonFlags(),
		&cli.StringFlag{Name: "esl-addr", Value: "127.0.0.1:8021", EnvVars: []string{"VNUM_ESL_ADDR"}, Usage: "FreeSWITCH event socket address"},
		&cli.StringFlag{Name: "esl-password-file", EnvVars: []string{"VNUM_ESL_PASSWORD_FILE"}, Usage: "file holding the ESL password (or env VNUM_ESL_PASSWORD)"},
		&cli.StringFlag{Name: "record-dir", Value: esl.DefaultRecordDir, EnvVars: []string{"VNUM_RECORD_DIR"}, Usage: "where FreeSWITCH writes recordings; vnumd deletes expired ones there, so it must see this directory (run it on the FreeSWITCH host)"},
		&cli.StringFlag{Name: "message-trunk", EnvVars: []string{"VNUM_MESSAGE_TRUNK"}, Usage: "SIP URI template for SMS to E.164 targets, e.g. sip:{e164}@sms.carrier.example (unset: SMS only to sip: targets)"},
		&cli.StringFlag{Name: "message-profile", Value: "external", EnvVars: []string{"VNUM_MESSAGE_PROFILE"}, Usage: "sofia profile SMS are sent through"},
		&cli.StringFlag{Name: "message-domain", EnvVars: []string{"VNUM_MESSAGE_DOMAIN"}, Usage: "host of the From of sent SMS (default: the message trunk's host)"},
		&cli.StringFlag{Name: "conference-profile", Value: "default", EnvVars: []string{"VNUM_CONFERENCE_PROFILE"}, Usage: "mod_conference profile for multi-party rooms (best without caller controls or sounds)"},
	)
	return &cli.Command{
		Name:  "freeswitch",
		Usage: "drive a FreeSWITCH through the event socket (inbound mode)",
		Flags: flags,
		Action: func(c *cli.Context) error {
			log, err := newLogger(c.String("log-level"))
			if err != nil {
				return err
			}
			pw, err := readSecret(c.String("esl-password-file"), "VNUM_ESL_PASSWORD", "ESL password")
			if err != nil {
				return err
			}
			// esl.New refuses FreeSWITCH's default password and warns when
			// the address is not on loopback.
			snd, err := sounds(c)
			if err != nil {
				return err
			}
			drv, err := esl.New(esl.Options{Sounds: snd, Addr: c.String("esl-addr"), Password: pw, Trunk: c.String("trunk"),
				SIPTemplate: c.String("sip-template"), RecordDir: c.String("record-dir"),
				ConferenceProfile: c.String("conference-profile"), MessageTrunk: c.String("message-trunk"),
				MessageProfile: c.String("message-profile"), MessageDomain: c.String("message-domain"), Logger: log})
			if err != nil {
				return err
			}
			return serve(c, log, drv)
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
