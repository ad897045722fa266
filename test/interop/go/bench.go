package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// benchChunk is the size of every write of bench-echo.
const benchChunk = 64 << 10

// benchOptions are the sizes of the bench-echo and bench-open cases.
type benchOptions struct {
	bytes int // bench-echo: bytes sent (and echoed)
	count int // bench-open: streams opened one after another
}

func defaultBenchOptions() benchOptions {
	return benchOptions{bytes: 64 << 20, count: 2000}
}

// set parses --bytes / --count (name without the dashes).
func (o *benchOptions) set(name, value string) error {
	n, err := strconv.Atoi(value)
	if err != nil || n <= 0 {
		return fmt.Errorf("invalid --%s value %q (a positive integer)", name, value)
	}
	if name == "bytes" {
		o.bytes = n
	} else {
		o.count = n
	}
	return nil
}

// openEcho opens an echo stream bounded by the context deadline.
func openEcho(ctx context.Context, h host.Host, p peer.ID) (network.Stream, error) {
	s, err := h.NewStream(ctx, p, protoEcho)
	if err != nil {
		return nil, fmt.Errorf("NewStream: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	return s, nil
}

// caseBenchEcho sends size bytes on one echo stream in 64 KiB writes while
// reading the echo, half-closes and reads to the end. The time starts once
// the stream is open (negotiated), so the dial is not in the figure.
func caseBenchEcho(ctx context.Context, h host.Host, p peer.ID, size int) map[string]any {
	res := map[string]any{"case": "bench-echo", "ok": false, "bytes": size}
	s, err := openEcho(ctx, h, p)
	if err != nil {
		res["error"] = err.Error()
		return res
	}
	defer s.Close()
	chunk := pseudoRandom(7, benchChunk)
	started := time.Now()
	writeErr := make(chan error, 1)
	go func() {
		for left := size; left > 0; left -= benchChunk {
			if _, err := s.Write(chunk[:min(left, benchChunk)]); err != nil {
				writeErr <- fmt.Errorf("write: %w", err)
				return
			}
		}
		if err := s.CloseWrite(); err != nil {
			writeErr <- fmt.Errorf("close write: %w", err)
			return
		}
		writeErr <- nil
	}()
	received, readErr := io.CopyBuffer(io.Discard, s, make([]byte, benchChunk))
	elapsed := time.Since(started)
	if readErr != nil {
		_ = s.Reset()
	}
	if err := <-writeErr; err != nil {
		_ = s.Reset()
		res["error"] = err.Error()
		return res
	}
	if readErr != nil {
		res["error"] = fmt.Sprintf("read after %d bytes: %v", received, readErr)
		return res
	}
	if received != int64(size) {
		res["error"] = fmt.Sprintf("sent %d bytes, got %d back", size, received)
		return res
	}
	res["ok"] = true
	res["ms"] = float64(elapsed.Microseconds()) / 1000
	res["mbps"] = float64(size) / 1e6 / elapsed.Seconds()
	return res
}

// benchOpenOnce opens an echo stream, writes one byte, half-closes and reads
// the one-byte echo to the end.
func benchOpenOnce(ctx context.Context, h host.Host, p peer.ID) error {
	s, err := openEcho(ctx, h, p)
	if err != nil {
		return err
	}
	defer s.Close()
	if _, err := s.Write([]byte{1}); err != nil {
		_ = s.Reset()
		return fmt.Errorf("write: %w", err)
	}
	if err := s.CloseWrite(); err != nil {
		_ = s.Reset()
		return fmt.Errorf("close write: %w", err)
	}
	var buf [2]byte
	n, err := io.ReadFull(s, buf[:])
	if n == 1 && errors.Is(err, io.ErrUnexpectedEOF) {
		return nil
	}
	_ = s.Reset()
	if err == nil {
		return errors.New("more than the one byte sent came back")
	}
	return fmt.Errorf("read after %d bytes: %w", n, err)
}

// caseBenchOpen runs count sequential echo round trips of one byte on the
// established connection. One more, before the clock starts, warms the
// connection up (go-libp2p's first NewStream waits for identify).
func caseBenchOpen(ctx context.Context, h host.Host, p peer.ID, count int) map[string]any {
	res := map[string]any{"case": "bench-open", "ok": false, "count": count}
	if err := benchOpenOnce(ctx, h, p); err != nil {
		res["error"] = "warm-up: " + err.Error()
		return res
	}
	started := time.Now()
	for i := range count {
		if err := benchOpenOnce(ctx, h, p); err != nil {
			res["error"] = fmt.Sprintf("stream %d: %v", i, err)
			return res
		}
	}
	elapsed := time.Since(started)
	res["ok"] = true
	res["ms"] = float64(elapsed.Microseconds()) / 1000
	res["opensPerSec"] = float64(count) / elapsed.Seconds()
	return res
}
