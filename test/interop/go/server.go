package main

import (
	"bufio"
	"crypto/sha256"
	"errors"
	"io"
	"log"
	"sync"
	"sync/atomic"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

const (
	// maxLPMessage is the largest length-prefixed message the lp server takes.
	maxLPMessage = 4 << 20
	// backlogHeld is how many backlog streams are kept open (unread); later
	// ones are reset.
	backlogHeld = 2
	// resetCodeSent is the code the reset-code server resets with.
	resetCodeSent = network.StreamRateLimited
)

func registerServers(h host.Host) {
	serve(h, protoEcho, serveEcho)
	serve(h, protoLP, serveLP)
	serve(h, protoV1, serveVersion)

	// Resets each stream with a code once its first byte has arrived, so the
	// opener meets the code on a read after its open succeeded.
	h.SetStreamHandler(protoResetCode, func(s network.Stream) {
		_, _ = s.Read(make([]byte, 1))
		log.Printf("%s: resetting stream from %s with code 0x%x", protoResetCode, s.Conn().RemotePeer(), resetCodeSent)
		_ = s.ResetWithError(resetCodeSent)
	})

	// Backlog emulation for local runs: per remote peer, hold the first
	// streams unread and reset every later one.
	var mu sync.Mutex
	held := map[peer.ID][]network.Stream{}
	h.SetStreamHandler(protoBacklog, func(s network.Stream) {
		remote := s.Conn().RemotePeer()
		mu.Lock()
		defer mu.Unlock()
		if len(held[remote]) < backlogHeld {
			held[remote] = append(held[remote], s)
			log.Printf("%s: holding stream #%d from %s", protoBacklog, len(held[remote]), remote)
			return
		}
		log.Printf("%s: backlog full, resetting stream from %s", protoBacklog, remote)
		_ = s.Reset()
	})
}

func serve(h host.Host, p protocol.ID, handler func(network.Stream) error) {
	var accepted atomic.Int64
	h.SetStreamHandler(p, func(s network.Stream) {
		n := accepted.Add(1)
		remote := s.Conn().RemotePeer()
		if err := handler(s); err != nil {
			log.Printf("%s: stream #%d from %s failed: %v", p, n, remote, err)
			_ = s.Reset()
			return
		}
		log.Printf("%s: stream #%d from %s done", p, n, remote)
	})
}

func serveEcho(s network.Stream) error {
	if _, err := io.Copy(s, s); err != nil {
		return err
	}
	return s.Close()
}

func serveLP(s network.Stream) error {
	r := bufio.NewReader(s)
	w := bufio.NewWriter(s)
	for {
		msg, err := readLP(r, maxLPMessage)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		digest := sha256.Sum256(msg)
		if err := writeLP(w, digest[:]); err != nil {
			return err
		}
		// Answer right away unless more requests are already buffered.
		if r.Buffered() == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return s.Close()
}

func serveVersion(s network.Stream) error {
	w := bufio.NewWriter(s)
	if err := writeLP(w, []byte(s.Protocol())); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return s.Close()
}
