#!/usr/bin/env bash
# Runs libp2p-stream between two network namespaces joined by a veth pair,
# with netem delay and loss on both ends (100 ms, 1%), or where the kernel has
# no sch_netem, the same emulated: iptables drops 1% of packets on each end
# and a TCP proxy delays each direction by 100 ms. A 4 MiB echo, a backlog
# overflow and a deregistration must all hold. Then a swarm: SWARM_CLIENTS
# (default 24) more namespaces, each its own /24 (10.232.<i>.0/24) on a veth
# of its own to the server's namespace, each a client node running
# SWARM_EXCHANGES (default 20) 16-byte echoes in SWARM_LOOPS (default 2) loops,
# all clients starting together, against an accept with default options
# (any stream reset is retried): every client served, every echo intact, and
# the server's counters equal to what the clients saw.
#
# Usage (as root, after `npm ci && npm run build`): bash scripts/netns-test.sh
#
# The namespaces, the veth pairs and the 10.231.0.0/24 and 10.232.0.0/16 addresses exist only
# for the run: nothing is configured in the root namespace, and everything is
# removed on exit, however the script ends.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
NODE="$ROOT/node_modules/.bin/node"
FIXTURE="$ROOT/dist/test/faults/fixtures/netns-node.js"
NS_A="lp2ps-a-$$"
NS_B="lp2ps-b-$$"
VETH_A="lp2psa$$"
VETH_B="lp2psb$$"
ADDR_A=10.231.0.1
ADDR_B=10.231.0.2
PORT=4001
PROXY_PORT=5001
DIAL_HOST=$ADDR_A
DIAL_PORT=$PORT
PROXY_PID=
NETEM="delay 100ms loss 1%"
WORK=$(mktemp -d)
SERVER_PID=
SWARM_CLIENTS=${SWARM_CLIENTS:-24}
SWARM_EXCHANGES=${SWARM_EXCHANGES:-20}
SWARM_LOOPS=${SWARM_LOOPS:-2}
SWARM_NS=()
SWARM_PIDS=()
passed=0
failed=0

pass () { passed=$((passed + 1)); echo "PASS $*"; }
fail () { failed=$((failed + 1)); echo "FAIL $*"; }

cleanup () {
  for pid in "${SWARM_PIDS[@]}"; do
    kill "$pid" 2>/dev/null
  done
  for ns in "${SWARM_NS[@]}"; do
    ip netns del "$ns" 2>/dev/null
  done
  if [ -n "$PROXY_PID" ]; then
    kill "$PROXY_PID" 2>/dev/null
    wait "$PROXY_PID" 2>/dev/null
  fi
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  # deleting a namespace deletes the veth end inside it, and so the pair
  ip netns del "$NS_A" 2>/dev/null
  ip netns del "$NS_B" 2>/dev/null
  rm -rf "$WORK"
}

finish () {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
  exit $?
}

if [ "$(id -u)" != 0 ]; then
  echo "netns-test: must run as root (it creates network namespaces and a veth pair)" >&2
  exit 2
fi

if ! command -v ip >/dev/null || ! command -v tc >/dev/null; then
  if command -v apt-get >/dev/null; then
    echo "netns-test: ip or tc missing, installing iproute2"
    { apt-get update -qq && apt-get install -y -qq iproute2 >/dev/null; } || { echo "netns-test: could not install iproute2, which provides ip and tc" >&2; exit 2; }
  else
    echo "netns-test: needs ip and tc (package iproute2)" >&2
    exit 2
  fi
fi

if [ ! -x "$NODE" ]; then
  echo "netns-test: $NODE not found: run npm ci first" >&2
  exit 2
fi

if [ ! -f "$FIXTURE" ]; then
  echo "netns-test: $FIXTURE not found: run npm run build first" >&2
  exit 2
fi

trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS_A" && ip netns add "$NS_B" \
  && ip link add "$VETH_A" type veth peer name "$VETH_B" \
  && ip link set "$VETH_A" netns "$NS_A" \
  && ip link set "$VETH_B" netns "$NS_B" \
  && ip -n "$NS_A" addr add "$ADDR_A/24" dev "$VETH_A" \
  && ip -n "$NS_B" addr add "$ADDR_B/24" dev "$VETH_B" \
  && ip -n "$NS_A" link set lo up && ip -n "$NS_B" link set lo up \
  && ip -n "$NS_A" link set "$VETH_A" up && ip -n "$NS_B" link set "$VETH_B" up
if [ $? -eq 0 ]; then
  pass "namespaces $NS_A ($ADDR_A) and $NS_B ($ADDR_B) joined by a veth pair"
else
  fail "could not create the namespaces and the veth pair"
  finish
fi

if ip -o addr show | grep -q ' 10\.231\.'; then
  fail "a 10.231.0.0/24 address is configured in the root namespace"
else
  pass "the test addresses exist only inside the namespaces"
fi

netem_a=$(ip netns exec "$NS_A" tc qdisc add dev "$VETH_A" root netem $NETEM 2>&1)
netem_a_rc=$?
netem_b=$(ip netns exec "$NS_B" tc qdisc add dev "$VETH_B" root netem $NETEM 2>&1)
netem_b_rc=$?
if [ $netem_a_rc -eq 0 ] && [ $netem_b_rc -eq 0 ]; then
  echo "netem: $NETEM on both ends"
  LINK="veth with netem ($NETEM each way)"
else
  # no sch_netem in this kernel: 1% loss from iptables' statistic match on
  # each end, and 100 ms each way from a delaying TCP proxy in front of the
  # server (application round trips grow as they would under netem)
  echo "NOTE: netem is unavailable here (tc: ${netem_a:-$netem_b}); emulating it: iptables drops 1% of packets on each end, a proxy delays each direction by 100 ms."
  if ! command -v iptables >/dev/null; then
    { apt-get update -qq && apt-get install -y -qq iptables >/dev/null; } || { echo "netns-test: could not install iptables for the loss emulation" >&2; exit 2; }
  fi
  if ip netns exec "$NS_A" iptables -A INPUT -i "$VETH_A" -m statistic --mode random --probability 0.01 -j DROP \
    && ip netns exec "$NS_B" iptables -A INPUT -i "$VETH_B" -m statistic --mode random --probability 0.01 -j DROP; then
    pass "1% packet loss on both ends of the veth (iptables statistic)"
  else
    fail "could not add the iptables loss rules"
    finish
  fi
  ip netns exec "$NS_B" "$NODE" "$ROOT/dist/test/faults/fixtures/delay-proxy.js" "$PROXY_PORT" "$ADDR_A" "$PORT" 100 >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
  PROXY_PID=$!
  for _ in $(seq 1 100); do
    grep -q ready "$WORK/proxy.out" 2>/dev/null && break
    sleep 0.1
  done
  if grep -q ready "$WORK/proxy.out" 2>/dev/null; then
    pass "delay proxy in $NS_B adds 100 ms each way"
  else
    fail "the delay proxy did not start"
    cat "$WORK/proxy.err" >&2
    finish
  fi
  DIAL_HOST=127.0.0.1
  DIAL_PORT=$PROXY_PORT
  LINK="veth with 1% loss each way and 100 ms delay each way (iptables + proxy, no netem)"
fi

ip netns exec "$NS_A" "$NODE" "$FIXTURE" server "$ADDR_A" "$PORT" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!

for _ in $(seq 1 200); do
  [ -s "$WORK/server.out" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done

PEER_ID=$(sed -n 's/.*"peerId":"\([^"]*\)".*/\1/p' "$WORK/server.out" | head -n 1)
if [ -z "$PEER_ID" ]; then
  fail "the server node did not start in $NS_A"
  cat "$WORK/server.err" >&2
  finish
fi
pass "server node $PEER_ID listening on /ip4/$ADDR_A/tcp/$PORT in $NS_A"

echo "checks from $NS_B over the $LINK:"
ip netns exec "$NS_B" "$NODE" "$FIXTURE" client "/ip4/$DIAL_HOST/tcp/$DIAL_PORT/p2p/$PEER_ID" >"$WORK/client.out" 2>"$WORK/client.err"
client_rc=$?

while IFS= read -r line; do
  case "$line" in
    "PASS "*) pass "${line#PASS }" ;;
    "FAIL "*) fail "${line#FAIL }" ;;
    *) echo "$line" ;;
  esac
done <"$WORK/client.out"

if [ $client_rc -ne 0 ] && ! grep -q '^FAIL ' "$WORK/client.out"; then
  fail "the client node exited with $client_rc"
  cat "$WORK/client.err" >&2
fi

if ! grep -q '^PASS ' "$WORK/client.out"; then
  fail "no check ran in $NS_B"
fi

# the swarm: namespace i is 10.232.<i>.2, on a veth to 10.232.<i>.1 in the
# server's namespace, through which it reaches the server's 10.231.0.1
if ! [[ "$SWARM_CLIENTS" =~ ^[0-9]+$ ]] || [ "$SWARM_CLIENTS" -lt 1 ] || [ "$SWARM_CLIENTS" -gt 200 ]; then
  fail "SWARM_CLIENTS must be 1 to 200, got $SWARM_CLIENTS"
  finish
fi
swarm_ok=1
for i in $(seq 1 "$SWARM_CLIENTS"); do
  ns="lp2ps-c$i-$$"
  va="l2s${i}a$$"
  vb="l2s${i}b$$"
  ip netns add "$ns" || { swarm_ok=0; break; }
  SWARM_NS+=("$ns")
  ip link add "$va" type veth peer name "$vb" \
    && ip link set "$va" netns "$NS_A" && ip link set "$vb" netns "$ns" \
    && ip -n "$NS_A" addr add "10.232.$i.1/24" dev "$va" && ip -n "$ns" addr add "10.232.$i.2/24" dev "$vb" \
    && ip -n "$NS_A" link set "$va" up && ip -n "$ns" link set "$vb" up && ip -n "$ns" link set lo up \
    && ip -n "$ns" route add 10.231.0.0/24 via "10.232.$i.1" || { swarm_ok=0; break; }
done
if [ "$swarm_ok" -eq 1 ] && ! ip -o addr show | grep -q ' 10\.232\.'; then
  pass "$SWARM_CLIENTS client namespaces, each its own /24 (10.232.1-$SWARM_CLIENTS.0/24), joined to $NS_A by a veth each"
else
  fail "could not create the $SWARM_CLIENTS client namespaces and their veths, or a 10.232 address is in the root namespace"
  finish
fi

SWARM_TARGET="/ip4/$ADDR_A/tcp/$PORT/p2p/$PEER_ID"
for i in $(seq 1 "$SWARM_CLIENTS"); do
  timeout 180 ip netns exec "lp2ps-c$i-$$" "$NODE" "$FIXTURE" swarm-client "$SWARM_TARGET" "$SWARM_EXCHANGES" "$SWARM_LOOPS" "$WORK/swarm-go" >"$WORK/swarm-$i.out" 2>"$WORK/swarm-$i.err" &
  SWARM_PIDS+=($!)
done
# every client connected, then all start at once (each waits at most 60 s for the signal)
for _ in $(seq 1 900); do
  [ "$(cat "$WORK"/swarm-*.out 2>/dev/null | grep -c '^ready$')" -ge "$SWARM_CLIENTS" ] && break
  sleep 0.1
done
echo "swarm: $(cat "$WORK"/swarm-*.out 2>/dev/null | grep -c '^ready$') of $SWARM_CLIENTS clients connected; starting them"
started=$SECONDS
touch "$WORK/swarm-go"
for pid in "${SWARM_PIDS[@]}"; do
  wait "$pid"
done
SWARM_PIDS=()
# sums over the clients' JSON lines: clients fully served, echoes, resets seen, corrupt echoes, other errors
totals=$(cat "$WORK"/swarm-*.out 2>/dev/null | "$NODE" -e '
  let lines = require("fs").readFileSync(0, "utf8").split("\n").filter(l => l.startsWith("{")).map(l => JSON.parse(l))
  const n = Number(process.argv[1])
  const t = { served: 0, done: 0, resets: 0, corrupt: 0, other: [] }
  for (const r of lines) { t.served += r.done === n ? 1 : 0; t.done += r.done; t.resets += r.resets; t.corrupt += r.corrupt; t.other.push(...r.other) }
  console.log(lines.length, t.served, t.done, t.resets, t.corrupt, t.other.length, JSON.stringify(t.other.slice(0, 3)))
' "$SWARM_EXCHANGES")
read -r answered served done resets corrupt others first_others <<<"$totals"
if [ "${answered:-0}" -eq "$SWARM_CLIENTS" ] && [ "${served:-0}" -eq "$SWARM_CLIENTS" ] && [ "${corrupt:-1}" -eq 0 ] && [ "${others:-1}" -eq 0 ]; then
  pass "swarm: $SWARM_CLIENTS clients at once, $SWARM_LOOPS loops each, each completed $SWARM_EXCHANGES echoes byte-exact ($done in all, $resets resets retried) in $((SECONDS - started)) s"
else
  fail "swarm: ${answered:-0} of $SWARM_CLIENTS clients answered, ${served:-0} fully served, $done echoes, $corrupt corrupt, $others other errors ${first_others:-}"
  cat "$WORK"/swarm-1.err >&2
fi
ip netns exec "lp2ps-c1-$$" "$NODE" "$FIXTURE" swarm-check "$SWARM_TARGET" "$SWARM_CLIENTS" "$SWARM_EXCHANGES" "${resets:-0}" >"$WORK/swarm-check.out" 2>"$WORK/swarm-check.err"
while IFS= read -r line; do
  case "$line" in
    "PASS "*) pass "${line#PASS }" ;;
    "FAIL "*) fail "${line#FAIL }" ;;
    *) echo "$line" ;;
  esac
done <"$WORK/swarm-check.out"
if ! grep -q '^PASS \|^FAIL ' "$WORK/swarm-check.out"; then
  fail "the swarm check did not run"
  cat "$WORK/swarm-check.err" >&2
fi

finish
