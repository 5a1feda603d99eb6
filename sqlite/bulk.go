package sqlite

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The sqlite3_* functions called here are those of the SQLite that github.com/mattn/go-sqlite3
// compiles into the binary. They are declared here, as sqlite3.h declares them (SQLite's C
// interface does not change), so that building needs no SQLite development files: a machine
// with Go and a C compiler builds unspoof. They are weak references so that cgo's link check of
// this package alone, which does not see that library, passes; the final link resolves them, and
// bulkLinked checks that it did before anything calls them.
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
enum { SQLITE_OK = 0, SQLITE_DONE = 101 };
#define SQLITE_STATIC ((void (*)(void *))0)
int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int nbyte, sqlite3_stmt **stmt, const char **tail);
int sqlite3_finalize(sqlite3_stmt *stmt);
int sqlite3_bind_text(sqlite3_stmt *stmt, int i, const char *text, int n, void (*destructor)(void *));
int sqlite3_bind_int64(sqlite3_stmt *stmt, int i, long long v);
int sqlite3_bind_null(sqlite3_stmt *stmt, int i);
int sqlite3_step(sqlite3_stmt *stmt);
int sqlite3_reset(sqlite3_stmt *stmt);
int sqlite3_clear_bindings(sqlite3_stmt *stmt);
int sqlite3_get_autocommit(sqlite3 *db);
const char *sqlite3_errmsg(sqlite3 *db);
#pragma weak sqlite3_prepare_v2
#pragma weak sqlite3_finalize
#pragma weak sqlite3_bind_text
#pragma weak sqlite3_bind_int64
#pragma weak sqlite3_bind_null
#pragma weak sqlite3_step
#pragma weak sqlite3_reset
#pragma weak sqlite3_clear_bindings
#pragma weak sqlite3_get_autocommit
#pragma weak sqlite3_errmsg

enum { CALL_TEXTS = 8, CALL_INTS = 5 };

static int bulk_linked(void) {
	return sqlite3_prepare_v2 && sqlite3_finalize && sqlite3_bind_text && sqlite3_bind_int64 &&
		sqlite3_bind_null && sqlite3_step && sqlite3_reset && sqlite3_clear_bindings &&
		sqlite3_get_autocommit && sqlite3_errmsg;
}

// bulk_prepare compiles sql on db into *stmt.
static int bulk_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt) {
	return sqlite3_prepare_v2(db, sql, -1, stmt, NULL);
}

// bulk_insert_calls runs stmt (insertCallsSQL) once for each of n calls. For call i, ints holds
// CALL_INTS values from ints[i*CALL_INTS] and lens CALL_TEXTS text lengths from
// lens[i*CALL_TEXTS] (-1 for NULL); the texts lie one after another in text. The texts are bound
// SQLITE_STATIC, without a copy: every binding is cleared before returning, so SQLite keeps no
// pointer into the caller's memory. On failure *bad is the failing call and msg (of size cap)
// holds SQLite's message.
static int bulk_insert_calls(sqlite3 *db, sqlite3_stmt *stmt, int n, const int64_t *ints,
		const int32_t *lens, const char *text, int64_t source_id, int *bad, char *msg, int cap) {
	int rc = SQLITE_OK;
	const char *p = text;
	for (int i = 0; i < n; i++) {
		const int64_t *iv = ints + (size_t)i * CALL_INTS;
		const int32_t *lv = lens + (size_t)i * CALL_TEXTS;
		for (int j = 0; j < CALL_TEXTS && rc == SQLITE_OK; j++) {
			if (lv[j] < 0) {
				rc = sqlite3_bind_null(stmt, j + 1);
			} else {
				// An empty text must not be bound from a NULL pointer: SQLite would store NULL.
				rc = sqlite3_bind_text(stmt, j + 1, lv[j] ? p : "", lv[j], SQLITE_STATIC);
				p += lv[j];
			}
		}
		for (int j = 0; j < CALL_INTS && rc == SQLITE_OK; j++) {
			rc = sqlite3_bind_int64(stmt, CALL_TEXTS + j + 1, iv[j]);
		}
		if (rc == SQLITE_OK) {
			rc = sqlite3_bind_int64(stmt, CALL_TEXTS + CALL_INTS + 1, source_id);
		}
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(stmt);
			rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
		}
		if (rc != SQLITE_OK) {
			*bad = i;
			strncpy(msg, sqlite3_errmsg(db), cap - 1);
			msg[cap - 1] = 0;
			break;
		}
		rc = sqlite3_reset(stmt);
		if (rc != SQLITE_OK) {
			*bad = i;
			strncpy(msg, sqlite3_errmsg(db), cap - 1);
			msg[cap - 1] = 0;
			break;
		}
	}
	sqlite3_reset(stmt); // the error, if any, was taken above
	sqlite3_clear_bindings(stmt);
	return rc;
}
*/
import "C"

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	"github.com/mattn/go-sqlite3"

	"github.com/unspoof/unspoof"
)

// The bulk insert of calls: the loader collects a batch of calls in flat arrays and one cgo
// call inserts them all, binding each value in C. Going through database/sql instead costs a
// cgo call and a conversion per value, which was a fifth of an ingest's time.

// insertCallsSQL is the statement bulk_insert_calls runs: the CALL_TEXTS texts, then the
// CALL_INTS integers, then the source.
const insertCallsSQL = `INSERT INTO calls (external_id, status, cli_raw, cli_e164, callee_raw, callee_e164,
	callee_region, callee_type, account_id, started_at, duration_s, callee_valid, source_row, source_id)
	VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)`

const (
	callTexts = C.CALL_TEXTS
	callInts  = C.CALL_INTS
)

// callRows is a batch of calls laid out as bulk_insert_calls reads them.
type callRows struct {
	n    int
	ints []int64
	lens []int32
	text []byte
}

func (r *callRows) add(c *unspoof.Call) {
	r.ints = append(r.ints, c.AccountID, c.StartedAt.Unix(), int64(c.Duration/time.Second), int64(boolInt(c.Callee.Valid)),
		c.SourceRow)
	r.addText(c.ExternalID)
	r.addText(c.Status)
	r.addText(c.CLI.Raw)
	if c.CLI.E164 == "" {
		r.lens = append(r.lens, -1)
	} else {
		r.addText(c.CLI.E164)
	}
	r.addText(c.Callee.Raw)
	r.addText(c.Callee.E164)
	r.addText(c.Callee.Region)
	r.addText(c.Callee.LineType)
	r.n++
}

func (r *callRows) addText(s string) {
	r.lens = append(r.lens, int32(len(s)))
	r.text = append(r.text, s...)
}

func (r *callRows) reset() { r.n, r.ints, r.lens, r.text = 0, r.ints[:0], r.lens[:0], r.text[:0] }

// connField is the go-sqlite3 connection's unexported field that holds its sqlite3 handle.
var connField = func() int {
	f, ok := reflect.TypeFor[sqlite3.SQLiteConn]().FieldByName("db")
	if !ok || f.Type.Kind() != reflect.Pointer {
		return -1
	}
	return f.Index[0]
}()

// handle returns the sqlite3 handle of a go-sqlite3 connection reached through sql.Conn.Raw.
// It is C memory, valid while that connection is open; it is used only inside Raw's callback.
func handle(driverConn any) (*C.sqlite3, error) {
	c, ok := driverConn.(*sqlite3.SQLiteConn)
	if !ok || connField < 0 || C.bulk_linked() == 0 {
		return nil, errors.New("bulk insert: not a go-sqlite3 connection with its SQLite linked in")
	}
	return (*C.sqlite3)(reflect.ValueOf(c).Elem().Field(connField).UnsafePointer()), nil
}

// bulkStmt is a statement of the bulk insert, prepared on first use; finalize releases it.
type bulkStmt struct{ stmt *C.sqlite3_stmt }

// insertCalls inserts the calls of r, from the source sourceID, on conn, which must be inside a
// transaction: outside one, each row would be a transaction of its own, and a failed load would
// leave part of itself behind.
func (b *bulkStmt) insertCalls(ctx context.Context, conn *sql.Conn, r *callRows, sourceID int64) error {
	stmt := &b.stmt
	if r.n == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return conn.Raw(func(dc any) error {
		db, err := handle(dc)
		if err != nil {
			return err
		}
		if C.sqlite3_get_autocommit(db) != 0 {
			return errors.New("bulk insert: refused outside a transaction")
		}
		if *stmt == nil {
			q := C.CString(insertCallsSQL)
			defer C.free(unsafe.Pointer(q))
			var s *C.sqlite3_stmt // not &b.stmt: C may be handed no pointer into a Go struct with Go pointers
			if rc := C.bulk_prepare(db, q, &s); rc != C.SQLITE_OK {
				return fmt.Errorf("prepare: %s (%d)", C.GoString(C.sqlite3_errmsg(db)), int(rc))
			}
			*stmt = s
		}
		text := r.text
		if len(text) == 0 {
			text = []byte{0} // a valid pointer even when every text is empty
		}
		var bad C.int
		msg := make([]byte, 256)
		rc := C.bulk_insert_calls(db, *stmt, C.int(r.n), (*C.int64_t)(unsafe.Pointer(&r.ints[0])),
			(*C.int32_t)(unsafe.Pointer(&r.lens[0])), (*C.char)(unsafe.Pointer(&text[0])), C.int64_t(sourceID),
			&bad, (*C.char)(unsafe.Pointer(&msg[0])), C.int(len(msg)))
		if rc != C.SQLITE_OK {
			return fmt.Errorf("call %d of the batch: %s", int(bad)+1, C.GoString((*C.char)(unsafe.Pointer(&msg[0]))))
		}
		return nil
	})
}

// finalize releases the statement, if prepared, on conn.
func (b *bulkStmt) finalize(conn *sql.Conn) error {
	stmt := &b.stmt
	if *stmt == nil {
		return nil
	}
	return conn.Raw(func(any) error {
		rc := C.sqlite3_finalize(*stmt)
		*stmt = nil
		if rc != C.SQLITE_OK {
			return fmt.Errorf("finalize: %d", int(rc))
		}
		return nil
	})
}
