package simulate

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
)

const chunkSize = 1 << 20

// outFile writes one output file: the generator appends rows to buf and calls flush when it is
// full; a goroutine compresses (if asked), hashes and writes the chunks, so that the second core
// does the I/O while the first generates. The file is written under a temporary name and renamed
// by commit, so an interrupted run leaves no file that looks complete.
type outFile struct {
	name string // base name in the output directory
	path string
	tmp  string
	f    *os.File
	buf  []byte

	full chan []byte
	free chan []byte
	done chan error

	sum  hash.Hash
	size int64

	rows     int64
	badRows  int64
	badKinds map[string]int64
}

// createOut opens dir/name for writing, gzip-compressed if gz.
func createOut(dir, name string, gz bool) (*outFile, error) {
	o := &outFile{
		name:     name,
		path:     filepath.Join(dir, name),
		full:     make(chan []byte, 2),
		free:     make(chan []byte, 3),
		done:     make(chan error, 1),
		sum:      sha256.New(),
		badKinds: map[string]int64{},
	}
	o.tmp = o.path + ".tmp"
	f, err := os.Create(o.tmp)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", name, err)
	}
	o.f = f
	o.buf = make([]byte, 0, chunkSize+4096)
	for range 2 {
		o.free <- make([]byte, 0, chunkSize+4096)
	}
	var dst io.Writer = io.MultiWriter(f, o.sum, (*counter)(&o.size))
	var zw *gzip.Writer
	if gz {
		// Level 4 compresses about 70 MB/s here, so the second core keeps up with the
		// generator; the default level (31 MB/s) would double the run's time for files 7%
		// smaller.
		zw, _ = gzip.NewWriterLevel(dst, 4)
		dst = zw
	}
	full, free, done := o.full, o.free, o.done
	go func() {
		var err error
		for b := range full {
			if err == nil {
				_, err = dst.Write(b)
			}
			free <- b[:0]
		}
		if err == nil && zw != nil {
			err = zw.Close()
		}
		done <- err
	}()
	return o, nil
}

type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

// flush hands the buffer to the writer goroutine once it holds a chunk.
func (o *outFile) flush() {
	if len(o.buf) >= chunkSize {
		o.full <- o.buf
		o.buf = <-o.free
	}
}

// commit writes what is left, waits for the writer, and renames the file into place.
func (o *outFile) commit() error {
	if len(o.buf) > 0 {
		o.full <- o.buf
		o.buf = nil
	}
	close(o.full)
	o.full = nil
	err := <-o.done
	if cerr := o.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(o.tmp)
		return fmt.Errorf("write %s: %w", o.name, err)
	}
	if err := os.Rename(o.tmp, o.path); err != nil {
		return fmt.Errorf("rename %s: %w", o.name, err)
	}
	return nil
}

// abort stops the writer and removes the temporary file.
func (o *outFile) abort() {
	if o.full != nil {
		close(o.full)
		<-o.done
		o.full = nil
	}
	o.f.Close()
	os.Remove(o.tmp)
}

// info describes the written file for the manifest.
func (o *outFile) info(kind string) FileInfo {
	fi := FileInfo{
		Name:    o.name,
		Kind:    kind,
		Rows:    o.rows,
		BadRows: o.badRows,
		Bytes:   o.size,
		SHA256:  hex.EncodeToString(o.sum.Sum(nil)),
	}
	if len(o.badKinds) > 0 {
		fi.BadByReason = o.badKinds
	}
	return fi
}
