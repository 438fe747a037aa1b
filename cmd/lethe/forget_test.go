package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestDataDirectoryForgetsErasedSubjects is issue 12's promise about disk:
// after 1,000 requests close under lethe local — with a SIGKILL while they
// are filed and run — no file of the data directory holds any of their
// subject ids, in any page, freed or not; and the subjects of requests
// still open are not in clear anywhere either (sealed in the requests
// store, their only home).
func TestDataDirectoryForgetsErasedSubjects(t *testing.T) {
	if testing.Short() {
		t.Skip("starts lethe local as a child process three times")
	}
	const closing, opened = 1000, 20
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	logPath := filepath.Join(dir, "lethe.log")
	ports := freePorts(t, 3)
	urls := []string{fmt.Sprintf("http://127.0.0.1:%d", ports[1]), fmt.Sprintf("http://127.0.0.1:%d", ports[2])}
	args := []string{"local", "--config", filepath.Join("..", "..", "cdk.json"), "--data-dir", data, "--speed", "20000",
		"--port", fmt.Sprint(ports[0]), "--region-port", fmt.Sprint(ports[1])}
	start := func(extra ...string) *child {
		return startChild(t, logPath, urls[0]+"/erasures", append(append([]string(nil), args...), extra...)...)
	}
	// Distinctive prefixes: a scan for the prefix finds any of the ids, in
	// any encoding a store could write them (all are plain ASCII).
	closed := make([]string, closing)
	for i := range closed {
		closed[i] = fmt.Sprintf("erased-subject-%04d@example.com", i)
	}
	ids := make([]string, closing)
	file := func(from, to int, kill func(int)) {
		var wg sync.WaitGroup
		jobs := make(chan int)
		var mu sync.Mutex
		filed := 0
		for range 8 {
			wg.Go(func() {
				for i := range jobs {
					id, err := fileErasure(urls[i%2], closed[i])
					if err != nil {
						continue // the process was killed: filed again below
					}
					mu.Lock()
					ids[i] = id
					filed++
					n := filed
					mu.Unlock()
					if kill != nil {
						kill(n)
					}
				}
			})
		}
		for i := from; i < to; i++ {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
	}

	proc := start()
	var once sync.Once
	file(0, closing, func(n int) {
		if n == 300 {
			once.Do(proc.kill)
		}
	})
	proc.kill()
	proc = start()
	file(0, closing, nil) // the same idempotency keys: the same requests
	for i, id := range ids {
		if id == "" {
			t.Fatalf("subject %d was never filed", i)
		}
	}
	deadline := time.Now().Add(4 * time.Minute)
	for i := 0; i < closing; {
		st, err := getErasure(urls[i%2], ids[i])
		if err != nil {
			t.Fatal(err)
		}
		if st.Status.Open() {
			if time.Now().After(deadline) {
				t.Fatalf("request %d (%s) still %s after 4 minutes\n%s", i, ids[i], st.Status, tail(logPath))
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if st.Status != "completed" {
			t.Fatalf("request %d (%s) ended %s", i, ids[i], st.Status)
		}
		i++
	}
	proc.stop(t)

	// A last life whose async subsystem never finishes: its requests stay
	// open, and it is killed, not stopped.
	proc = start("--fault", "eu/orders=neverFinish")
	for i := range opened {
		if _, err := fileErasure(urls[0], fmt.Sprintf("open-subject-%02d@example.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	proc.kill()

	files, bytesScanned := 0, 0
	err := filepath.WalkDir(data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		bytesScanned += len(raw)
		for _, prefix := range []string{"erased-subject-", "open-subject-"} {
			if i := bytes.Index(raw, []byte(prefix)); i >= 0 {
				end := min(len(raw), i+40)
				t.Errorf("%s holds %q", strings.TrimPrefix(path, data+"/"), raw[i:end])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scanned %d files, %d bytes of %s", files, bytesScanned, data)
	if files < 5 {
		t.Fatalf("only %d files in the data directory", files)
	}
}
