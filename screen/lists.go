package screen

import (
	"encoding/csv"
	"errors"
	"io"
	"strings"

	"github.com/unspoof/unspoof"
)

// The list files (DNO and egress) share one shape: CSV, lines starting with # are comments, a
// first record "version,VALUE", then a header naming the columns, then one entry a record.
// readList reads that shape and calls row for each entry with the values of the columns named
// in cols (the first is required), "" for a column the file lacks. what names the list in
// errors, which give the line number.
func readList(r io.Reader, what string, cols []string, row func(line int, v []string) error) (version string, err error) {
	cr := csv.NewReader(r)
	cr.Comment = '#'
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	bad := func(line int, format string, args ...any) error {
		return unspoof.Errorf(unspoof.EINVALID, "%s list line %d: "+format, append([]any{what, line}, args...)...)
	}
	rec, err := cr.Read()
	switch {
	case errors.Is(err, io.EOF):
		return "", unspoof.Errorf(unspoof.EINVALID, "%s list: empty (it needs a first line \"version,VALUE\")", what)
	case err != nil:
		return "", csvError(what, err)
	}
	line, _ := cr.FieldPos(0)
	if len(rec) < 2 || !strings.EqualFold(strings.TrimSpace(rec[0]), "version") || strings.TrimSpace(rec[1]) == "" {
		return "", bad(line, "the first line must be \"version,VALUE\"")
	}
	version = strings.TrimSpace(rec[1])

	rec, err = cr.Read()
	if errors.Is(err, io.EOF) {
		return "", bad(line+1, "no header line (%s)", strings.Join(cols, ","))
	} else if err != nil {
		return "", csvError(what, err)
	}
	line, _ = cr.FieldPos(0)
	idx := make([]int, len(cols))
	for i := range idx {
		idx[i] = -1
	}
	for j, name := range rec {
		for i, c := range cols {
			if strings.EqualFold(strings.TrimSpace(name), c) && idx[i] < 0 {
				idx[i] = j
			}
		}
	}
	if idx[0] < 0 {
		return "", bad(line, "the header has no %q column (columns: %s)", cols[0], strings.Join(cols, ","))
	}
	v := make([]string, len(cols))
	for {
		rec, err = cr.Read()
		if errors.Is(err, io.EOF) {
			return version, nil
		}
		if err != nil {
			return "", csvError(what, err)
		}
		line, _ = cr.FieldPos(0)
		for i, j := range idx {
			v[i] = ""
			if j >= 0 && j < len(rec) {
				v[i] = strings.TrimSpace(rec[j])
			}
		}
		if err := row(line, v); err != nil {
			return "", bad(line, "%v", err)
		}
	}
}

func csvError(what string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return unspoof.Errorf(unspoof.EINVALID, "%s list line %d: %v", what, pe.Line, pe.Err)
	}
	return err
}

// csvWriter writes the list shape: the version line, the header, the rows.
func writeList(w io.Writer, version string, header []string, rows func(write func(...string) error) error) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"version", version}); err != nil {
		return err
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	if err := rows(func(v ...string) error { return cw.Write(v) }); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// search returns the index of s in sorted, or -1.
func search(sorted []string, s string) int {
	lo, hi := 0, len(sorted)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if sorted[m] < s {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(sorted) && sorted[lo] == s {
		return lo
	}
	return -1
}
