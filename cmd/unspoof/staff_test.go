package main_test

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestStaffLifecycle: on each engine, an administrator disables a member of staff who left
// while the dashboard runs: their token stops working at once and they cannot sign in again;
// enabled again they can; a new password ends the sessions made with the old one and the old
// password stops working. Each change names its reason in the audit log.
func TestStaffLifecycle(t *testing.T) {
	t.Parallel()
	for engine, db := range engines(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			withPassword := func(pw string, wantExit int, args ...string) string {
				t.Helper()
				cmd := exec.Command(binary, append([]string{"--db", db, "staff"}, args...)...)
				cmd.Env = append(os.Environ(), "UNSPOOF_PASSWORD="+pw)
				out, err := cmd.CombinedOutput()
				if code := cmd.ProcessState.ExitCode(); code != wantExit {
					t.Fatalf("staff %v: exit %d (%v), want %d\n%s", args, code, err, wantExit, out)
				}
				return string(out)
			}
			withPassword("alice-password-1", 0, "add", "alice", "--role", "analyst", "--name", "Alice Analyst")
			withPassword("bob-password-01", 0, "add", "bob", "--role", "admin")
			base := startServe(t, db)
			login := func(user, pw string) (string, int) {
				t.Helper()
				resp, err := http.Post(base+"/api/v1/login", "application/json",
					strings.NewReader(`{"username":"`+user+`","password":"`+pw+`"}`))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				body, _ := io.ReadAll(resp.Body)
				m := regexp.MustCompile(`"token":"([^"]+)"`).FindSubmatch(body)
				if m == nil {
					return "", resp.StatusCode
				}
				return string(m[1]), resp.StatusCode
			}
			figures := func(token string) int {
				t.Helper()
				req, _ := http.NewRequest("GET", base+"/api/v1/figures", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			token, code := login("alice", "alice-password-1")
			if code != 200 || figures(token) != 200 {
				t.Fatalf("alice before: login %d", code)
			}
			if _, stderr := run(t, db, 2, "staff", "disable", "alice"); !strings.Contains(stderr, "--reason") {
				t.Errorf("disable without a reason: %s", stderr)
			}
			run(t, db, 0, "staff", "disable", "alice", "--reason", "left the team")
			if figures(token) != http.StatusUnauthorized {
				t.Error("a disabled member of staff's token still works")
			}
			if _, code := login("alice", "alice-password-1"); code != http.StatusUnauthorized {
				t.Errorf("a disabled member of staff signs in: %d", code)
			}
			list, _ := run(t, db, 0, "staff", "list")
			if !regexp.MustCompile(`(?m)^alice +Alice Analyst +analyst +no: disabled `).MatchString(list) ||
				!regexp.MustCompile(`(?m)^bob +bob +admin +yes `).MatchString(list) {
				t.Errorf("staff list:\n%s", list)
			}
			if _, stderr := run(t, db, 1, "staff", "disable", "mallory", "--reason", "x"); !strings.Contains(stderr, "no such member of staff") {
				t.Errorf("disable an unknown name: %s", stderr)
			}

			run(t, db, 0, "staff", "enable", "alice", "--reason", "back from secondment")
			token, code = login("alice", "alice-password-1")
			if code != 200 || figures(token) != 200 {
				t.Fatalf("alice enabled again: login %d", code)
			}
			if out := withPassword("short", 2, "password", "alice"); !strings.Contains(out, "at least 12 characters") {
				t.Errorf("a short new password: %s", out)
			}
			withPassword("alice-password-2", 0, "password", "alice")
			if figures(token) != http.StatusUnauthorized {
				t.Error("a session made with the old password still works")
			}
			if _, code := login("alice", "alice-password-1"); code != http.StatusUnauthorized {
				t.Error("the old password still works")
			}
			if _, code := login("alice", "alice-password-2"); code != 200 {
				t.Errorf("the new password: %d", code)
			}
			audit, _ := run(t, db, 0, "audit", "export", "--format", "csv")
			for _, want := range []string{"staff.disable,staff alice,left the team", "staff.enable,staff alice,back from secondment",
				"staff.password,staff alice", "staff.login-disabled"} {
				if !strings.Contains(audit, want) {
					t.Errorf("audit log lacks %q:\n%s", want, audit)
				}
			}
		})
	}
}
