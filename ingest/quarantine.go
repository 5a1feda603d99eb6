package ingest

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
)

// quarantine writes bad rows, with where they were and why, to a CSV file:
// file,line,field,reason,row. The file is created at the first bad row.
type quarantine struct {
	path string
	file string // the input being read
	f    *os.File
	bw   *bufio.Writer
	w    *csv.Writer
	n    int64
}

func (q *quarantine) add(line int64, re *rowError, raw string) error {
	if q.w == nil {
		f, err := os.Create(q.path)
		if err != nil {
			return fmt.Errorf("quarantine file (choose another place with --quarantine): %w", err)
		}
		q.f, q.bw = f, bufio.NewWriterSize(f, 64<<10)
		q.w = csv.NewWriter(q.bw)
		if err := q.w.Write([]string{"file", "line", "field", "reason", "row"}); err != nil {
			return err
		}
	}
	q.n++
	return q.w.Write([]string{q.file, strconv.FormatInt(line, 10), re.field, re.reason, raw})
}

// written returns the quarantine file's path if anything was written to it.
func (q *quarantine) written() string {
	if q.n == 0 {
		return ""
	}
	return q.path
}

func (q *quarantine) close() error {
	if q.w == nil {
		return nil
	}
	q.w.Flush()
	err := q.w.Error()
	if e := q.bw.Flush(); err == nil {
		err = e
	}
	if e := q.f.Close(); err == nil {
		err = e
	}
	q.w = nil
	if err != nil {
		return fmt.Errorf("quarantine %s: %w", q.path, err)
	}
	return nil
}
