package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/unspoof/unspoof"
)

// digest returns the hex SHA-256 and size of the file at path.
func digest(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// countingReader counts the bytes read through it, for progress.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// rowError is a problem with one row: it goes to quarantine, the load goes on.
type rowError struct {
	field  string
	reason string
}

func (e *rowError) Error() string {
	if e.field == "" {
		return e.reason
	}
	return e.field + ": " + e.reason
}

func badRow(field, format string, args ...any) *rowError {
	return &rowError{field: field, reason: fmt.Sprintf(format, args...)}
}

// records yields a file's rows as values in the order of the kind's fields.
type records interface {
	// next fills vals, one per field ("" where absent), and returns the row's line number. A
	// *rowError is a bad row (the reader can go on); io.EOF ends the file; any other error is fatal.
	next(vals []string) (line int64, err error)
	// raw is the current row as it stood in the file, for the quarantine.
	raw() string
}

// openRecords opens the (possibly gzip-compressed) file and reads its header.
func openRecords(f io.Reader, name string, kind unspoof.Kind, cfg *Config) (records, error) {
	br := bufio.NewReaderSize(f, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, unspoof.Errorf(unspoof.EINVALID, "%s: gzip: %v", name, err)
		}
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	format := cfg.Format
	if format == "" {
		format = "csv"
		head, _ := br.Peek(4096)
		if t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\ufeff")), " \t\r\n"); len(t) > 0 && t[0] == '{' {
			format = "jsonl"
		}
	}
	switch format {
	case "csv":
		return newCSVRecords(br, name, kind, cfg)
	case "jsonl":
		return newJSONRecords(br, name, kind, cfg)
	}
	return nil, unspoof.Errorf(unspoof.EINVALID, "unknown format %q (want csv or jsonl)", format)
}

// sniffDelimiter picks the most frequent of , ; tab | on the first line, outside quotes.
func sniffDelimiter(br *bufio.Reader) rune {
	head, _ := br.Peek(64 << 10)
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	counts := map[rune]int{}
	quoted := false
	for _, b := range head {
		switch {
		case b == '"':
			quoted = !quoted
		case !quoted && (b == ',' || b == ';' || b == '\t' || b == '|'):
			counts[rune(b)]++
		}
	}
	best := ','
	for _, d := range []rune{';', '\t', '|'} {
		if counts[d] > counts[best] {
			best = d
		}
	}
	return best
}

type csvRecords struct {
	r      *csv.Reader
	name   string
	header []string
	idx    []int
	rec    []string
	delim  rune
}

func newCSVRecords(br *bufio.Reader, name string, kind unspoof.Kind, cfg *Config) (*csvRecords, error) {
	delim := cfg.Delimiter
	if delim == 0 {
		delim = sniffDelimiter(br)
	}
	r := csv.NewReader(br)
	r.Comma = delim
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, unspoof.Errorf(unspoof.EINVALID, "%s: empty file (no header line)", name)
	} else if err != nil {
		return nil, unspoof.Errorf(unspoof.EINVALID, "%s: line 1: header: %v", name, err)
	}
	header = append([]string(nil), header...)
	idx, err := columns(kind, header, cfg.Mapping, name)
	if err != nil {
		return nil, err
	}
	return &csvRecords{r: r, name: name, header: header, idx: idx, delim: delim}, nil
}

func (c *csvRecords) next(vals []string) (int64, error) {
	rec, err := c.r.Read()
	c.rec = rec
	line, _ := c.r.FieldPos(0)
	if err == io.EOF {
		return 0, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return int64(pe.StartLine), badRow("", "unreadable CSV: %v", pe.Err)
	} else if err != nil {
		return 0, fmt.Errorf("read %s: %w", c.name, err)
	}
	if len(rec) != len(c.header) {
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			return int64(line), badRow("", "blank line")
		}
		return int64(line), badRow("", "has %d fields, the header has %d", len(rec), len(c.header))
	}
	for i, col := range c.idx {
		if col >= 0 {
			vals[i] = rec[col]
		} else {
			vals[i] = ""
		}
	}
	return int64(line), nil
}

func (c *csvRecords) raw() string {
	var b strings.Builder
	w := csv.NewWriter(&b)
	w.Comma = c.delim
	w.Write(c.rec)
	w.Flush()
	return strings.TrimRight(b.String(), "\r\n")
}

type jsonRecords struct {
	br   *bufio.Reader
	name string
	keys []map[string]bool // per field: folded keys that map to it
	line int64
	text []byte
}

func newJSONRecords(br *bufio.Reader, name string, kind unspoof.Kind, cfg *Config) (*jsonRecords, error) {
	fs := fields[kind]
	keys := make([]map[string]bool, len(fs))
	for i, f := range fs {
		keys[i] = map[string]bool{fold(f.name): true}
	}
	for col, f := range cfg.Mapping {
		found := false
		for i, fd := range fs {
			if fd.name == f {
				// A mapped key replaces the field's own name.
				keys[i] = map[string]bool{fold(col): true}
				found = true
			}
		}
		if !found {
			return nil, unspoof.Errorf(unspoof.EINVALID, "%s: mapping %s=%s: %s files have no field %q (fields: %s)",
				name, col, f, kind, f, strings.Join(FieldNames(kind), ", "))
		}
	}
	return &jsonRecords{br: br, name: name, keys: keys}, nil
}

func (j *jsonRecords) next(vals []string) (int64, error) {
	for {
		text, err := j.br.ReadBytes('\n')
		if len(text) == 0 && err == io.EOF {
			return 0, io.EOF
		} else if err != nil && err != io.EOF {
			return 0, fmt.Errorf("read %s: %w", j.name, err)
		}
		j.line++
		j.text = bytes.TrimRight(text, "\r\n")
		if len(bytes.TrimSpace(j.text)) == 0 {
			continue // blank lines separate nothing in JSON Lines
		}
		var obj map[string]any
		if err := json.Unmarshal(j.text, &obj); err != nil {
			return j.line, badRow("", "not a JSON object: %v", err)
		}
		for i := range vals {
			vals[i] = ""
		}
		for k, v := range obj {
			fk := fold(k)
			for i, ks := range j.keys {
				if ks[fk] {
					vals[i] = jsonString(v)
				}
			}
		}
		return j.line, nil
	}
}

func jsonString(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func (j *jsonRecords) raw() string { return string(j.text) }
