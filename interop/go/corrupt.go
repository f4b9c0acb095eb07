package main

import (
	"encoding/binary"
	"fmt"
	"os"
)

// Offsets inside a meta page (page header 16 bytes, then the meta struct).
const (
	metaMagicOff    = 16
	metaPageSizeOff = 24
	metaTxidOff     = 64
	metaChecksumOff = 72
	metaMagic       = 0xED0CDAED
)

// cmdCorruptMeta damages the checksum of the newest meta page (the one with
// the higher txid), so that bbolt falls back to the other meta and the
// database opens at the previous transaction. Used only to build test data.
//
// This works on raw bytes on purpose: bbolt has no API to write a bad meta,
// and going around it is the point.
func cmdCorruptMeta(args []string) int {
	if len(args) != 1 {
		return fail("usage: corrupt-meta DB")
	}
	f, err := os.OpenFile(args[0], os.O_RDWR, 0)
	if err != nil {
		return fail("%v", err)
	}
	defer f.Close()

	head := make([]byte, 80)
	if _, err := f.ReadAt(head, 0); err != nil {
		return fail("read meta 0: %v", err)
	}
	if binary.LittleEndian.Uint32(head[metaMagicOff:]) != metaMagic {
		return fail("meta 0 has no bbolt magic; refusing to guess the page size")
	}
	pageSize := int64(binary.LittleEndian.Uint32(head[metaPageSizeOff:]))

	other := make([]byte, 80)
	if _, err := f.ReadAt(other, pageSize); err != nil {
		return fail("read meta 1: %v", err)
	}
	tx0 := binary.LittleEndian.Uint64(head[metaTxidOff:])
	tx1 := binary.LittleEndian.Uint64(other[metaTxidOff:])

	// bbolt prefers the higher txid (meta 0 on a tie), so that is the one to
	// break.
	victim, page, victimTx, otherTx := int64(0), head, tx0, tx1
	if tx1 > tx0 {
		victim, page, victimTx, otherTx = 1, other, tx1, tx0
	}
	off := victim*pageSize + metaChecksumOff
	b := []byte{page[metaChecksumOff] ^ 0xFF}
	if _, err := f.WriteAt(b, off); err != nil {
		return fail("write: %v", err)
	}
	if err := f.Sync(); err != nil {
		return fail("sync: %v", err)
	}
	fmt.Printf("corrupted meta %d (txid %d) checksum byte at offset %d; other meta has txid %d\n",
		victim, victimTx, off, otherTx)
	return 0
}
