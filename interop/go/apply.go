package main

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// cmdApply replays an op file (format in rbolt_testkit::script) onto a database.
func cmdApply(args []string) int {
	opts := &bolt.Options{}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--no-freelist-sync":
			opts.NoFreelistSync = true
		case a == "--page-size" || strings.HasPrefix(a, "--page-size="):
			v := strings.TrimPrefix(a, "--page-size=")
			if a == "--page-size" {
				if i+1 >= len(args) {
					return fail("--page-size needs a value")
				}
				i++
				v = args[i]
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fail("bad --page-size %q", v)
			}
			// Only used when the file is created; an existing file keeps the
			// page size recorded in its meta pages.
			opts.PageSize = n
		case strings.HasPrefix(a, "--"):
			return fail("unknown flag %q", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) != 2 {
		return fail("usage: apply [--page-size N] [--no-freelist-sync] OPS DB")
	}
	opsPath, dbPath := pos[0], pos[1]

	f, err := os.Open(opsPath)
	if err != nil {
		return fail("open ops: %v", err)
	}
	defer f.Close()

	db, err := bolt.Open(dbPath, 0600, opts)
	if err != nil {
		return fail("open %s: %v", dbPath, err)
	}
	defer db.Close()

	tx, err := db.Begin(true)
	if err != nil {
		return fail("begin: %v", err)
	}
	// pending counts ops since the last commit. The implicit final commit is
	// skipped when nothing is pending, so an op file ending in `commit` (or
	// an empty op file) does not add an extra empty transaction: the txid
	// and the meta page written last stay exactly those the ops asked for.
	pending := 0

	// bufio.Reader rather than Scanner: op lines carrying multi-MiB values in
	// hex are far beyond Scanner's default token limit.
	r := bufio.NewReaderSize(f, 1<<20)
	for lineNo := 1; ; lineNo++ {
		line, rerr := r.ReadString('\n')
		if rerr != nil && rerr != io.EOF {
			tx.Rollback()
			return fail("read ops: %v", rerr)
		}
		if rerr == io.EOF && line == "" {
			break
		}
		line = strings.TrimSuffix(line, "\n")
		if strings.TrimSpace(line) != "" {
			if line == "commit" {
				if err := tx.Commit(); err != nil {
					return opError(lineNo, line, err)
				}
				if tx, err = db.Begin(true); err != nil {
					return fail("begin: %v", err)
				}
				pending = 0
			} else {
				if err := applyOp(tx, line); err != nil {
					tx.Rollback()
					return opError(lineNo, line, err)
				}
				pending++
			}
		}
		if rerr == io.EOF {
			break
		}
	}

	if pending == 0 {
		if err := tx.Rollback(); err != nil {
			return fail("rollback: %v", err)
		}
		return 0
	}
	if err := tx.Commit(); err != nil {
		return fail("final commit: %v", err)
	}
	return 0
}

// opError reports a failed op. Lines holding big values can be megabytes of
// hex, so only the head of the line is echoed.
func opError(lineNo int, line string, err error) int {
	const max = 200
	if len(line) > max {
		line = line[:max] + fmt.Sprintf("...(%d bytes)", len(line))
	}
	fmt.Fprintf(os.Stderr, "line %d: %s: %v\n", lineNo, line, err)
	return 1
}

// applyOp executes one non-commit op inside tx.
func applyOp(tx *bolt.Tx, line string) error {
	f := strings.Split(line, " ")
	op, a := f[0], f[1:]
	nargs := func(min, max int) error {
		if len(a) < min || len(a) > max {
			return fmt.Errorf("%s: wrong number of fields", op)
		}
		return nil
	}

	switch op {
	case "cb":
		if err := nargs(1, 1); err != nil {
			return err
		}
		path, err := parsePath(a[0])
		if err != nil {
			return err
		}
		_, err = ensurePath(tx, path)
		return err

	case "db":
		if err := nargs(1, 1); err != nil {
			return err
		}
		path, err := parsePath(a[0])
		if err != nil {
			return err
		}
		last := path[len(path)-1]
		if len(path) == 1 {
			return tx.DeleteBucket(last)
		}
		parent, err := existingPath(tx, path[:len(path)-1])
		if err != nil {
			return err
		}
		return parent.DeleteBucket(last)

	case "put":
		if err := nargs(2, 3); err != nil {
			return err
		}
		path, err := parsePath(a[0])
		if err != nil {
			return err
		}
		key, err := decodeHex("key", a[1])
		if err != nil {
			return err
		}
		// A missing VAL means the empty value. It must be a non-nil empty
		// slice: that is what a reader gets back after commit, and we do not
		// want to lean on how bbolt treats a nil value.
		val := []byte{}
		if len(a) == 3 {
			if val, err = decodeHex("value", a[2]); err != nil {
				return err
			}
		}
		b, err := ensurePath(tx, path)
		if err != nil {
			return err
		}
		// bbolt keeps a reference to val (and, in 1.3.6, to key) until
		// commit; both are freshly allocated by decodeHex, so that is safe.
		return b.Put(key, val)

	case "del":
		if err := nargs(2, 2); err != nil {
			return err
		}
		path, err := parsePath(a[0])
		if err != nil {
			return err
		}
		key, err := decodeHex("key", a[1])
		if err != nil {
			return err
		}
		b, err := existingPath(tx, path)
		if err != nil {
			return err
		}
		return b.Delete(key)

	case "seq":
		if err := nargs(2, 2); err != nil {
			return err
		}
		path, err := parsePath(a[0])
		if err != nil {
			return err
		}
		n, err := strconv.ParseUint(a[1], 10, 64)
		if err != nil {
			return fmt.Errorf("bad sequence %q: %v", a[1], err)
		}
		b, err := ensurePath(tx, path)
		if err != nil {
			return err
		}
		return b.SetSequence(n)

	default:
		return fmt.Errorf("unknown op %q", op)
	}
}

func decodeHex(what, s string) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("bad %s hex: %v", what, err)
	}
	return b, nil
}

// ensurePath returns the bucket at path, creating every missing level.
func ensurePath(tx *bolt.Tx, path [][]byte) (*bolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists(path[0])
	for i := 1; err == nil && i < len(path); i++ {
		b, err = b.CreateBucketIfNotExists(path[i])
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// existingPath returns the bucket at path, or an error if any level is
// missing (or is a plain value, which bbolt also reports as "no bucket").
func existingPath(tx *bolt.Tx, path [][]byte) (*bolt.Bucket, error) {
	b := tx.Bucket(path[0])
	for i := 1; b != nil && i < len(path); i++ {
		b = b.Bucket(path[i])
	}
	if b == nil {
		return nil, errors.New("bucket not found")
	}
	return b, nil
}
