// Command bbolt-bench runs rbolt-bench's workload (crates/rbolt-bench/src/workload.rs) on Go
// bbolt and prints results in the same line format:
//
//	R <phase> <millis> <ops> <file_bytes>
//	C <check> <value>
//	M peak_rss <bytes>
//
// Progress goes to stderr. Keys and values come from the same wyrand streams as the Rust
// side, so every engine stores the same bytes. Built by build.sh against Debian's bbolt.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

const (
	seed        = 3
	keyLen      = 24
	valueLen    = 150
	readIters   = 3
	lenSamples  = 9
	scanLen     = 10
	largeMin    = 100 << 10
	largeMax    = 2 << 20
	bucketName  = "t"
	compactTxSz = 65536 // bbolt compact's default -tx-max-size
)

var threads = []int{1, 2, 4}

type rng struct{ s uint64 }

func forIndex(i uint64) rng { return rng{seed ^ (i * 0x9E3779B97F4A7C15)} }

func (r *rng) next() uint64 {
	r.s += 0xA0761D6478BD642F
	hi, lo := bits.Mul64(r.s, r.s^0xE7037ED1A0B428DB)
	return hi ^ lo
}

func (r *rng) fill(b []byte) {
	var t [8]byte
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(t[:], r.next())
		copy(b[i:], t[:])
	}
}

func key(i uint64, k []byte) { r := forIndex(i); r.fill(k) }

// pair returns fresh slices: bbolt needs keys and values to stay valid for the whole tx.
func pair(i uint64) ([]byte, []byte) {
	buf := make([]byte, keyLen+valueLen)
	r := forIndex(i)
	r.fill(buf[:keyLen])
	r.fill(buf[keyLen:])
	return buf[:keyLen:keyLen], buf[keyLen:]
}

func sortedKey(i uint64) []byte {
	k := make([]byte, 32)
	for j := 0; j < 24; j++ {
		k[j] = 0xFF
	}
	binary.BigEndian.PutUint64(k[24:], i)
	return k
}

func valueSum(v []byte) uint64 {
	var f uint64
	if len(v) > 0 {
		f = uint64(v[0])
	}
	return f + uint64(len(v))
}

func clamp(x, lo, hi uint64) uint64 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

type params struct{ n, individual, batchTxs, batchSize, nosync, large uint64 }

func newParams(n uint64) params {
	l := n / 1000
	if l < 10 {
		l = 10
	}
	return params{n, clamp(n/1000, 100, 1000), 100, clamp(n/1000, 10, 1000), clamp(n/20, 100, 50000), l}
}

func (p params) elements() uint64 { return p.n + p.individual + p.batchTxs*p.batchSize + p.nosync }

func dirSize(dir string) uint64 {
	var total uint64
	filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += uint64(info.Size())
		}
		return nil
	})
	return total
}

type bench struct {
	dir  string
	path string
	db   *bolt.DB
}

func (b *bench) emit(phase string, ms float64, ops uint64) {
	fb := dirSize(b.dir)
	fmt.Printf("R %s %.6f %d %d\n", phase, ms, ops, fb)
	rate := 0.0
	if ms > 0 {
		rate = float64(ops) / (ms / 1000)
	}
	fmt.Fprintf(os.Stderr, "[go-bbolt] %-22s %10.1f ms  %12.0f ops/s  file %.1f MiB\n", phase, ms, rate, float64(fb)/(1<<20))
}

func (b *bench) timed(phase string, ops uint64, f func() error) {
	start := time.Now()
	must(f())
	b.emit(phase, float64(time.Since(start).Nanoseconds())/1e6, ops)
}

func (b *bench) median(phase string, ops uint64, f func() error) {
	b.medianAfter(phase, ops, readIters, func(uint64) error { return nil }, f)
}

// medianAfter runs setup(i) untimed, then f timed, n times, and reports f's median.
func (b *bench) medianAfter(phase string, ops uint64, n int, setup func(uint64) error, f func() error) {
	var ts []float64
	for i := 0; i < n; i++ {
		must(setup(uint64(i)))
		start := time.Now()
		must(f())
		ts = append(ts, float64(time.Since(start).Nanoseconds())/1e6)
	}
	sort.Float64s(ts)
	b.emit(phase, ts[len(ts)/2], ops)
}

func (b *bench) size(phase string) {
	fb := dirSize(b.dir)
	fmt.Printf("R %s 0 0 %d\n", phase, fb)
	fmt.Fprintf(os.Stderr, "[go-bbolt] %-22s %.1f MiB\n", phase, float64(fb)/(1<<20))
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-bbolt:", err)
		os.Exit(1)
	}
}

func check(ok bool, format string, a ...interface{}) error {
	if !ok {
		return fmt.Errorf(format, a...)
	}
	return nil
}

func (b *bench) update(f func(bk *bolt.Bucket) error) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(bucketName))
		if err != nil {
			return err
		}
		return f(bk)
	})
}

func (b *bench) view(f func(bk *bolt.Bucket) error) error {
	return b.db.View(func(tx *bolt.Tx) error { return f(tx.Bucket([]byte(bucketName))) })
}

func (b *bench) runMain(p params) {
	elements := p.elements()
	b.timed("bulk_load", p.n, func() error {
		return b.update(func(bk *bolt.Bucket) error {
			for i := uint64(0); i < p.n; i++ {
				k, v := pair(i)
				if err := bk.Put(k, v); err != nil {
					return err
				}
			}
			return nil
		})
	})
	base := p.n
	b.timed("individual_writes", p.individual, func() error {
		for i := base; i < base+p.individual; i++ {
			if err := b.update(func(bk *bolt.Bucket) error { k, v := pair(i); return bk.Put(k, v) }); err != nil {
				return err
			}
		}
		return nil
	})
	base += p.individual
	b.timed("batch_writes", p.batchTxs*p.batchSize, func() error {
		for t := uint64(0); t < p.batchTxs; t++ {
			err := b.update(func(bk *bolt.Bucket) error {
				for j := uint64(0); j < p.batchSize; j++ {
					k, v := pair(base + t*p.batchSize + j)
					if err := bk.Put(k, v); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	base += p.batchTxs * p.batchSize
	b.db.NoSync = true
	b.timed("nosync_writes", p.nosync, func() error {
		for i := base; i < base+p.nosync; i++ {
			if err := b.update(func(bk *bolt.Bucket) error { k, v := pair(i); return bk.Put(k, v) }); err != nil {
				return err
			}
		}
		return nil
	})
	b.db.NoSync = false
	must(b.update(func(*bolt.Bucket) error { return nil }))
	must(b.db.Sync())

	// As the Rust driver: the median of lenSamples calls, each right after a durable commit
	// that rewrites one key with its own value.
	b.medianAfter("len", elements, lenSamples, func(i uint64) error {
		return b.update(func(bk *bolt.Bucket) error { k, v := pair(i); return bk.Put(k, v) })
	}, func() error {
		return b.view(func(bk *bolt.Bucket) error {
			// The format stores no count; Stats().KeyN sums leaf page counts.
			n := uint64(bk.Stats().KeyN)
			return check(n == elements, "len() = %d, expected %d", n, elements)
		})
	})

	k := make([]byte, keyLen)
	var sums []uint64
	must(b.view(func(bk *bolt.Bucket) error {
		b.median("random_reads", p.n, func() error {
			var sum uint64
			for i := uint64(0); i < p.n; i++ {
				key(i, k)
				v := bk.Get(k)
				if v == nil {
					return fmt.Errorf("key %d missing", i)
				}
				sum += valueSum(v)
			}
			sums = append(sums, sum)
			return nil
		})
		return nil
	}))
	fmt.Printf("C random_reads %d\n", sums[0])

	scans := p.n / 2
	sums = sums[:0]
	must(b.view(func(bk *bolt.Bucket) error {
		b.median("random_range_reads", scans*scanLen, func() error {
			var sum uint64
			for i := uint64(0); i < scans; i++ {
				key(i, k)
				c := bk.Cursor()
				got := uint64(0)
				for kk, v := c.Seek(k); kk != nil && got < scanLen; kk, v = c.Next() {
					sum += valueSum(v)
					got++
				}
				sum += got
			}
			sums = append(sums, sum)
			return nil
		})
		return nil
	}))
	fmt.Printf("C random_range_reads %d\n", sums[0])

	for _, t := range threads {
		per := elements / uint64(t)
		b.timed("random_reads_"+strconv.Itoa(t)+"t", per*uint64(t), func() error {
			var wg sync.WaitGroup
			var ready sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, t)
			for th := 0; th < t; th++ {
				wg.Add(1)
				ready.Add(1)
				go func(th uint64) {
					defer wg.Done()
					errs[th] = b.view(func(bk *bolt.Bucket) error {
						ready.Done()
						<-start
						k := make([]byte, keyLen)
						for i := th * per; i < (th+1)*per; i++ {
							key(i, k)
							if bk.Get(k) == nil {
								return fmt.Errorf("key %d missing", i)
							}
						}
						return nil
					})
				}(uint64(th))
			}
			ready.Wait()
			close(start)
			wg.Wait()
			for _, e := range errs {
				if e != nil {
					return e
				}
			}
			return nil
		})
	}

	removals := elements / 2
	b.timed("removals", removals, func() error {
		return b.update(func(bk *bolt.Bucket) error {
			for i := uint64(0); i < removals; i++ {
				key(i, k)
				if err := bk.Delete(k); err != nil {
					return err
				}
			}
			return nil
		})
	})

	b.size("uncompacted_size")
	start := time.Now()
	tmp := filepath.Join(b.dir, "data2.db")
	dst, err := bolt.Open(tmp, 0600, nil)
	must(err)
	must(bolt.Compact(dst, b.db, compactTxSz))
	must(dst.Close())
	must(b.db.Close())
	must(os.Rename(tmp, b.path))
	b.db, err = bolt.Open(b.path, 0600, nil)
	must(err)
	b.emit("compaction", float64(time.Since(start).Nanoseconds())/1e6, 1)
	b.size("compacted_size")

	b.timed("sorted_inserts", p.n, func() error {
		return b.update(func(bk *bolt.Bucket) error {
			bk.FillPercent = 1.0 // bbolt's append path
			for i := uint64(0); i < p.n; i++ {
				v := make([]byte, valueLen)
				r := forIndex(^uint64(0) - i)
				r.fill(v)
				if err := bk.Put(sortedKey(i), v); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

func (b *bench) runLarge(p params) {
	pool := make([]byte, 2*largeMax)
	r0 := rng{seed}
	r0.fill(pool)
	var total uint64
	b.timed("large_write", p.large, func() error {
		return b.update(func(bk *bolt.Bucket) error {
			for i := uint64(0); i < p.large; i++ {
				k := make([]byte, keyLen)
				key(i, k)
				r := forIndex(i)
				n := largeMin + int(r.next()%uint64(largeMax-largeMin+1))
				off := int(r.next() % uint64(largeMax))
				total += uint64(n)
				if err := bk.Put(k, pool[off:off+n]); err != nil {
					return err
				}
			}
			return nil
		})
	})
	fmt.Printf("C large_bytes %d\n", total)
	var sum uint64
	k := make([]byte, keyLen)
	b.timed("large_read", p.large, func() error {
		return b.view(func(bk *bolt.Bucket) error {
			for i := uint64(0); i < p.large; i++ {
				key(i, k)
				v := bk.Get(k)
				if v == nil {
					return fmt.Errorf("large key %d missing", i)
				}
				sum += valueSum(v)
			}
			return nil
		})
	})
	fmt.Printf("C large_read %d\n", sum)
}

func peakRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func main() {
	mode := flag.String("mode", "main", "main or large")
	n := flag.Uint64("n", 1000000, "element count")
	dir := flag.String("dir", "", "empty directory for the database")
	flag.Parse()
	if *dir == "" {
		must(fmt.Errorf("-dir is required"))
	}
	must(os.MkdirAll(*dir, 0755))
	b := &bench{dir: *dir, path: filepath.Join(*dir, "data.db")}
	var err error
	b.db, err = bolt.Open(b.path, 0600, nil) // bbolt's defaults: durable commits, array freelist
	must(err)
	p := newParams(*n)
	switch *mode {
	case "main":
		b.runMain(p)
	case "large":
		b.runLarge(p)
	default:
		must(fmt.Errorf("unknown mode %q", *mode))
	}
	must(b.db.Close())
	fmt.Printf("M peak_rss %d\n", peakRSS())
}
