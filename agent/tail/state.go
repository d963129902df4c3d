package tail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"

	"github.com/banfleet/banfleet/agent/internal/atomicfile"
)

const stateVersion = 1

// State is a persistent map from followed path to [Position], kept in a JSON
// file. It is safe for concurrent use.
type State struct {
	file string

	mu        sync.Mutex
	positions map[string]Position

	saveMu sync.Mutex // one Save at a time, so an older snapshot never wins
}

// stateFile is the on-disk form.
type stateFile struct {
	Version   int                 `json:"version"`
	Positions map[string]Position `json:"positions"`
}

// LoadState reads the state file. A missing file is an empty state; a file
// that cannot be decoded is an error wrapping [ErrCorruptState] and naming
// the file.
func LoadState(file string) (*State, error) {
	s := &State{file: file, positions: make(map[string]Position)}
	data, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load tail state %s: %w", file, err)
	}
	var sf stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return nil, fmt.Errorf("load tail state %s: %w: %w", file, ErrCorruptState, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("load tail state %s: %w: data after the JSON object", file, ErrCorruptState)
	}
	if sf.Version != stateVersion {
		return nil, fmt.Errorf("load tail state %s: %w: version %d, want %d", file, ErrCorruptState, sf.Version, stateVersion)
	}
	for path, p := range sf.Positions {
		if path == "" || p.Offset < 0 {
			return nil, fmt.Errorf("load tail state %s: %w: path %q: bad position %+v", file, ErrCorruptState, path, p)
		}
		s.positions[path] = p
	}
	return s, nil
}

// File returns the path of the state file.
func (s *State) File() string { return s.file }

// Get returns a copy of the saved position of path, or nil if there is none.
func (s *State) Get(path string) *Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.positions[path]
	if !ok {
		return nil
	}
	return &p
}

// Set records the position of path; Save writes it out.
func (s *State) Set(path string, p Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.positions[path] = p
}

// Delete forgets path (a file no longer followed).
func (s *State) Delete(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.positions, path)
}

// Save writes the state atomically: a temporary file in the same directory,
// fsync, rename over the state file, fsync of the directory. After a crash
// the file holds either the previous or the new state, never a mix.
func (s *State) Save() error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()

	s.mu.Lock()
	data, err := json.MarshalIndent(stateFile{Version: stateVersion, Positions: s.positions}, "", "  ")
	s.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save tail state %s: encode: %w", s.file, err)
	}
	data = append(data, '\n')
	if err := atomicfile.Write(s.file, data); err != nil {
		return fmt.Errorf("save tail state: %w", err)
	}
	return nil
}
