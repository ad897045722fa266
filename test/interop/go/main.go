package main

import (
	_ "github.com/libp2p/go-libp2p"
	_ "github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	_ "github.com/libp2p/go-libp2p/p2p/security/noise"
	_ "github.com/libp2p/go-libp2p/p2p/transport/tcp"
	_ "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	_ "github.com/multiformats/go-multistream"
	_ "github.com/multiformats/go-varint"
)

func main() {}
