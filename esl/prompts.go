package esl

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/vnum/vnum/esl/eslconn"
	"github.com/vnum/vnum/routing/callflow"
)

// media resolves a prompt to what uuid_broadcast plays: a logical prompt
// (callflow.PromptBeep...) through Options.Sounds; an IVR menu's
// "sound:NAME" as the FreeSWITCH sound NAME (relative, so under the
// channel's sound_prefix, e.g. .../sounds/en/us/callie); its "file:NAME"
// as a file uploaded for vnum, RecordDir/NAME (the storage vnum's own
// recordings use, as the Asterisk driver uses recording:NAME). A NAME
// without an extension gets ".wav" (FreeSWITCH would otherwise look for
// NAME.<codec>, e.g. NAME.PCMU). NAME is checked again here, since it
// reaches a command: 1 to 128 of [A-Za-z0-9/_.-], relative, no empty,
// "." or ".." segment.
func (d *Driver) media(p callflow.Prompt) (string, error) {
	if f, ok := d.o.Sounds[p]; ok {
		return f, nil
	}
	scheme, name, _ := strings.Cut(string(p), ":")
	if scheme != "sound" && scheme != "file" {
		return "", fmt.Errorf("esl: no sound for prompt %q", clip(string(p)))
	}
	if len(name) == 0 || len(name) > 128 {
		return "", fmt.Errorf("esl: prompt %q: %w", clip(string(p)), ErrBadName)
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." || !validID(seg) {
			return "", fmt.Errorf("esl: prompt %q: want 1-128 of A-Z a-z 0-9 / _ . -, relative, no . or .. segment: %w",
				clip(string(p)), ErrBadName)
		}
	}
	if path.Ext(name) == "" {
		name += ".wav"
	}
	if scheme == "file" {
		return d.o.RecordDir + "/" + name, nil
	}
	return name, nil
}

// bargeIn says whether a key the party presses stops the prompt: a
// menu's prompts and the confirm prompt do (the caller who knows the menu
// need not listen to the end); the consent announcement and the others
// play to the end. FreeSWITCH's uuid_broadcast is not stopped by a key,
// so the driver sends uuid_break when the DTMF arrives.
func bargeIn(p callflow.Prompt) bool {
	switch p {
	case callflow.PromptConfirm:
		return true
	case callflow.PromptNotInService, callflow.PromptVoicemail, callflow.PromptBeep, callflow.PromptConsent:
		return false
	}
	return strings.HasPrefix(string(p), "sound:") || strings.HasPrefix(string(p), "file:")
}

// keyPressed stops a prompt a key may stop on the channel uuid: `api
// uuid_break <uuid>` (PLAYBACK_STOP then reports the end, with
// Playback-Status "break"), off the read loop.
func (d *Driver) keyPressed(uuid string) {
	d.mu.Lock()
	playing := d.barge[uuid]
	delete(d.barge, uuid)
	conn := d.conn
	d.mu.Unlock()
	if !playing || conn == nil || !validID(uuid) {
		return
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), d.o.CommandTimeout)
		defer cancel()
		if _, err := conn.API(ctx, "uuid_break", uuid); err != nil && !errors.Is(err, eslconn.ErrCommandFailed) {
			d.log.Warn("could not stop a prompt on a key", "leg", uuid, "err", err)
		}
	}()
}
