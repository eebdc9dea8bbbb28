// Package dialplan holds vnum's PBX configuration and the readers that check it.
//
// The configuration itself is data, rendered by the Ansible roles in ../ansible
// from the same variables vnumd gets:
//
//	asterisk/http.conf.j2, ari.conf.j2, pjsip.conf.j2, extensions.conf.j2
//	freeswitch/autoload_configs/event_socket.conf.xml.j2
//	freeswitch/dialplan/vnum.xml.j2, freeswitch/dialplan/public/00_vnum_carrier.xml.j2
//	freeswitch/sip_profiles/external/vnum_carrier.xml.j2
//
// The Go side reads what those templates render: ParseConf reads Asterisk's
// configuration format, NewDialplan and Dialplan.Simulate walk an
// extensions.conf the way Asterisk would for one call, and ParseFSConfiguration,
// ParseFSInclude and FSContext.Hunt do the same for FreeSWITCH's XML. The tests
// render the templates through the real roles and check that the PBX side
// agrees with vnumd's configuration: app name, credentials, loopback binds,
// the fallback when vnumd is away, and no identity header towards targets.
package dialplan
