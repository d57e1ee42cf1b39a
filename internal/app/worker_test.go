package app

import (
	"os"
	"runtime"
	"testing"
)

func TestWorkerCommand(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := workerCommand(self, nil)
	if runtime.GOOS == "linux" {
		if c.Path != "/proc/self/exe" || c.Name != self {
			t.Errorf("own binary: %+v; want it run through /proc/self/exe, named %s", c, self)
		}
	} else if c.Path != self {
		t.Errorf("own binary: %+v", c)
	}
	other := t.TempDir() + "/other"
	if err := os.WriteFile(other, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	if c := workerCommand(other, nil); c.Path != other || c.Name != "" {
		t.Errorf("another binary: %+v; want it run by its path", c)
	}
}

func TestRunPasswordWorkerOnlyWhenAsked(t *testing.T) {
	if _, ok := RunPasswordWorker(func(string) string { return "" }, nil, nil, nil); ok {
		t.Fatal("an ordinary start ran as the password worker")
	}
}
