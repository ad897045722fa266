#!/usr/bin/env bash
# Builds the Go and Rust interop peers (test/interop/{go,rust}) used by the
# interop tests.
#
#   scripts/interop-build.sh          # build both peers
#   scripts/interop-build.sh go       # build only the Go peer
#   scripts/interop-build.sh rust     # build only the Rust peer
#
# Binaries go to ${LIBP2P_STREAM_INTEROP_BIN:-$HOME/.cache/libp2p-stream/interop-bin}
# as go-peer and rust-peer. Build caches stay outside the repository:
#   - cargo: ${XDG_CACHE_HOME:-$HOME/.cache}/libp2p-stream/cargo-target
#   - go:    the usual GOCACHE / GOMODCACHE (go env), unless already set
# A missing toolchain is an error, never a silent skip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${LIBP2P_STREAM_INTEROP_BIN:-$HOME/.cache/libp2p-stream/interop-bin}"
CARGO_TARGET="${XDG_CACHE_HOME:-$HOME/.cache}/libp2p-stream/cargo-target"

die() {
  echo "interop-build: error: $*" >&2
  exit 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(go rust)
fi
for t in "${targets[@]}"; do
  case "$t" in
    go | rust) ;;
    -h | --help)
      sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown target '$t' (expected: go, rust)" ;;
  esac
done

# Check every requested toolchain before building anything.
for t in "${targets[@]}"; do
  case "$t" in
    go)
      command -v go >/dev/null 2>&1 ||
        die "the Go toolchain ('go') is missing: the Go interop peer needs Go >= 1.26.
  Install it from https://go.dev/doc/install (or your package manager, if it has 1.26+),
  make sure 'go' is on PATH, then run this script again."
      ;;
    rust)
      command -v cargo >/dev/null 2>&1 ||
        die "the Rust toolchain ('cargo') is missing: the Rust interop peer needs Rust >= 1.85 (edition 2024).
  Install it with rustup (https://rustup.rs), make sure 'cargo' is on PATH,
  then run this script again."
      ;;
  esac
done

mkdir -p "$BIN_DIR"

build_go() {
  local start
  start="$(now)"
  echo "interop-build: building go-peer ($(go version | awk '{print $3}'))" >&2
  (
    cd "$ROOT/test/interop/go"
    go build -mod=readonly -trimpath -o "$BIN_DIR/go-peer.tmp" .
  ) || die "go build of test/interop/go failed"
  mv -f "$BIN_DIR/go-peer.tmp" "$BIN_DIR/go-peer"
  echo "interop-build: go-peer built in $(elapsed "$start")s" >&2
}

build_rust() {
  local start
  start="$(now)"
  echo "interop-build: building rust-peer ($(cargo --version | awk '{print $1, $2}'), target dir $CARGO_TARGET)" >&2
  CARGO_TARGET_DIR="$CARGO_TARGET" cargo build --release --locked \
    --manifest-path "$ROOT/test/interop/rust/Cargo.toml" ||
    die "cargo build of test/interop/rust failed"
  cp -f "$CARGO_TARGET/release/rust-peer" "$BIN_DIR/rust-peer.tmp"
  mv -f "$BIN_DIR/rust-peer.tmp" "$BIN_DIR/rust-peer"
  echo "interop-build: rust-peer built in $(elapsed "$start")s" >&2
}

for t in "${targets[@]}"; do
  "build_$t"
done

echo "interop peers are in $BIN_DIR:"
for t in "${targets[@]}"; do
  echo "  $BIN_DIR/$t-peer"
done
