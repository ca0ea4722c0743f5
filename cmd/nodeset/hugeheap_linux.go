//go:build linux && (amd64 || arm64)

package main

import (
	"syscall"
	"unsafe"
)

const (
	// heapArenaBytes is the size and alignment of the Go runtime's heap
	// arenas on 64-bit Linux.
	heapArenaBytes = 64 << 20
	hugePageBytes  = 2 << 20
	madvHugepage   = 14 // MADV_HUGEPAGE
)

// probe receives an object allocated where the heap's free memory begins.
var probe []byte

// hugeHeap asks Linux to back the heap memory not yet touched in the first
// heap arena with transparent huge pages, where the system leaves them to
// madvise(2): /sys/kernel/mm/transparent_hugepage/enabled set to
// "madvise", as on the machine of bench/nodeset/RESULTS.md. (With "always"
// the kernel does it anyway; with "never" the call does nothing.)
//
// nodeset runs for a few milliseconds, and much of that goes to the first
// write to each 4 KiB page of new heap memory: a page fault, which on the
// virtual machine of bench/nodeset costs 10-20 µs, far more than the work
// done in the page. "nodeset -f A -x B" on two fragmented 100 000-node
// sets writes some 2 MB of new heap: 450 faults, 7 ms. In 2 MiB pages,
// the same memory takes a couple of faults.
//
// Only 2 MiB ranges nothing has been written to yet can become huge pages,
// and only in the memory the runtime has mapped so far: the range where
// start-up left off stays in small pages, and memory mapped as the heap
// grows keeps the system default. So a run gains only when start-up left a
// whole range of the first mapping free, about every other time given the
// randomised heap base; the others run as before. Nothing changes but the
// speed and, by less than 2 MiB a huge page, the memory held: the call is
// a hint and its errors are ignored.
func hugeHeap() {
	probe = make([]byte, 64<<10) // large: taken from the heap's free pages
	end := uintptr(unsafe.Pointer(unsafe.SliceData(probe))) + uintptr(len(probe))
	probe = nil
	lo := (end + hugePageBytes - 1) &^ (hugePageBytes - 1)
	hi := (end &^ (heapArenaBytes - 1)) + heapArenaBytes
	if lo < hi {
		syscall.Syscall(syscall.SYS_MADVISE, lo, hi-lo, madvHugepage)
	}
}
