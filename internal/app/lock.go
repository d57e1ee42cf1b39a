package app

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lockFileName is the file in --data-dir whose advisory lock `basalt serve`
// holds while it serves the SQLite database there. It holds the server's
// process ID.
const lockFileName = "basalt.lock"

// errLocked is the error of lockFile when another process holds the lock.
var errLocked = errors.New("locked by another process")

// dataDirLock is the lock of one data directory, held until release.
type dataDirLock struct {
	f *os.File
}

// lockDataDir takes the lock of dir, refusing when another process holds
// it. The lock is advisory (flock(2) on Unix): only `basalt serve` takes
// it, so administrative commands (admin create, keys rotate, migrate) keep
// working next to a running server, and it ends with the process, however
// the process ends.
func lockDataDir(dir string) (*dataDirLock, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		holder := ""
		if pid := readPID(f); pid > 0 {
			holder = fmt.Sprintf(" (pid %d)", pid)
		}
		_ = f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("data directory %s is in use: another Basalt process%s serves it (it holds the lock on %s); "+
				"stop that process first, or give this one another --data-dir", dir, holder, path)
		}
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	if err := writePID(f, os.Getpid()); err != nil {
		_ = f.Close() // closing releases the lock
		return nil, fmt.Errorf("data directory lock %s: %w", path, err)
	}
	return &dataDirLock{f: f}, nil
}

// release clears the process ID and releases the lock. The file stays:
// removing it could let two processes lock two different files of the
// same name.
func (l *dataDirLock) release() error {
	terr := l.f.Truncate(0)
	return errors.Join(terr, l.f.Close())
}

func writePID(f *os.File, pid int) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0)
	return err
}

// readPID returns the process ID in the lock file, or 0.
func readPID(f *os.File) int {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
