package esltest

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
)

// wavHeader is an empty 8 kHz mono 16-bit WAV file: what a recording
// holds on disk the moment FreeSWITCH starts it.
var wavHeader = []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")

// storeRecording writes a recording's file when it lies directly in
// Options.RecordDir (other paths are only logged, as before). Caller
// holds s.mu.
func (s *Server) storeRecording(path string) {
	if s.opts.RecordDir == "" || !filepath.IsAbs(path) || filepath.Clean(path) != path ||
		filepath.Dir(path) != filepath.Clean(s.opts.RecordDir) {
		return
	}
	if err := os.WriteFile(path, wavHeader, 0o600); err != nil {
		s.log.Warn("esltest: cannot write the recording file", "err", err)
	}
}

// fileExists answers `file_exists <path>` (mod_commands: "true" or
// "false", fixture voicemail_record): only files in Options.RecordDir
// exist on the emulated host. Caller holds s.mu.
func (s *Server) fileExists(path string) bool {
	if s.opts.RecordDir == "" || !filepath.IsAbs(path) || filepath.Dir(filepath.Clean(path)) != filepath.Clean(s.opts.RecordDir) {
		return false
	}
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular()
}

// StoredRecordings lists the files in Options.RecordDir (full paths,
// sorted): the recordings the emulated host holds now. Nil without a
// RecordDir.
func (s *Server) StoredRecordings() []string {
	if s.opts.RecordDir == "" {
		return nil
	}
	ents, err := os.ReadDir(s.opts.RecordDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.Type().IsRegular() {
			out = append(out, filepath.Join(s.opts.RecordDir, e.Name()))
		}
	}
	sort.Strings(out)
	return out
}

// SendDTMF makes the far end of any channel (a caller, or the phone of an
// originated leg) press digits now: one DTMF event per digit on that
// channel, as RFC 2833 digits arrive (fixture d_dtmf).
func (s *Server) SendDTMF(uuid, digits string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := s.channels[uuid]
	if ch == nil || ch.hungup {
		return errors.New("esltest: no such channel")
	}
	for _, d := range digits {
		s.dtmf(ch, string(d))
	}
	return nil
}
