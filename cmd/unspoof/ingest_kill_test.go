package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestIngestKilled: an ingest of a large calls file into SQLite (written with a rollback
// journal, not the WAL) killed with SIGKILL halfway leaves nothing of itself: the next command
// rolls the load back, the store is in WAL mode again, and the same file then loads whole.
func TestIngestKilled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data, db := filepath.Join(dir, "case"), filepath.Join(dir, "unspoof.db")
	run(t, db, 0, "simulate", "--preset", "ispoof", "--scale", "0.05", "--seed", "4", "--out", data)
	run(t, db, 0, "ingest", "--kind", "orgs", filepath.Join(data, "orgs.csv"))
	run(t, db, 0, "ingest", "--kind", "accounts", filepath.Join(data, "accounts.csv"))
	before, _ := run(t, db, 0, "stats")
	st, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}

	calls := filepath.Join(data, "calls.csv")
	ingest := exec.Command(binary, "--db", db, "ingest", "--kind", "calls", calls)
	if err := ingest.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ingest.Wait() }()
	// Kill it once the load has written well past the file's original end.
	for {
		if now, err := os.Stat(db); err == nil && now.Size() > st.Size()+4<<20 {
			if _, err := os.Stat(db + "-journal"); err != nil {
				t.Fatalf("a large load writes with a rollback journal: %v", err)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the ingest ended (%v) before it could be killed halfway", err)
		case <-time.After(2 * time.Millisecond):
		}
	}
	ingest.Process.Kill()
	<-done

	after, _ := run(t, db, 0, "stats")
	if after != before {
		t.Errorf("after the killed ingest, stats:\n%s\nwant as before it:\n%s", after, before)
	}
	if _, err := os.Stat(db + "-journal"); !os.IsNotExist(err) {
		t.Errorf("the journal of the killed load is still there after the next command (%v)", err)
	}
	header := make([]byte, 20)
	if f, err := os.Open(db); err != nil {
		t.Fatal(err)
	} else {
		f.ReadAt(header, 0)
		f.Close()
	}
	if header[18] != 2 || header[19] != 2 {
		t.Errorf("file format bytes %d %d after the killed load, want 2 2 (WAL)", header[18], header[19])
	}

	// The file is not recorded as ingested: it loads again, whole.
	out, _ := run(t, db, 0, "ingest", "--kind", "calls", calls)
	m := regexp.MustCompile(`([\d,]+) rows read, ([\d,]+) loaded, ([\d,]+) quarantined`).FindStringSubmatch(out)
	if m == nil || m[1] == "0" || m[2] == "0" {
		t.Fatalf("ingesting the file again after the kill:\n%s", out)
	}
	stats, _ := run(t, db, 0, "stats")
	if !regexp.MustCompile(`(?m)^ +calls +` + m[2] + `$`).MatchString(stats) {
		t.Errorf("stats after loading %s calls:\n%s", m[2], stats)
	}
}
