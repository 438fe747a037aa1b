package demo

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/lethe-erasure/lethe/internal/asl"
	"github.com/lethe-erasure/lethe/internal/config"
)

// A restarted farm (the file reopened, as after SIGKILL: every answer was
// given after its commit) keeps what it erased and answers for tickets it
// issued before.
func TestStateSurvivesReopen(t *testing.T) {
	f := newFarm(t)
	knobs := config.DemoSubsystem{FinishAfterSeconds: 60, Subjects: []string{"dave"}}
	sync := f.Subsystem("eu", projects, knobs)
	async := f.Subsystem("eu", orders, knobs)
	if r := serve(sync, "DELETE", "/subjects/alice", ""); r.status != 204 {
		t.Fatal(r.status)
	}
	done := submit(t, async, "er_eu_done", "bob")
	f.clock.Advance(time.Minute)
	if got := status(t, async, done); got.Status != "deleted" {
		t.Fatalf("before restart: %+v", got)
	}
	pending := submit(t, async, "er_eu_pending", "carol")

	f.reopen(t)
	// The runtime serves the subsystems again, this time configured with
	// other extra subjects: seeding happened once, on first sight.
	knobs.Subjects = []string{"erin"}
	sync = f.Subsystem("eu", projects, knobs)
	async = f.Subsystem("eu", orders, knobs)

	if r := serve(sync, "DELETE", "/subjects/alice", ""); r.status != 404 {
		t.Errorf("alice after restart: %d, want 404 (deleted before the crash)", r.status)
	}
	if f.Holds("eu", "projects", "alice") || !f.Holds("eu", "projects", "dave") || f.Holds("eu", "projects", "erin") {
		t.Error("projects' subjects changed across the restart")
	}
	if got := status(t, async, done); got != (StatusBody{"deleted", "deleted"}) {
		t.Errorf("finished ticket after restart: %+v", got)
	}
	if got := status(t, async, pending); got.Status != "pending" {
		t.Errorf("pending ticket after restart: %+v", got)
	}
	if again := submit(t, async, "er_eu_pending", "carol"); again != pending {
		t.Errorf("resubmit after restart got %s, want %s", again, pending)
	}
	f.clock.Advance(time.Minute)
	if got := status(t, async, pending); got != (StatusBody{"deleted", "deleted"}) {
		t.Errorf("pending ticket, due after restart: %+v", got)
	}
	if f.Holds("eu", "orders", "carol") || f.Holds("eu", "orders", "bob") || !f.Holds("eu", "orders", "alice") {
		t.Error("orders' subjects wrong after restart")
	}
}

// The demo subsystems never write a subject id: their held data and their
// tickets are keyed by its hash, so no page of the file, freed or not, can
// hold it — before, during or after an erasure.
func TestFileNeverHoldsASubjectID(t *testing.T) {
	f := newFarm(t)
	h := f.Subsystem("eu", orders, config.DemoSubsystem{FinishAfterSeconds: 1, Subjects: []string{"zebulon-the-unique"}})
	ticket := submit(t, h, "er_eu_z", "zebulon-the-unique")
	submit(t, h, "er_eu_y", "yolanda-the-unheld")
	scan := func(when string) {
		raw, err := os.ReadFile(f.db.Path())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"zebulon-the-unique", "yolanda-the-unheld"} {
			if bytes.Contains(raw, []byte(s)) {
				t.Errorf("%s: the state file holds %q", when, s)
			}
		}
	}
	scan("pending")
	f.clock.Advance(time.Second)
	if got := status(t, h, ticket); got.Status != "deleted" || got.Detail != "deleted" {
		t.Fatal(got)
	}
	scan("deleted")
	err := f.db.View(func(tx *bolt.Tx) error {
		rec, err := open(tx, "eu/orders").ticket(ticket)
		if err != nil || rec.SubjectHash != subjectHash("zebulon-the-unique") {
			t.Errorf("record %+v, %v", rec, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A layout-1 file held subject ids in clear; opening it rewrites them as
// hashes, and the data held stays held.
func TestOpenMigratesLayout1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "subsystems.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(metaBucket)
		if err := meta.Put(versionKey, []byte("1")); err != nil {
			return err
		}
		root, _ := tx.CreateBucket(rootBucket)
		sub, _ := root.CreateBucket([]byte("eu/orders"))
		held, _ := sub.CreateBucket(subjectsBucket)
		tickets, _ := sub.CreateBucket(ticketsBucket)
		for _, b := range [][]byte{requestsBucket, pendingBucket} {
			if _, err := sub.CreateBucket(b); err != nil {
				return err
			}
		}
		if err := held.Put([]byte("alice"), []byte{}); err != nil {
			return err
		}
		return tickets.Put([]byte("t1"), []byte(`{"requestId":"er_eu_a","subject":"bob","subjectHash":"`+subjectHash("bob")+`","status":"pending"}`))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(path, asl.NewFakeClock(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = f.db.View(func(tx *bolt.Tx) error {
		s := open(tx, "eu/orders")
		if s.subjects.Get([]byte(subjectHash("alice"))) == nil || s.subjects.Get([]byte("alice")) != nil {
			t.Error("held data not rekeyed by hash")
		}
		if v := s.tickets.Get([]byte("t1")); bytes.Contains(v, []byte(`"subject"`)) {
			t.Errorf("ticket still names its subject: %s", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestOpenRefusesAFileInUse(t *testing.T) {
	f := newFarm(t)
	done := make(chan error, 1)
	go func() {
		g, err := Open(f.path, asl.NewFakeClock(t0))
		if err == nil {
			g.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("a second farm opened the file in use")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Open hangs on a file in use")
	}
}

func TestOpenRefusesAnotherFile(t *testing.T) {
	path := t.TempDir() + "/not-bolt.db"
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := Open(path, asl.NewFakeClock(t0)); err == nil {
		f.Close()
		t.Error("opened a file that is not a bbolt database")
	}
	if _, err := Open(t.TempDir()+"/x.db", nil); err == nil {
		t.Error("opened without a clock")
	}
}

func TestClosedFarmAnswers503(t *testing.T) {
	f := newFarm(t)
	h := f.Subsystem("eu", projects, config.DemoSubsystem{})
	f.Farm.Close()
	r := serve(h, "DELETE", "/subjects/alice", "")
	if r.status != 503 || r.errorBody(t).Code != "closed" {
		t.Errorf("%d %s", r.status, r.body)
	}
}

// The farm as a child process killed with SIGKILL after answering: what it
// answered is in the file when it is opened again.
func TestStateSurvivesSIGKILL(t *testing.T) {
	if path := os.Getenv("DEMO_TEST_CHILD_DB"); path != "" {
		childFarm(path)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "subsystems.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStateSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), "DEMO_TEST_CHILD_DB="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		t.Fatalf("child: %v", err)
	}
	ticket, ok := strings.CutPrefix(strings.TrimSpace(line), "ticket ")
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if !ok {
		t.Fatalf("child said %q", line)
	}

	clock := asl.NewFakeClock(t0)
	f, err := Open(path, clock)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sync := f.Subsystem("eu", projects, config.DemoSubsystem{})
	async := f.Subsystem("eu", orders, config.DemoSubsystem{FinishAfterSeconds: 60})
	if r := serve(sync, "DELETE", "/subjects/alice", ""); r.status != 404 {
		t.Errorf("alice, deleted before the kill: %d", r.status)
	}
	if got := status(t, async, ticket); got.Status != "pending" {
		t.Errorf("ticket issued before the kill: %+v", got)
	}
	clock.Advance(time.Minute)
	if got := status(t, async, ticket); got != (StatusBody{"deleted", "deleted"}) {
		t.Errorf("ticket issued before the kill, due: %+v", got)
	}
}

// childFarm deletes alice, submits bob's erasure, prints the ticket and
// waits to be killed.
func childFarm(path string) {
	f, err := Open(path, asl.NewFakeClock(t0))
	if err != nil {
		fmt.Println("error", err)
		return
	}
	sync := f.Subsystem("eu", projects, config.DemoSubsystem{})
	async := f.Subsystem("eu", orders, config.DemoSubsystem{FinishAfterSeconds: 60})
	if r := serve(sync, "DELETE", "/subjects/alice", ""); r.status != 204 {
		fmt.Println("error delete", r.status)
		return
	}
	r := serve(async, "POST", "/erasures", `{"requestId":"er_eu_k","subjectId":"bob"}`)
	var tb TicketBody
	if err := json.Unmarshal([]byte(r.body), &tb); err != nil {
		fmt.Println("error submit", r.status)
		return
	}
	fmt.Println("ticket " + tb.Ticket)
	time.Sleep(time.Hour) // until killed
}
