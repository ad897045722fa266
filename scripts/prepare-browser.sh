#!/usr/bin/env bash
# Makes a headless Chromium available to the browser tests (aegir, through
# playwright-test) without the browser download playwright would do itself,
# which fails on machines that reach only package registries.
#
#   bash scripts/prepare-browser.sh                  # prepare, print the variables to export
#   bash scripts/prepare-browser.sh CMD [ARGS...]    # prepare, then run CMD with them set
#
# 1. Finds the distribution's Chromium; installs it with apt-get when missing
#    (Debian: package `chromium`; as root, or through sudo).
# 2. For every playwright-core under node_modules, reads the revisions in its
#    browsers.json and lays out the folder playwright expects for `chromium`
#    and `chromium-headless-shell`: a wrapper script at the executable's path
#    that runs the system Chromium, plus the INSTALLATION_COMPLETE and
#    DEPENDENCIES_VALIDATED markers, so playwright finds the browser
#    "installed" and downloads nothing.
# 3. Sets PLAYWRIGHT_BROWSERS_PATH to that folder, and PLAYWRIGHT_SKIP_BROWSER_GC=1
#    so playwright does not delete it as unused.
#
# The folder is ~/.cache/libp2p-stream/playwright-browsers (override with
# LIBP2P_STREAM_BROWSERS_PATH); the Chromium binary can be given with CHROMIUM_BIN.
# On other systems than Linux it changes nothing and runs CMD as it is.
set -euo pipefail

say () { printf 'prepare-browser: %s\n' "$*" >&2; }

cd "$(dirname "$0")/.."
root=$PWD

if [ "$(uname -s)" != Linux ]; then
  say "not Linux: leaving the browser to playwright's own download"
  [ $# -eq 0 ] || exec "$@"
  exit 0
fi

find_chromium () {
  local candidate
  for candidate in "${CHROMIUM_BIN:-}" /usr/lib/chromium/chromium /usr/lib/chromium-browser/chromium-browser \
    "$(command -v chromium 2>/dev/null || true)" "$(command -v chromium-browser 2>/dev/null || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

if ! chromium=$(find_chromium); then
  if ! command -v apt-get > /dev/null; then
    say "no Chromium found and no apt-get to install it: install Chromium and set CHROMIUM_BIN to its binary"
    exit 1
  fi
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo > /dev/null || { say "Chromium is missing and installing it needs root (no sudo found)"; exit 1; }
    sudo=(sudo)
  fi
  say "Chromium not found: installing it with apt-get (apt-get update && apt-get install -y chromium)"
  start=$(date +%s)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium > /dev/null
  say "installed Chromium in $(( $(date +%s) - start )) s"
  chromium=$(find_chromium) || { say "apt-get installed chromium but no binary was found"; exit 1; }
fi
say "using $("$chromium" --version 2>/dev/null | head -n 1) at $chromium"

case "$(uname -m)" in
  x86_64) shell_dir=chrome-headless-shell-linux64; shell_exe=chrome-headless-shell; full_dir=chrome-linux64 ;;
  aarch64) shell_dir=chrome-linux; shell_exe=headless_shell; full_dir=chrome-linux ;;
  *) say "unsupported machine $(uname -m): playwright knows Linux x86_64 and aarch64 layouts only"; exit 1 ;;
esac

browsers=${LIBP2P_STREAM_BROWSERS_PATH:-$HOME/.cache/libp2p-stream/playwright-browsers}
mkdir -p "$browsers"

# one wrapper per expected executable path, pointing at the system Chromium;
# replaced by a rename, so a browser another run is launching never sees half a file
lay_out () {
  local dir=$1 exe=$2 wrapper
  wrapper=$(printf '#!/bin/sh\n# written by libp2p-stream scripts/prepare-browser.sh: playwright launches this\nexec %q "$@"' "$chromium")
  mkdir -p "$(dirname "$dir/$exe")"
  if [ "$(cat "$dir/$exe" 2> /dev/null)" != "$wrapper" ]; then
    printf '%s\n' "$wrapper" > "$dir/$exe.$$"
    chmod +x "$dir/$exe.$$"
    mv -f "$dir/$exe.$$" "$dir/$exe"
  fi
  touch "$dir/INSTALLATION_COMPLETE" "$dir/DEPENDENCIES_VALIDATED"
  say "  $dir/$exe -> $chromium"
}

found=0
while IFS= read -r manifest; do
  found=1
  version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$(dirname "$manifest")/package.json" | head -n 1)
  # "<name> <revision>" for the two Chromium flavours playwright may launch
  revisions=$(node -e '
    const { browsers } = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))
    for (const b of browsers) {
      if (b.name === "chromium" || b.name === "chromium-headless-shell") console.log(b.name, b.revision)
    }' "$manifest")
  say "playwright-core $version (${manifest#"$root"/}) expects:"
  while read -r name revision; do
    case "$name" in
      chromium) lay_out "$browsers/chromium-$revision" "$full_dir/chrome" ;;
      chromium-headless-shell) lay_out "$browsers/chromium_headless_shell-$revision" "$shell_dir/$shell_exe" ;;
    esac
  done <<< "$revisions"
done < <(find "$root/node_modules" -path '*/playwright-core/browsers.json' -not -path '*/.cache/*' 2> /dev/null | sort)

if [ "$found" -eq 0 ]; then
  say "no playwright-core under node_modules: run npm ci first"
  exit 1
fi

export PLAYWRIGHT_BROWSERS_PATH=$browsers
export PLAYWRIGHT_SKIP_BROWSER_GC=1

if [ $# -eq 0 ]; then
  say "ready; export these to use it:"
  printf 'export PLAYWRIGHT_BROWSERS_PATH=%q\nexport PLAYWRIGHT_SKIP_BROWSER_GC=1\n' "$browsers"
else
  say "ready: PLAYWRIGHT_BROWSERS_PATH=$browsers PLAYWRIGHT_SKIP_BROWSER_GC=1 $*"
  exec "$@"
fi
