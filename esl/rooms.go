package esl

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/routing/callflow"
)

// Multi-party rooms are mod_conference conferences. A leg joins with
// `bgapi uuid_transfer <uuid> conference:<room>@<profile> inline`: the
// conference application runs in place of park, so when the leg leaves
// the room (hung up by `conference <room> hup`) its inline dialplan ends
// and FreeSWITCH hangs it up; when its far end hangs up, its
// CHANNEL_HANGUP reports it as for any leg (fixture e_conference:
// CHANNEL_HANGUP, conference::maintenance del-member,
// CHANNEL_HANGUP_COMPLETE). The room is created by its first member and
// destroyed with its last.
//
// Membership is read with `conference xml_list` (one command for every
// room): unlike `conference list`, whose ';'-separated lines carry the
// caller's own name and number (which may hold ';' and even line
// breaks), its XML escapes and URL-encodes every value, so caller text
// cannot forge a member.

// Join implements callflow.PBX: the leg enters mod_conference room room
// (created on the first join) of the configured profile.
func (d *Driver) Join(ctx context.Context, room string, leg callflow.LegID) error {
	if !validID(room) {
		return fmt.Errorf("esl: join: room name %q: want 1-128 letters, digits, '.', '_' or '-': %w", clip(room), ErrBadName)
	}
	uuid, err := d.uuidOf(leg)
	if err != nil {
		return err
	}
	if _, err := d.bgapi(ctx, "uuid_transfer", uuid, "conference:"+room+"@"+d.o.ConferenceProfile, "inline"); err != nil {
		return fmt.Errorf("esl: join %s to room %s: %w", leg, room, err)
	}
	return nil
}

// DestroyBridge implements callflow.PBX. Two-party bridges have no id
// (""): nothing to do. A room is ended with `conference <room> hup all`:
// every member leaves and hangs up (each one's EvHangup follows), and
// mod_conference destroys the empty room. A room already gone is not an
// error.
func (d *Driver) DestroyBridge(ctx context.Context, bridge string) error {
	if bridge == "" {
		return nil
	}
	if !validID(bridge) {
		return fmt.Errorf("esl: destroy room %q: %w", clip(bridge), ErrBadName)
	}
	res, err := d.api(ctx, "conference", bridge, "hup", "all")
	if err != nil {
		if roomGone(err.Error()) {
			return nil
		}
		return fmt.Errorf("esl: destroy room %s: %w", bridge, err)
	}
	_ = res // "" or "Conference <room> not found": either way the room is gone
	return nil
}

// roomGone reports mod_conference's answer for a room that does not
// exist (or a FreeSWITCH without mod_conference, which has no rooms).
func roomGone(reply string) bool {
	r := strings.ToLower(reply)
	return strings.Contains(r, "not found") || strings.Contains(r, "no active conferences")
}

// xmlRooms is the part of `conference xml_list` vnum reads.
type xmlRooms struct {
	XMLName xml.Name `xml:"conferences"`
	Rooms   []struct {
		Name    string `xml:"name,attr"`
		Members []struct {
			Type string `xml:"type,attr"`
			UUID string `xml:"uuid"`
		} `xml:"members>member"`
	} `xml:"conference"`
}

// parseRooms decodes `conference xml_list` (outside input: fuzzed) into
// room name -> member channel UUIDs. Rooms or members vnum could not have
// made (names outside [A-Za-z0-9._-]) are left out.
func parseRooms(body string) (map[string][]string, error) {
	out := map[string][]string{}
	body = strings.TrimSpace(body)
	if body == "" || roomGone(body) && !strings.HasPrefix(body, "<") {
		return out, nil
	}
	var x xmlRooms
	if err := xml.Unmarshal([]byte(body), &x); err != nil {
		return nil, fmt.Errorf("esl: conference xml_list: %w", err)
	}
	for _, r := range x.Rooms {
		if !validID(r.Name) {
			continue
		}
		for _, m := range r.Members {
			if m.Type != "" && m.Type != "caller" {
				continue // a recording node
			}
			uuid, err := url.PathUnescape(m.UUID)
			if err != nil || !validID(uuid) {
				continue
			}
			out[r.Name] = append(out[r.Name], uuid)
		}
	}
	return out, nil
}

// liveRooms adds the rooms holding vnum's legs to live (legOf: channel
// UUID -> engine leg, for the channels Live found to be vnum's).
func (d *Driver) liveRooms(ctx context.Context, live *callflow.Live, legOf map[string]callflow.LegID) error {
	body, err := d.api(ctx, "conference", "xml_list")
	var ce *eslconn.CommandError
	if errors.As(err, &ce) && (roomGone(ce.Reply) || strings.Contains(strings.ToLower(ce.Reply), "command not found")) {
		return nil // no rooms, or no mod_conference
	}
	if err != nil {
		return fmt.Errorf("esl: live rooms: %w", err)
	}
	rooms, err := parseRooms(body)
	if err != nil {
		return err
	}
	for room, uuids := range rooms {
		for _, u := range uuids {
			leg, ok := legOf[u]
			if !ok {
				continue
			}
			st := live.Legs[leg]
			st.Bridge = room
			live.Legs[leg] = st
			live.Bridges[room] = append(live.Bridges[room], leg)
		}
	}
	return nil
}

// ErrRecordDir: the recording directory is not reachable from vnumd (it
// does not run on the FreeSWITCH host and does not share the directory).
// It never wraps fs.ErrNotExist: the recording is not known to be gone.
var ErrRecordDir = errors.New("esl: the recording directory is not on this host")

// DeleteRecording implements callflow.PBX. There is no ESL API to delete
// a file (only the shell of the FreeSWITCH host can), so the driver
// deletes it itself, in RecordDir: vnumd must run on the FreeSWITCH host,
// or see the same directory at the same path. name is what RecordCall or
// RecordMessage returned (RecordDir/<file>) or the bare file name; any
// other directory, a path separator in the file name or ".." is refused
// with ErrBadName. The file is removed through an os.Root on RecordDir,
// so even a symbolic link cannot lead outside it. A file already gone is
// not an error; a RecordDir vnumd cannot see is ErrRecordDir.
func (d *Driver) DeleteRecording(_ context.Context, name string) error {
	file, err := d.recordingFile(name)
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(d.o.RecordDir)
	if err != nil {
		// Not %w: a missing directory must not read as a file already
		// gone (fs.ErrNotExist), which would drop the deletion for good.
		return fmt.Errorf("esl: delete recording %s: %w: vnumd must run on the FreeSWITCH host or share %s (%v)",
			file, ErrRecordDir, d.o.RecordDir, err)
	}
	defer root.Close()
	if err := root.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("esl: delete recording %s: %w", file, err)
	}
	return nil
}

// recordingFile checks a recording name and returns its file name in
// RecordDir.
func (d *Driver) recordingFile(name string) (string, error) {
	file := name
	if strings.ContainsAny(name, `/\`) {
		if filepath.Clean(name) != name || filepath.Dir(name) != d.o.RecordDir {
			return "", fmt.Errorf("esl: delete recording %q: not a file of the record directory %s: %w", clip(name), d.o.RecordDir, ErrBadName)
		}
		file = filepath.Base(name)
	}
	if !validID(file) || strings.Contains(file, "..") || strings.HasPrefix(file, ".") {
		return "", fmt.Errorf("esl: delete recording %q: want a file name of letters, digits, '.', '_' or '-', without '..': %w", clip(name), ErrBadName)
	}
	return file, nil
}
