package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// envChildArgs makes the test binary run as the lethe command itself (with
// these JSON-encoded arguments), so that tests can start `lethe local` as a
// real child process, kill it and start it again, without building it.
const envChildArgs = "LETHE_TEST_CHILD_ARGS"

func TestMain(m *testing.M) {
	if raw := os.Getenv(envChildArgs); raw != "" {
		var args []string
		if err := json.Unmarshal([]byte(raw), &args); err != nil {
			fmt.Fprintln(os.Stderr, "bad", envChildArgs, err)
			os.Exit(2)
		}
		main2(args)
	}
	os.Exit(m.Run())
}

// main2 is main with given arguments.
func main2(args []string) {
	os.Args = append([]string{"lethe"}, args...)
	main()
}

// child is a `lethe local` process started by a test.
type child struct {
	cmd  *exec.Cmd
	log  *os.File
	done chan error
}

// freePorts reserves n ports on 127.0.0.1 that are free right now; the
// second and later are consecutive with the first when possible.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.Addr().(*net.TCPAddr).Port
		ls := []net.Listener{l}
		ok := true
		for i := 1; i < n; i++ {
			li, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, li)
		}
		for _, li := range ls {
			li.Close()
		}
		if ok {
			ports := make([]int, n)
			for i := range ports {
				ports[i] = base + i
			}
			return ports
		}
	}
	t.Fatal("no consecutive free ports")
	return nil
}

// startChild starts the test binary as `lethe <args>` with its output in
// logPath (appended), and waits until ready answers 2xx.
func startChild(t testing.TB, logPath, ready string, args ...string) *child {
	t.Helper()
	raw, _ := json.Marshal(args)
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), envChildArgs+"="+string(raw))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, log: log, done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() { c.kill(); log.Close() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-c.done:
			c.done <- err
			t.Fatalf("lethe %s exited at start: %v\n%s", strings.Join(args, " "), err, tail(logPath))
		default:
		}
		if resp, err := http.Get(ready); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return c
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("lethe %s not ready after 60 s\n%s", strings.Join(args, " "), tail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill ends the child with SIGKILL, as a crash would, and waits for it.
func (c *child) kill() {
	if c.cmd.ProcessState != nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	err := <-c.done
	c.done <- err
}

// stop ends the child with SIGTERM and waits for a clean exit.
func (c *child) stop(t testing.TB) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case err := <-c.done:
		c.done <- err
		if err != nil {
			t.Errorf("lethe local did not exit cleanly on SIGTERM: %v", err)
		}
	case <-ctx.Done():
		t.Error("lethe local did not exit within 30 s of SIGTERM")
		c.kill()
	}
}

// tail is the end of a log file, for failure messages.
func tail(path string) string {
	b, _ := os.ReadFile(filepath.Clean(path))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}
