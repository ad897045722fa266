// Command go-peer is the go-libp2p interop peer of the libp2p-stream test
// matrix. See ../README.md for its command-line interface.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	libp2ptls "github.com/libp2p/go-libp2p/p2p/security/tls"
	libp2pquic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	"github.com/libp2p/go-libp2p/p2p/transport/websocket"
	ma "github.com/multiformats/go-multiaddr"
)

const (
	protoEcho    = protocol.ID("/interop/echo/1.0.0")
	protoLP      = protocol.ID("/interop/lp/1.0.0")
	protoV1      = protocol.ID("/interop/v/1.0.0")
	protoV2      = protocol.ID("/interop/v/2.0.0")
	protoBacklog = protocol.ID("/interop/backlog/1.0.0")
	protoNope    = protocol.ID("/interop/nope/1.0.0")
	// protoResetCode: the listener reads one byte, then resets the stream with
	// resetCodeSent (go-libp2p's ResetWithError).
	protoResetCode = protocol.ID("/interop/reset-code/1.0.0")

	exitFailed  = 1
	exitUsage   = 2
	exitTimeout = 124
)

// transports maps each --transport value to the address the peer listens on.
// tcp and ws secure connections with noise, tls with TLS 1.3; all three use
// yamux. quic brings its own security and stream multiplexing.
var transports = map[string]string{
	"tcp":  "/ip4/127.0.0.1/tcp/0",
	"tls":  "/ip4/127.0.0.1/tcp/0",
	"ws":   "/ip4/127.0.0.1/tcp/0/ws",
	"quic": "/ip4/127.0.0.1/udp/0/quic-v1",
}

var cases = []string{"echo", "concurrent", "lp", "versions", "unsupported", "backlog", "bench-echo", "bench-open"}

const usage = `usage:
  go-peer listen [--transport T] [--timeout SECONDS]
  go-peer dial <multiaddr-with-/p2p/> <case> [--transport T] [--by-peer-id]
                [--timeout SECONDS] [--bytes N] [--count N]
cases: echo, concurrent, lp, versions, unsupported, backlog, bench-echo, bench-open
  --transport: tcp (TCP + noise + yamux, the default), tls (TCP + TLS + yamux),
               ws (WebSockets + noise + yamux) or quic (QUIC v1)
  --bytes: bytes bench-echo sends (default 67108864)
  --count: streams bench-open opens (default 2000)`

type args struct {
	mode      string // "listen" or "dial"
	transport string // a key of transports
	addr      ma.Multiaddr
	caseName  string
	byPeerID  bool
	timeout   time.Duration
	bench     benchOptions
}

func parseArgs(raw []string) (*args, error) {
	a := &args{transport: "tcp", timeout: 60 * time.Second, bench: defaultBenchOptions()}
	var positional []string
	for i := 0; i < len(raw); i++ {
		arg := raw[i]
		switch {
		case arg == "--by-peer-id":
			a.byPeerID = true
		case arg == "--timeout":
			if i+1 >= len(raw) {
				return nil, errors.New("--timeout needs a value")
			}
			i++
			d, err := parseTimeout(raw[i])
			if err != nil {
				return nil, err
			}
			a.timeout = d
		case strings.HasPrefix(arg, "--timeout="):
			d, err := parseTimeout(strings.TrimPrefix(arg, "--timeout="))
			if err != nil {
				return nil, err
			}
			a.timeout = d
		case arg == "--transport" || strings.HasPrefix(arg, "--transport="):
			value, found := strings.CutPrefix(arg, "--transport=")
			if !found {
				if i+1 >= len(raw) {
					return nil, errors.New("--transport needs a value")
				}
				i++
				value = raw[i]
			}
			if _, known := transports[value]; !known {
				return nil, fmt.Errorf("unknown --transport %q (expected tcp, tls, ws or quic)", value)
			}
			a.transport = value
		case arg == "--bytes" || arg == "--count":
			if i+1 >= len(raw) {
				return nil, fmt.Errorf("%s needs a value", arg)
			}
			i++
			if err := a.bench.set(arg[2:], raw[i]); err != nil {
				return nil, err
			}
		case strings.HasPrefix(arg, "--bytes=") || strings.HasPrefix(arg, "--count="):
			name, value, _ := strings.Cut(arg[2:], "=")
			if err := a.bench.set(name, value); err != nil {
				return nil, err
			}
		case arg == "-h" || arg == "--help":
			return nil, errors.New("help")
		case strings.HasPrefix(arg, "--"):
			return nil, fmt.Errorf("unknown option %s", arg)
		default:
			positional = append(positional, arg)
		}
	}
	switch {
	case len(positional) == 1 && positional[0] == "listen":
		if a.byPeerID {
			return nil, errors.New("--by-peer-id is only valid with dial")
		}
		a.mode = "listen"
	case len(positional) == 3 && positional[0] == "dial":
		addr, err := ma.NewMultiaddr(positional[1])
		if err != nil {
			return nil, fmt.Errorf("invalid multiaddr %q: %w", positional[1], err)
		}
		known := false
		for _, c := range cases {
			known = known || c == positional[2]
		}
		if !known {
			return nil, fmt.Errorf("unknown case %q", positional[2])
		}
		a.mode, a.addr, a.caseName = "dial", addr, positional[2]
	default:
		return nil, errors.New("wrong arguments")
	}
	return a, nil
}

func parseTimeout(v string) (time.Duration, error) {
	secs, err := strconv.ParseFloat(v, 64)
	if err != nil || !(secs > 0) || math.IsInf(secs, 0) {
		return 0, fmt.Errorf("invalid --timeout value %q", v)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// printJSON writes one JSON line to stdout (unbuffered, so it is flushed).
func printJSON(v any) {
	b, err := json.Marshal(v)
	if err != nil {
		log.Printf("cannot encode result: %v", err)
		return
	}
	if _, err := os.Stdout.Write(append(b, '\n')); err != nil {
		log.Printf("cannot write to stdout: %v", err)
	}
}

// stdinClosed is closed when stdin reaches end-of-file (or fails).
func stdinClosed() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(done)
	}()
	return done
}

func newHost(transport string) (host.Host, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		return nil, err
	}
	// The resource manager gets no limits: the test matrix opens 64 concurrent
	// streams on one connection for protocols that register no service, which
	// the default scaled limits may refuse.
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(rcmgr.InfiniteLimits))
	if err != nil {
		return nil, err
	}
	opts := []libp2p.Option{
		libp2p.Identity(priv),
		libp2p.ListenAddrStrings(transports[transport]),
		libp2p.ResourceManager(rm),
		libp2p.DisableRelay(),
		libp2p.DisableMetrics(),
		libp2p.DisableIdentifyAddressDiscovery(),
	}
	switch transport {
	case "tcp":
		opts = append(opts, libp2p.Transport(tcp.NewTCPTransport), libp2p.Security(noise.ID, noise.New))
	case "tls":
		opts = append(opts, libp2p.Transport(tcp.NewTCPTransport), libp2p.Security(libp2ptls.ID, libp2ptls.New))
	case "ws":
		opts = append(opts, libp2p.Transport(websocket.New), libp2p.Security(noise.ID, noise.New))
	case "quic":
		opts = append(opts, libp2p.Transport(libp2pquic.NewTransport))
	}
	if transport != "quic" {
		opts = append(opts, libp2p.Muxer(yamux.ID, yamux.DefaultTransport))
	}
	return libp2p.New(opts...)
}

func main() {
	log.SetFlags(log.Lmicroseconds)
	log.SetPrefix("go-peer: ")
	log.SetOutput(os.Stderr)

	a, err := parseArgs(os.Args[1:])
	if err != nil {
		if err.Error() != "help" {
			log.Print(err)
		}
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(exitUsage)
	}
	os.Exit(run(a))
}

func run(a *args) int {
	deadline := time.Now().Add(a.timeout)
	h, err := newHost(a.transport)
	if err != nil {
		log.Printf("error: cannot start host: %v", err)
		return exitUsage
	}
	defer h.Close()

	p2p, err := ma.NewComponent("p2p", h.ID().String())
	if err != nil {
		log.Printf("error: %v", err)
		return exitUsage
	}
	addrs := []string{}
	for _, addr := range h.Network().ListenAddresses() {
		addrs = append(addrs, addr.Encapsulate(p2p).String())
	}
	printJSON(map[string]any{"peerId": h.ID().String(), "addrs": addrs})
	log.Printf("peer %s listening on %v", h.ID(), addrs)

	stdin := stdinClosed()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()

	if a.mode == "listen" {
		registerServers(h)
		select {
		case <-stdin:
			log.Print("stdin closed, exiting")
			return 0
		case <-timer.C:
			log.Printf("timeout of %v reached, exiting", a.timeout)
			return exitTimeout
		}
	}

	fail := func(msg string) {
		printJSON(map[string]any{"case": a.caseName, "ok": false, "error": msg})
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	info, err := peer.AddrInfoFromP2pAddr(a.addr)
	if err != nil {
		log.Printf("error: address %s: %v", a.addr, err)
		return exitUsage
	}
	if a.byPeerID {
		// Only tell the peerstore where the peer is; NewStream dials by id.
		h.Peerstore().AddAddrs(info.ID, info.Addrs, peerstore.PermanentAddrTTL)
		log.Printf("added %s to the peerstore, opening streams by peer id", a.addr)
	} else {
		if err := h.Connect(ctx, *info); err != nil {
			if ctx.Err() != nil {
				log.Printf("timeout of %v reached while dialing", a.timeout)
				fail("timeout")
				return exitTimeout
			}
			log.Printf("dial failed: %v", err)
			fail("dial failed: " + err.Error())
			return exitFailed
		}
		log.Printf("connected to %s", info.ID)
	}

	results := make(chan map[string]any, 1)
	go func() {
		started := time.Now()
		res := runCase(ctx, h, info.ID, a.caseName, a.bench)
		if _, timed := res["ms"]; !timed { // the bench cases time only their transfer
			res["ms"] = time.Since(started).Milliseconds()
		}
		results <- res
	}()
	select {
	case res := <-results:
		printJSON(res)
		if ok, _ := res["ok"].(bool); ok {
			return 0
		}
		log.Printf("case %s failed: %v", a.caseName, res)
		return exitFailed
	case <-stdin:
		log.Printf("stdin closed before case %s finished, aborting", a.caseName)
		fail("aborted: stdin closed")
		return exitFailed
	case <-timer.C:
		log.Printf("timeout of %v reached during case %s", a.timeout, a.caseName)
		fail("timeout")
		return exitTimeout
	}
}
