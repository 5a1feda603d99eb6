package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/unspoof/unspoof"
)

// argon2id parameters (RFC 9106's second recommended option: 64 MiB, 3 passes).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword returns the argon2id hash of a password in the PHC string format.
func HashPassword(password string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// CheckPassword reports whether password matches a hash from HashPassword, in constant time.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1
}

// CheckNewPassword says what is wrong with a password a member of staff chose.
func CheckNewPassword(pw string) error {
	if len(pw) < 12 {
		return unspoof.Errorf(unspoof.EINVALID, "a password needs at least 12 characters")
	}
	return nil
}

// Login policy.
const (
	maxFailedLogins = 5
	lockout         = 15 * time.Minute
	sessionLife     = 8 * time.Hour
	sessionCookie   = "unspoof_session"
)

// dummyHash is checked against when the username is unknown, so that a login takes as long
// whether or not the member of staff exists. Made on first use: argon2id takes 64 MiB and a
// good fraction of a second, which no other command should pay.
var dummyHash = sync.OnceValue(func() string { return HashPassword(newToken()) })

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// login checks a username and password and returns a new session token. Five failures in a row
// lock the account for fifteen minutes; the answer never says which part was wrong.
func (s *Server) login(ctx context.Context, username, password string) (string, *unspoof.Staff, error) {
	wrong := unspoof.Errorf(unspoof.EUNAUTHORIZED, "The username or password is not right, or the account is locked for a while.")
	now := s.cfg.Now()
	st, err := s.cfg.Store.FindStaffByUsername(ctx, strings.TrimSpace(username))
	if unspoof.ErrorCode(err) == unspoof.ENOTFOUND {
		CheckPassword(dummyHash(), password)
		return "", nil, wrong
	} else if err != nil {
		return "", nil, err
	}
	if now.Before(st.LockedUntil) {
		CheckPassword(dummyHash(), password)
		return "", nil, wrong
	}
	if !st.DisabledAt.IsZero() { // the same answer, in the same time, as a wrong password
		CheckPassword(dummyHash(), password)
		s.audit(ctx, st.Username, "staff.login-disabled", "", "")
		return "", nil, wrong
	}
	if !CheckPassword(st.PasswordHash, password) {
		failed, until := st.FailedLogins+1, time.Time{}
		if failed >= maxFailedLogins {
			failed, until = 0, now.Add(lockout)
			s.log.Warn("staff account locked after repeated failed logins", "username", st.Username)
		}
		if err := s.cfg.Store.SetStaffLogin(ctx, st.ID, failed, until); err != nil {
			return "", nil, err
		}
		s.audit(ctx, st.Username, "staff.login-failed", "", "")
		return "", nil, wrong
	}
	if st.FailedLogins > 0 || !st.LockedUntil.IsZero() {
		if err := s.cfg.Store.SetStaffLogin(ctx, st.ID, 0, time.Time{}); err != nil {
			return "", nil, err
		}
	}
	token := newToken()
	if err := s.cfg.Store.CreateSession(ctx, &unspoof.Session{TokenHash: tokenHash(token), StaffID: st.ID, CreatedAt: now,
		ExpiresAt: now.Add(sessionLife)}); err != nil {
		return "", nil, err
	}
	s.audit(ctx, st.Username, "staff.login", "", "")
	return token, st, nil
}

type staffKey struct{}

// sessionToken returns the request's session token: the cookie, or an API bearer token.
func sessionToken(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		return c.Value
	}
	return ""
}

// staffOnly lets through members of staff with one of roles (any role if none given). Others
// go to the login page, or get 401/403 from the API. A POST from a cookie session must carry
// the CSRF token; an API call with a bearer token needs none (no browser sends it by itself).
func (s *Server) staffOnly(next http.HandlerFunc, roles ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		token := sessionToken(r)
		var st *unspoof.Staff
		if token != "" {
			var err error
			if _, st, err = s.cfg.Store.FindSession(r.Context(), tokenHash(token), s.cfg.Now()); err != nil &&
				unspoof.ErrorCode(err) != unspoof.EUNAUTHORIZED {
				s.Error(w, r, err)
				return
			}
		}
		if st == nil {
			if isAPI(r) {
				s.Error(w, r, errStatus(http.StatusUnauthorized, "log in first: POST /api/v1/login"))
				return
			}
			http.Redirect(w, r, "/staff/login", http.StatusSeeOther)
			return
		}
		if len(roles) > 0 && !slices.Contains(roles, st.Role) {
			s.Error(w, r, errStatus(http.StatusForbidden, "Your role ("+st.Role+") cannot see this page."))
			return
		}
		if r.Method == http.MethodPost && !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			if err := r.ParseForm(); err != nil || !checkCSRF(r) {
				s.Error(w, r, errStatus(http.StatusForbidden, "This form has expired. Reload the page and try again."))
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), staffKey{}, st)))
	}
}

func staffOf(r *http.Request) *unspoof.Staff {
	st, _ := r.Context().Value(staffKey{}).(*unspoof.Staff)
	return st
}

// audit records a view, export or decision; a failure to record is logged, and (for views of
// personal data) stops the view: see auditView.
func (s *Server) audit(ctx context.Context, actor, action, object, detail string) error {
	err := s.cfg.Store.Audit(ctx, &unspoof.AuditEntry{At: s.cfg.Now().UTC(), Actor: actor, Action: action, Object: object, Detail: detail})
	if err != nil {
		s.log.Error("audit", "action", action, "err", err)
	}
	return err
}

// auditView records that a member of staff is about to see personal data; if it cannot be
// recorded, they do not see it.
func (s *Server) auditView(w http.ResponseWriter, r *http.Request, action, object, detail string) bool {
	if err := s.audit(r.Context(), staffOf(r).Username, action, object, detail); err != nil {
		s.Error(w, r, err)
		return false
	}
	return true
}
