package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// batchRows is how many rows the loader hands to the COPY goroutine at a time.
const batchRows = 1024

// copyRows is the most rows one COPY carries before it is ended and another begun. The server
// checks foreign keys when a COPY ends, queueing the checks until then, and an error can be
// traced to its source row only within one COPY. A restart costs more than its round trip: the
// loader waits for the server to take every row sent before it starts the next COPY (with the
// keys of calls dropped, 1M calls loaded in 9–10 s as one COPY, 12.5–13 s as eight, on a busy
// 2-core machine).
const copyRows = 1 << 17

// bulkCopyRows is the most rows one COPY carries into a table whose foreign keys are dropped for
// the load (see bulkLoad): the server queues no checks, and the loader keeps 8 bytes a row to
// trace errors to their source rows.
const bulkCopyRows = 1 << 20

// copyStream sends the rows of one table to the server by COPY FROM STDIN (binary) while the
// loader is still producing them: rows are gathered into batches that a goroutine running
// pgx's CopyFrom takes over a channel, so that reading the evidence and inserting it overlap.
type copyStream[T any] struct {
	l      *loader
	table  string
	cols   []string
	values func(row *T, sourceID *int64, v []any)
	limit  int // most rows in one COPY

	batch []T     // being filled by add
	refs  []int64 // source row of each row sent in this COPY, by line - 1

	// Set while a COPY runs.
	full chan []T      // batches to send
	free chan []T      // batches sent, to be filled again
	stop chan struct{} // closed to abort the COPY
	done chan struct{} // closed when CopyFrom has returned
	err  error         // what CopyFrom returned, once done is closed
}

func newCopyStream[T any](l *loader, table string, cols []string, values func(*T, *int64, []any)) *copyStream[T] {
	return &copyStream[T]{l: l, table: table, cols: cols, values: values, limit: copyRows}
}

// add queues row, whose source row is ref, starting a COPY if none of this table runs.
func (s *copyStream[T]) add(row T, ref int64) error {
	if s.full == nil {
		if err := s.start(); err != nil {
			return err
		}
	}
	s.batch = append(s.batch, row)
	s.refs = append(s.refs, ref)
	if len(s.batch) < batchRows {
		return nil
	}
	select {
	case s.full <- s.batch:
	case <-s.done: // the COPY failed: end says why
		if err := s.l.idle(); err != nil {
			return err
		}
		return fmt.Errorf("copy %s: ended before all its rows were sent", s.table)
	}
	select {
	case b := <-s.free:
		s.batch = b[:0]
	default:
		s.batch = make([]T, 0, batchRows)
	}
	if len(s.refs) >= s.limit {
		return s.l.idle()
	}
	return nil
}

func (s *copyStream[T]) start() error {
	if err := s.l.idle(); err != nil {
		return err
	}
	s.full, s.free = make(chan []T, 2), make(chan []T, 4)
	s.stop, s.done, s.err = make(chan struct{}), make(chan struct{}), nil
	if s.batch == nil {
		s.batch = make([]T, 0, batchRows)
	}
	s.refs = s.refs[:0]
	src := &chanSource[T]{
		ctx: s.l.ctx, full: s.full, free: s.free, stop: s.stop,
		values: s.values, sourceID: &s.l.sourceID, v: make([]any, len(s.cols)),
	}
	conn, ctx, done := s.l.tx.Conn(), s.l.ctx, s.done
	go func() {
		defer close(done)
		_, s.err = conn.CopyFrom(ctx, pgx.Identifier{s.table}, s.cols, src)
	}()
	s.l.active = s
	return nil
}

// end sends the rows still queued, finishes the COPY and waits for the server's answer.
func (s *copyStream[T]) end() error {
	if s.full == nil {
		return nil
	}
	if len(s.batch) > 0 {
		select {
		case s.full <- s.batch:
			s.batch = nil
		case <-s.done:
		}
	}
	close(s.full)
	<-s.done
	s.full = nil
	s.batch = s.batch[:0]
	if s.err != nil {
		return s.fail(s.err)
	}
	return nil
}

// abort stops a running COPY without waiting for its rows to be sent; the server discards it.
func (s *copyStream[T]) abort() {
	if s.full == nil {
		return
	}
	close(s.stop)
	<-s.done
	s.full, s.batch = nil, s.batch[:0]
}

// fail describes the error that ended a COPY, naming the source row the server stopped at.
func (s *copyStream[T]) fail(err error) error {
	what := s.table
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		if n := copyLine(pe.Where); n > 0 && n <= len(s.refs) {
			what = fmt.Sprintf("%s, source row %d", s.table, s.refs[n-1])
		}
	}
	return fmt.Errorf("copy: %w", translate(what, err))
}

// copyLine reads the line number from an error's context ("COPY calls, line 12, column …"),
// or returns 0.
func copyLine(where string) int {
	_, after, ok := strings.Cut(where, ", line ")
	if !ok || !strings.HasPrefix(where, "COPY ") {
		return 0
	}
	end := strings.IndexFunc(after, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(after)
	}
	n, _ := strconv.Atoi(after[:end])
	return n
}

var errAborted = errors.New("load aborted")

// chanSource is the pgx.CopyFromSource that reads batches from a copyStream. Values points into
// the current batch, which goes back to the stream only once pgx has encoded all its rows.
type chanSource[T any] struct {
	ctx      context.Context
	full     <-chan []T
	free     chan<- []T
	stop     <-chan struct{}
	values   func(*T, *int64, []any)
	sourceID *int64
	v        []any

	batch []T
	i     int
	err   error
}

func (c *chanSource[T]) Next() bool {
	c.i++
	if c.i < len(c.batch) {
		return true
	}
	if c.batch != nil {
		select {
		case c.free <- c.batch:
		default:
		}
		c.batch = nil
	}
	select {
	case b, ok := <-c.full:
		if !ok {
			return false
		}
		c.batch, c.i = b, 0
		return len(b) > 0
	case <-c.stop:
		c.err = errAborted
	case <-c.ctx.Done():
		c.err = c.ctx.Err()
	}
	return false
}

func (c *chanSource[T]) Values() ([]any, error) {
	c.values(&c.batch[c.i], c.sourceID, c.v)
	return c.v, nil
}

func (c *chanSource[T]) Err() error { return c.err }
