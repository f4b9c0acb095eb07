package main

// Go's printing rules, for checking rbolt's reimplementation of them: which runes
// unicode.IsPrint accepts, and what strconv.Quote (fmt's %q) makes of arbitrary bytes.

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// cmdQuote reads lines of hex from stdin and answers each with one line:
// strconv.Quote of the bytes, a tab, and "true" or "false" for "valid UTF-8 and
// every rune passes unicode.IsPrint". Quote escapes tabs and newlines, so the
// answer is always exactly one line.
func cmdQuote(args []string) int {
	if len(args) != 0 {
		return fail("usage: quote  (hex lines on stdin)")
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		b, err := hex.DecodeString(in.Text())
		if err != nil {
			return fail("quote: %v", err)
		}
		fmt.Fprintf(out, "%s\t%t\n", strconv.Quote(string(b)), printable(b))
	}
	if err := in.Err(); err != nil {
		return fail("quote: %v", err)
	}
	return 0
}

func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// cmdPrintRanges prints the inclusive ranges of code points unicode.IsPrint
// accepts, one "lo hi" pair of hex numbers per line, with Go's Unicode version first.
func cmdPrintRanges(args []string) int {
	if len(args) != 0 {
		return fail("usage: print-ranges")
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	fmt.Fprintf(out, "unicode %s\n", unicode.Version)
	start := rune(-1)
	for r := rune(0); r <= unicode.MaxRune+1; r++ {
		in := r <= unicode.MaxRune && unicode.IsPrint(r)
		if in && start < 0 {
			start = r
		} else if !in && start >= 0 {
			fmt.Fprintf(out, "%x %x\n", start, r-1)
			start = -1
		}
	}
	return 0
}
