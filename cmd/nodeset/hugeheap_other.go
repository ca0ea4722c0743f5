//go:build !(linux && (amd64 || arm64))

package main

// hugeHeap is a Linux optimisation (see hugeheap_linux.go).
func hugeHeap() {}
