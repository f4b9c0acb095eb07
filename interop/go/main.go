// Command bbolt-interop is the Go-side oracle for rbolt's interop tests.
//
// It is linked against Debian's bbolt 1.3.6 (go.etcd.io/bbolt) and speaks the
// same command-line contract as rbolt's `rbolt-script` (documented in
// crates/rbolt-testkit/src/bin/rbolt-script.rs), so a test can write a file with one implementation
// and read, check or extend it with the other, comparing text output
// byte for byte.
//
// Commands:
//
//	dump DB
//	check DB
//	apply [--page-size N] [--no-freelist-sync] OPS DB
//	lockhold [--read-only] DB SECONDS
//	tryopen [--read-only] DB TIMEOUT_MS
//	corrupt-meta DB          (test-data helper, not part of the contract)
//	quote                    (hex lines on stdin; Go's %q and IsPrint of each)
//	print-ranges             (the code points unicode.IsPrint accepts)
package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

const usage = `usage:
  bbolt-interop dump DB
  bbolt-interop check DB
  bbolt-interop apply [--page-size N] [--no-freelist-sync] OPS DB
  bbolt-interop lockhold [--read-only] DB SECONDS
  bbolt-interop tryopen [--read-only] DB TIMEOUT_MS
  bbolt-interop corrupt-meta DB
  bbolt-interop quote
  bbolt-interop print-ranges
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmd, args := os.Args[1], os.Args[2:]
	var code int
	switch cmd {
	case "dump":
		code = cmdDump(args)
	case "check":
		code = cmdCheck(args)
	case "apply":
		code = cmdApply(args)
	case "lockhold":
		code = cmdLockHold(args)
	case "tryopen":
		code = cmdTryOpen(args)
	case "corrupt-meta":
		code = cmdCorruptMeta(args)
	case "quote":
		code = cmdQuote(args)
	case "print-ranges":
		code = cmdPrintRanges(args)
	default:
		fmt.Fprintf(os.Stderr, "unknown command %q\n%s", cmd, usage)
		code = 2
	}
	os.Exit(code)
}

// fail prints a message to stderr and returns exit code 1, so commands can
// `return fail(...)`.
func fail(format string, a ...interface{}) int {
	fmt.Fprintf(os.Stderr, "bbolt-interop: "+format+"\n", a...)
	return 1
}

// splitReadOnlyFlag strips an optional leading --read-only flag.
func splitReadOnlyFlag(args []string) (readOnly bool, rest []string) {
	if len(args) > 0 && args[0] == "--read-only" {
		return true, args[1:]
	}
	return false, args
}

// openReadOnly opens an existing database with a shared lock. Malformed files
// can make bbolt 1.3.6 panic inside Open (it trusts the meta page when it
// sizes the mmap); we turn such a panic into an ordinary error so callers
// still report a one-line problem instead of a Go stack trace.
func openReadOnly(path string) (db *bolt.DB, err error) {
	// bbolt 1.3.6 opens with O_CREATE even in read-only mode, so a missing
	// file would be created (empty) before Open fails. Stat first so that
	// dump/check never leave a stray file behind.
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("panic while opening: %v", r)
		}
	}()
	return bolt.Open(path, 0600, &bolt.Options{ReadOnly: true})
}

// ---------------------------------------------------------------- dump

func cmdDump(args []string) int {
	if len(args) != 1 {
		return fail("usage: dump DB")
	}
	db, err := openReadOnly(args[0])
	if err != nil {
		return fail("open %s: %v", args[0], err)
	}
	defer db.Close()

	// A large buffer: dumps of big files are mostly tiny lines, and a
	// syscall per line would dominate the run time.
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	d := dumper{w: w}
	err = db.View(func(tx *bolt.Tx) error {
		return d.walk(tx.Cursor(), nil, tx.Bucket)
	})
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return fail("dump: %v", err)
	}
	return 0
}

type dumper struct {
	w   *bufio.Writer
	buf []byte // reused hex scratch space
}

// hexOut writes b as lower-case hex without allocating per field.
func (d *dumper) hexOut(b []byte) {
	n := hex.EncodedLen(len(b))
	if cap(d.buf) < n {
		d.buf = make([]byte, n)
	}
	hex.Encode(d.buf[:n], b)
	d.w.Write(d.buf[:n])
}

// walk prints one bucket's entries in cursor order. path is the hex path of
// the bucket being walked (nil for the root). child resolves a key to a
// nested bucket.
//
// The root bucket is walked through tx.Cursor(), whose values are always nil;
// inside buckets a nil value from the cursor means "this key is a bucket"
// (bbolt returns a non-nil, zero-length slice for a stored empty value). We
// still confirm with child() so an empty value could never be mistaken for a
// bucket, whatever the cursor hands back.
func (d *dumper) walk(c *bolt.Cursor, path []byte, child func([]byte) *bolt.Bucket) error {
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if b := child(k); b != nil {
				sub := appendPath(path, k)
				d.w.WriteString("B ")
				d.w.Write(sub)
				d.w.WriteString(" seq=")
				d.w.WriteString(strconv.FormatUint(b.Sequence(), 10))
				d.w.WriteByte('\n')
				if err := d.walk(b.Cursor(), sub, b.Bucket); err != nil {
					return err
				}
				continue
			}
		}
		// A pair. At the root this cannot come from the bbolt API, but a
		// foreign writer could produce it; print it with an empty path rather
		// than hide it.
		d.w.WriteString("K ")
		d.w.Write(path)
		d.w.WriteByte(' ')
		d.hexOut(k)
		d.w.WriteByte(' ')
		d.hexOut(v)
		d.w.WriteByte('\n')
	}
	return nil
}

// appendPath returns a fresh "parent/hexname" (or "hexname" at the root).
// Fresh, because the caller keeps `path` while the child is walked.
func appendPath(path, name []byte) []byte {
	out := make([]byte, 0, len(path)+1+hex.EncodedLen(len(name)))
	out = append(out, path...)
	if len(path) > 0 {
		out = append(out, '/')
	}
	return append(out, hex.EncodeToString(name)...)
}

// ---------------------------------------------------------------- check

func cmdCheck(args []string) int {
	if len(args) != 1 {
		return fail("usage: check DB")
	}
	db, err := openReadOnly(args[0])
	if err != nil {
		// The contract says "one problem per line" on stdout; a file bbolt
		// refuses to open is such a problem.
		fmt.Printf("open: %v\n", err)
		return 1
	}
	defer db.Close()

	problems := 0
	err = db.View(func(tx *bolt.Tx) error {
		// Check streams errors from its own goroutine; we must drain the
		// channel to the end or that goroutine blocks forever.
		for cerr := range tx.Check() {
			fmt.Println(cerr)
			problems++
		}
		return nil
	})
	if err != nil {
		fmt.Printf("view: %v\n", err)
		return 1
	}
	if problems > 0 {
		return 1
	}
	fmt.Println("OK")
	return 0
}

// ---------------------------------------------------------------- locking

// cmdLockHold holds the file lock for a while so another process (the Rust
// engine under test) can observe it. "locked" is printed only once Open
// returned, i.e. once the flock is really held.
func cmdLockHold(args []string) int {
	readOnly, args := splitReadOnlyFlag(args)
	if len(args) != 2 {
		return fail("usage: lockhold [--read-only] DB SECONDS")
	}
	secs, err := strconv.ParseFloat(args[1], 64)
	if err != nil || secs < 0 {
		return fail("bad SECONDS %q", args[1])
	}
	db, err := bolt.Open(args[0], 0600, &bolt.Options{ReadOnly: readOnly})
	if err != nil {
		return fail("open %s: %v", args[0], err)
	}
	// os.Stdout is unbuffered in Go, so this reaches the reader immediately.
	fmt.Println("locked")
	time.Sleep(time.Duration(secs * float64(time.Second)))
	if err := db.Close(); err != nil {
		return fail("close: %v", err)
	}
	return 0
}

// cmdTryOpen reports whether bbolt can take the lock within TIMEOUT_MS.
// Note bbolt semantics: a zero timeout means "wait forever", and bbolt polls
// every 50 ms, so the effective timeout is rounded to that granularity.
func cmdTryOpen(args []string) int {
	readOnly, args := splitReadOnlyFlag(args)
	if len(args) != 2 {
		return fail("usage: tryopen [--read-only] DB TIMEOUT_MS")
	}
	ms, err := strconv.ParseUint(args[1], 10, 32)
	if err != nil {
		return fail("bad TIMEOUT_MS %q", args[1])
	}
	opts := &bolt.Options{ReadOnly: readOnly, Timeout: time.Duration(ms) * time.Millisecond}
	db, err := bolt.Open(args[0], 0600, opts)
	if errors.Is(err, bolt.ErrTimeout) {
		fmt.Println("timeout")
		return 3
	}
	if err != nil {
		return fail("open %s: %v", args[0], err)
	}
	fmt.Println("ok")
	if err := db.Close(); err != nil {
		return fail("close: %v", err)
	}
	return 0
}

// parsePath turns "6161/62" into [][]byte{"aa","b"}. Every component must be
// non-empty valid hex: an empty bucket name is never legal in bbolt, and
// rejecting it here gives the same error text for every op.
func parsePath(s string) ([][]byte, error) {
	if s == "" {
		return nil, errors.New("empty bucket path")
	}
	parts := strings.Split(s, "/")
	out := make([][]byte, len(parts))
	for i, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("empty component in bucket path %q", s)
		}
		b, err := hex.DecodeString(p)
		if err != nil {
			return nil, fmt.Errorf("bucket path %q: %v", s, err)
		}
		out[i] = b
	}
	return out, nil
}
