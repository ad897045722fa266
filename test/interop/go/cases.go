package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mss "github.com/multiformats/go-multistream"
)

func runCase(ctx context.Context, h host.Host, p peer.ID, name string, bench benchOptions) map[string]any {
	switch name {
	case "echo":
		return caseEcho(ctx, h, p)
	case "concurrent":
		return caseConcurrent(ctx, h, p)
	case "lp":
		return caseLP(ctx, h, p)
	case "versions":
		return caseVersions(ctx, h, p)
	case "unsupported":
		return caseUnsupported(ctx, h, p)
	case "backlog":
		return caseBacklog(ctx, h, p)
	case "bench-echo":
		return caseBenchEcho(ctx, h, p, bench.bytes)
	case "bench-open":
		return caseBenchOpen(ctx, h, p, bench.count)
	}
	return map[string]any{"case": name, "ok": false, "error": "unknown case"}
}

// echoRoundtrip sends data on a new echo stream, half-closes, reads it back.
func echoRoundtrip(ctx context.Context, h host.Host, p peer.ID, data []byte) error {
	s, err := h.NewStream(ctx, p, protoEcho)
	if err != nil {
		return fmt.Errorf("NewStream: %w", err)
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	writeErr := make(chan error, 1)
	go func() {
		if _, err := s.Write(data); err != nil {
			writeErr <- fmt.Errorf("write: %w", err)
			return
		}
		if err := s.CloseWrite(); err != nil {
			writeErr <- fmt.Errorf("close write: %w", err)
			return
		}
		writeErr <- nil
	}()
	echoed, readErr := io.ReadAll(s)
	if err := <-writeErr; err != nil {
		_ = s.Reset()
		return err
	}
	if readErr != nil {
		_ = s.Reset()
		return fmt.Errorf("read after %d bytes: %w", len(echoed), readErr)
	}
	if !bytes.Equal(echoed, data) {
		diff := 0
		for diff < len(echoed) && diff < len(data) && echoed[diff] == data[diff] {
			diff++
		}
		return fmt.Errorf("echo mismatch: sent %d bytes, got %d back, first difference at byte %d",
			len(data), len(echoed), diff)
	}
	return nil
}

func caseEcho(ctx context.Context, h host.Host, p peer.ID) map[string]any {
	const size = 1 << 20
	res := map[string]any{"case": "echo", "ok": true, "bytes": size}
	if err := echoRoundtrip(ctx, h, p, pseudoRandom(1, size)); err != nil {
		res["ok"], res["error"] = false, err.Error()
	}
	return res
}

func caseConcurrent(ctx context.Context, h host.Host, p peer.ID) map[string]any {
	const streams, size = 64, 64 << 10
	errs := make([]error, streams)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = echoRoundtrip(ctx, h, p, pseudoRandom(uint64(1000+i), size))
		}()
	}
	wg.Wait()
	var msgs []string
	for i, err := range errs {
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("stream %d: %v", i, err))
		}
	}
	res := map[string]any{
		"case": "concurrent", "ok": len(msgs) == 0, "streams": streams,
		"bytesPerStream": size, "failed": len(msgs),
		"connections": len(h.Network().ConnsToPeer(p)),
	}
	if len(msgs) > 0 {
		res["error"] = strings.Join(msgs[:min(len(msgs), 5)], "; ")
	}
	return res
}

func caseLP(ctx context.Context, h host.Host, p peer.ID) map[string]any {
	const messages = 1000
	res := map[string]any{"case": "lp", "ok": false, "messages": messages}
	// Sizes spread evenly over 0..=65536, both ends included.
	msgs := make([][]byte, messages)
	for i := range msgs {
		msgs[i] = pseudoRandom(uint64(5000+i), i*65536/(messages-1))
	}

	s, err := h.NewStream(ctx, p, protoLP)
	if err != nil {
		res["error"] = "NewStream: " + err.Error()
		return res
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	writeErr := make(chan error, 1)
	go func() {
		w := bufio.NewWriterSize(s, 64<<10)
		for _, m := range msgs {
			if err := writeLP(w, m); err != nil {
				writeErr <- fmt.Errorf("write: %w", err)
				return
			}
		}
		if err := w.Flush(); err != nil {
			writeErr <- fmt.Errorf("write: %w", err)
			return
		}
		writeErr <- s.CloseWrite()
	}()
	readErr := func() error {
		r := bufio.NewReader(s)
		for i, m := range msgs {
			answer, err := readLP(r, 1024)
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("stream ended after %d answers", i)
			}
			if err != nil {
				return fmt.Errorf("reading answer %d: %w", i, err)
			}
			want := sha256.Sum256(m)
			if !bytes.Equal(answer, want[:]) {
				return fmt.Errorf("answer %d: %d bytes, not the SHA-256 of the message", i, len(answer))
			}
		}
		if _, err := readLP(r, 1024); !errors.Is(err, io.EOF) {
			if err == nil {
				return errors.New("more answers than messages")
			}
			return fmt.Errorf("waiting for end of stream: %w", err)
		}
		return nil
	}()
	if readErr != nil {
		_ = s.Reset()
		<-writeErr
		res["error"] = readErr.Error()
		return res
	}
	if err := <-writeErr; err != nil {
		res["error"] = err.Error()
		return res
	}
	res["ok"] = true
	return res
}

func caseVersions(ctx context.Context, h host.Host, p peer.ID) map[string]any {
	offered := []protocol.ID{protoV2, protoV1}
	res := map[string]any{"case": "versions", "ok": false, "fallback": false, "offered": offered}
	// One NewStream with both ids: multistream-select tries them in order.
	s, err := h.NewStream(ctx, p, offered...)
	if err != nil {
		res["error"] = "NewStream: " + err.Error()
		return res
	}
	defer s.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = s.SetDeadline(dl)
	}
	res["protocol"] = string(s.Protocol())
	reply, err := readLP(bufio.NewReader(s), 1024)
	if err != nil {
		res["error"] = "read: " + err.Error()
		return res
	}
	res["reply"] = string(reply)
	res["ok"] = s.Protocol() == protoV1 && string(reply) == string(protoV1)
	return res
}

func caseUnsupported(ctx context.Context, h host.Host, p peer.ID) map[string]any {
	res := map[string]any{"case": "unsupported", "ok": false}
	s, err := h.NewStream(ctx, p, protoNope)
	if err == nil {
		_ = s.Reset()
		res["error"], res["message"] = "none", fmt.Sprintf("stream for %s was opened", protoNope)
		return res
	}
	res["message"] = err.Error()
	// go-multistream's typed error, wrapped by BasicHost.NewStream.
	var notSupported mss.ErrNotSupported[protocol.ID]
	if errors.As(err, &notSupported) {
		res["ok"], res["error"] = true, "unsupported"
		return res
	}
	res["error"] = "other"
	return res
}

// isTimeout reports a read deadline: go-yamux returns its own ErrTimeout
// (a net.Error whose Timeout() is true), not os.ErrDeadlineExceeded.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func isReset(err error) bool {
	return errors.Is(err, network.ErrReset)
}

// resetCode is the code a reset carried, in hex ("0x1002"), as go-libp2p
// reports it (network.StreamError), or "none" when the error has none.
func resetCode(err error) string {
	var se *network.StreamError
	if errors.As(err, &se) {
		return fmt.Sprintf("0x%x", uint32(se.ErrorCode))
	}
	return "none"
}

// backlogStream opens one backlog stream, writes a byte and waits for what
// happens. It returns the outcome and how it surfaced; a reset's detail ends
// with the code it carried.
func backlogStream(ctx context.Context, h host.Host, p peer.ID) (string, string) {
	const wait = 5 * time.Second
	s, err := h.NewStream(ctx, p, protoBacklog)
	if err != nil {
		var notSupported mss.ErrNotSupported[protocol.ID]
		switch {
		case errors.As(err, &notSupported):
			return "unsupported", "NewStream: " + err.Error()
		case isReset(err):
			return "reset", "NewStream: code " + resetCode(err)
		}
		return "error", "NewStream: " + err.Error()
	}
	defer s.Reset()
	if _, err := s.Write([]byte{1}); err != nil {
		if isReset(err) {
			return "reset", "write: code " + resetCode(err)
		}
		return "error", "write: " + err.Error()
	}
	_ = s.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 16)
	n, err := s.Read(buf)
	switch {
	case n > 0:
		return "data", fmt.Sprintf("read %d unexpected bytes", n)
	case errors.Is(err, io.EOF):
		return "eof", "read: EOF"
	case isTimeout(err):
		return "open", "nothing within 5 s"
	case isReset(err):
		return "reset", "read: code " + resetCode(err)
	case err != nil:
		return "error", "read: " + err.Error()
	}
	return "error", "read returned nothing and no error"
}

func caseBacklog(ctx context.Context, h host.Host, p peer.ID) map[string]any {
	const streams = 10
	type outcome struct{ kind, detail string }
	results := make([]outcome, streams)
	var wg sync.WaitGroup
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			kind, detail := backlogStream(ctx, h, p)
			results[i] = outcome{kind, detail}
		}()
	}
	wg.Wait()
	outcomes := map[string]int{}
	details := map[string]int{}
	codes := map[string]int{}
	for _, r := range results {
		outcomes[r.kind]++
		details[r.kind+": "+r.detail]++
		if r.kind == "reset" {
			codes[r.detail[strings.LastIndex(r.detail, " ")+1:]]++
		}
	}
	return map[string]any{"case": "backlog", "ok": true, "outcomes": outcomes, "details": details, "codes": codes}
}
