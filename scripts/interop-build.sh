#!/usr/bin/env bash
# Builds the Go, Rust and Python interop peers (test/interop/{go,rust,python})
# used by the interop tests, and installs the JS side's QUIC transport
# (test/interop/quic).
#
#   scripts/interop-build.sh          # all four
#   scripts/interop-build.sh go       # build only the Go peer
#   scripts/interop-build.sh rust     # build only the Rust peer
#   scripts/interop-build.sh python   # only the Python peer and its venv
#   scripts/interop-build.sh quic     # install only @chainsafe/libp2p-quic
#
# Binaries go to ${LIBP2P_STREAM_INTEROP_BIN:-$HOME/.cache/libp2p-stream/interop-bin}
# as go-peer, rust-peer and python-peer (a launcher for the peer's sources,
# copied to python-peer.src beside it). Build caches stay outside the repository:
#   - cargo: ${XDG_CACHE_HOME:-$HOME/.cache}/libp2p-stream/cargo-target
#   - go:    the usual GOCACHE / GOMODCACHE (go env), unless already set
#   - python: a virtual environment in ${XDG_CACHE_HOME:-$HOME/.cache}/libp2p-stream/python-venv,
#     made by ${LIBP2P_STREAM_PYTHON:-python3.11} (else python3, >= 3.10) from
#     test/interop/python/requirements.txt (exact versions, hashes checked) and
#     made again only when that file changes
# @chainsafe/libp2p-quic goes to test/interop/quic/node_modules (ignored by
# git), from that folder's own package.json and lock: it is not in the root
# lock because the registry used here serves its native binary for
# linux-x64-gnu only. A missing toolchain or QUIC binary is an error, never a
# silent skip.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${LIBP2P_STREAM_INTEROP_BIN:-$HOME/.cache/libp2p-stream/interop-bin}"
CARGO_TARGET="${XDG_CACHE_HOME:-$HOME/.cache}/libp2p-stream/cargo-target"
PYTHON_VENV="${XDG_CACHE_HOME:-$HOME/.cache}/libp2p-stream/python-venv"
PYTHON_DIR="$ROOT/test/interop/python"
QUIC_DIR="$ROOT/test/interop/quic"
# the Node the npm scripts run (the `node` dev dependency), which loads the
# native binary
NODE="$ROOT/node_modules/.bin/node"

die() {
  echo "interop-build: error: $*" >&2
  exit 1
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(go rust python quic)
fi
for t in "${targets[@]}"; do
  case "$t" in
    go | rust | python | quic) ;;
    -h | --help)
      sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *) die "unknown target '$t' (expected: go, rust, python, quic)" ;;
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
    python)
      PYTHON="${LIBP2P_STREAM_PYTHON:-}"
      if [ -z "$PYTHON" ]; then
        PYTHON=$(command -v python3.11 || command -v python3 || true)
      fi
      [ -n "$PYTHON" ] && "$PYTHON" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null ||
        die "Python >= 3.10 with the venv module is missing: the Python interop peer (py-libp2p 0.8.1) needs it.
  test/interop/python/requirements.txt was locked with Python 3.11 (python3.11 is used when on PATH);
  install it (e.g. the python3.11 and python3.11-venv packages), or set LIBP2P_STREAM_PYTHON
  to an interpreter, then run this script again."
      ;;
    quic)
      [ -x "$NODE" ] && command -v npm >/dev/null 2>&1 ||
        die "the QUIC transport needs npm and the project's Node ($NODE): run 'npm ci' in $ROOT first."
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

build_python() {
  local start stamp want
  start="$(now)"
  want="$("$PYTHON" --version 2>&1 | awk '{print $2}') $(sha256sum "$PYTHON_DIR/requirements.txt" | awk '{print $1}')"
  stamp="$PYTHON_VENV/.libp2p-stream-requirements"
  if [ -x "$PYTHON_VENV/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    echo "interop-build: python venv $PYTHON_VENV is up to date (Python ${want% *})" >&2
  else
    echo "interop-build: making the python venv $PYTHON_VENV (Python ${want% *}) from test/interop/python/requirements.txt" >&2
    rm -rf "$PYTHON_VENV"
    "$PYTHON" -m venv "$PYTHON_VENV" || die "python -m venv $PYTHON_VENV failed"
    # every package pinned with its hashes: --require-hashes refuses anything
    # else, --no-deps installs exactly the lock
    "$PYTHON_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
      --require-hashes --no-deps -r "$PYTHON_DIR/requirements.txt" >&2 ||
      die "pip install of test/interop/python/requirements.txt into $PYTHON_VENV failed"
    echo "$want" >"$stamp"
  fi
  # the peer's sources are copied beside the launcher, as the other peers'
  # binaries are: a run uses what was built, not the working tree of the moment
  rm -rf "$BIN_DIR/python-peer.src.tmp"
  mkdir -p "$BIN_DIR/python-peer.src.tmp"
  cp "$PYTHON_DIR"/*.py "$BIN_DIR/python-peer.src.tmp/"
  rm -rf "$BIN_DIR/python-peer.src"
  mv "$BIN_DIR/python-peer.src.tmp" "$BIN_DIR/python-peer.src"
  printf '#!/bin/sh\n# python-peer: the py-libp2p interop peer (test/interop/python), made by scripts/interop-build.sh\nexec "%s" -s -E "%s" "$@"\n' \
    "$PYTHON_VENV/bin/python" "$BIN_DIR/python-peer.src/peer.py" >"$BIN_DIR/python-peer.tmp"
  chmod +x "$BIN_DIR/python-peer.tmp"
  mv -f "$BIN_DIR/python-peer.tmp" "$BIN_DIR/python-peer"
  "$BIN_DIR/python-peer" --help >/dev/null || die "python-peer does not start: see the error above"
  echo "interop-build: python-peer ready in $(elapsed "$start")s" >&2
}

build_quic() {
  local start platform
  start="$(now)"
  platform="$("$NODE" -p 'process.platform + "-" + process.arch')"
  echo "interop-build: installing @chainsafe/libp2p-quic in $QUIC_DIR (node $("$NODE" --version), $platform)" >&2
  # Not 'npm ci': the lock holds only the linux-x64-gnu binary (the only one
  # the registry here serves), and npm ci refuses a lock without the other
  # platforms' optional binaries. 'npm install --no-save' installs the locked
  # versions and leaves package-lock.json as it is.
  (
    cd "$QUIC_DIR"
    npm install --no-save --no-audit --no-fund --loglevel=error >&2
  ) || die "npm install in test/interop/quic failed"
  (
    cd "$QUIC_DIR"
    "$NODE" --input-type=module -e "await import('@chainsafe/libp2p-quic').then(m => m.quic())" >&2
  ) || die "@chainsafe/libp2p-quic is installed but cannot load its native binary for $platform.
  The lock in test/interop/quic has the linux-x64-gnu binary only (the registry this
  project uses serves no other): the QUIC column of the interop matrix runs on
  x86-64 Linux with glibc."
  echo "interop-build: @chainsafe/libp2p-quic ready in $(elapsed "$start")s" >&2
}

for t in "${targets[@]}"; do
  "build_$t"
done

for t in "${targets[@]}"; do
  case "$t" in
    quic) echo "QUIC transport for the JS side: $QUIC_DIR/node_modules/@chainsafe/libp2p-quic" ;;
    *) echo "interop peer: $BIN_DIR/$t-peer" ;;
  esac
done
