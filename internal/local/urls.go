package local

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// URLsFile is the file in the data directory where a running `lethe local`
// says which URLs it serves, so that the CLI finds it on any port. It is
// written once every server listens and removed when it stops.
const URLsFile = "urls.json"

// EnvDataDir names the data directory of `lethe local` for the runtime's
// default and the CLI's lookup of URLsFile (default DefaultDataDir).
const EnvDataDir = "LETHE_DATA_DIR"

// DataDir is $LETHE_DATA_DIR, else DefaultDataDir.
func DataDir() string {
	if d := os.Getenv(EnvDataDir); d != "" {
		return d
	}
	return DefaultDataDir
}

// URLs is what URLsFile holds.
type URLs struct {
	// Edge is the edge's base URL, also the console's and the demo
	// subsystems'.
	Edge string `json:"edge"`
	// Regions maps each region's short name to its API's base URL.
	Regions map[string]string `json:"regions"`
	// PID is the process serving them.
	PID int `json:"pid"`
	// Clock is Lethe's clock of the runtime, when it runs on one (not a
	// test's fake clock): the CLI counts down to deadlines on it.
	Clock *ClockReading `json:"clock,omitempty"`
}

// ClockReading pins Lethe's clock: at wall time Wall it read Lethe, and it
// runs Speed times faster than the wall clock.
type ClockReading struct {
	Wall  time.Time `json:"wall"`
	Lethe time.Time `json:"lethe"`
	Speed float64   `json:"speed"`
}

// Now is Lethe's time under the runtime that wrote u, or the wall clock's
// when it wrote no clock.
func (u URLs) Now() time.Time {
	if u.Clock == nil {
		return time.Now()
	}
	return u.Clock.Lethe.Add(time.Duration(float64(time.Since(u.Clock.Wall)) * u.Clock.Speed))
}

// writeURLs writes URLsFile into dir, atomically (a reader never sees half
// of it).
func (rt *Runtime) writeURLs(dir string) error {
	u := URLs{Edge: rt.edgeURL, Regions: map[string]string{}, PID: os.Getpid()}
	if rt.own != nil {
		u.Clock = &ClockReading{Wall: rt.own.wallBase, Lethe: rt.own.clockBase, Speed: rt.own.speed}
	}
	for _, r := range rt.regions {
		u.Regions[r.Config.Name] = r.URL
	}
	b, err := json.MarshalIndent(u, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, URLsFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("local: %s: %w", URLsFile, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, URLsFile)); err != nil {
		return fmt.Errorf("local: %s: %w", URLsFile, err)
	}
	rt.urlsFile = filepath.Join(dir, URLsFile)
	return nil
}

// ReadURLs reads the URLsFile of a `lethe local` on dir. It fails when no
// lethe local has written one there (or it stopped and removed it).
func ReadURLs(dir string) (URLs, error) {
	var u URLs
	b, err := os.ReadFile(filepath.Join(dir, URLsFile))
	if err != nil {
		return u, err
	}
	if err := json.Unmarshal(b, &u); err != nil {
		return u, fmt.Errorf("%s: %w", filepath.Join(dir, URLsFile), err)
	}
	return u, nil
}
