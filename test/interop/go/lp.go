package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/multiformats/go-varint"
)

// readLP reads one unsigned-varint length-prefixed message. It returns io.EOF
// only for a clean end of stream before the first byte of a message.
func readLP(r *bufio.Reader, max int) ([]byte, error) {
	length, err := varint.ReadUvarint(r)
	if err != nil {
		if err == io.EOF { // a wrapped EOF is not a clean end
			return nil, io.EOF
		}
		return nil, fmt.Errorf("reading length: %w", err)
	}
	if length > uint64(max) {
		return nil, fmt.Errorf("message of %d bytes exceeds the limit of %d", length, max)
	}
	msg := make([]byte, length)
	if _, err := io.ReadFull(r, msg); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading %d-byte body: %w", length, err)
	}
	return msg, nil
}

// writeLP buffers one length-prefixed message; the caller flushes.
func writeLP(w *bufio.Writer, body []byte) error {
	var prefix [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(prefix[:], uint64(len(body)))
	if _, err := w.Write(prefix[:n]); err != nil {
		return err
	}
	_, err := w.Write(body)
	return err
}

// pseudoRandom returns deterministic pseudo-random bytes (splitmix64),
// distinct per seed.
func pseudoRandom(seed uint64, n int) []byte {
	state := seed*0x9E3779B97F4A7C15 ^ 0xD1B54A32D192ED03
	out := make([]byte, 0, n+8)
	var word [8]byte
	for len(out) < n {
		state += 0x9E3779B97F4A7C15
		z := state
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		binary.LittleEndian.PutUint64(word[:], z)
		out = append(out, word[:]...)
	}
	return out[:n]
}
