"""
python-peer: the py-libp2p interop peer of the libp2p-stream test matrix, with
the command line of the Go and Rust peers (see ../README.md).

    python peer.py listen [--transport T] [--timeout SECONDS]
    python peer.py dial <multiaddr-with-/p2p/> <case> [--transport T] [--by-peer-id]
                   [--timeout SECONDS] [--bytes N] [--count N]

Only here: --tls-extension-first (with --transport tls) gives the TLS
certificate the libp2p public key extension as its only extension, instead of
py-libp2p's default certificate, which puts Basic Constraints and Key Usage
before it: @libp2p/tls 3.1.10 looks for the libp2p extension only in the first
place, and refuses py-libp2p's default certificate.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time

import datetime

import multiaddr
import trio
from cryptography import x509
from cryptography.x509.oid import NameOID
from libp2p import create_yamux_muxer_option, generate_new_ed25519_identity, new_host
from libp2p.crypto.x25519 import create_new_key_pair as create_new_x25519_key_pair
from libp2p.peer.peerinfo import info_from_p2p_addr
from libp2p.security.noise.transport import PROTOCOL_ID as NOISE_ID, Transport as NoiseTransport
from libp2p.security.tls.transport import PROTOCOL_ID as TLS_ID, IdentityConfig, TLSTransport

from cases import CASES
from server import register_servers

EXIT_FAILED, EXIT_USAGE, EXIT_TIMEOUT = 1, 2, 124

# the address each --transport listens on; tcp and ws secure connections with
# noise, tls with TLS 1.3, all three multiplex with yamux; quic brings its own
TRANSPORTS = {
    "tcp": "/ip4/127.0.0.1/tcp/0",
    "tls": "/ip4/127.0.0.1/tcp/0",
    "ws": "/ip4/127.0.0.1/tcp/0/ws",
    "quic": "/ip4/127.0.0.1/udp/0/quic-v1",
}

log = logging.getLogger("python-peer")


def positive_float(value: str) -> float:
    number = float(value)
    if not number > 0 or math.isinf(number):
        raise argparse.ArgumentTypeError(f"invalid --timeout value {value!r}")
    return number


def positive_int(value: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise argparse.ArgumentTypeError(f"invalid value {value!r} (a positive integer)")
    return int(value)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python-peer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["listen", "dial"])
    parser.add_argument("addr", nargs="?", help="dial: the multiaddr with /p2p/")
    parser.add_argument("case", nargs="?", choices=list(CASES), help="dial: the case to run")
    parser.add_argument("--transport", choices=list(TRANSPORTS), default="tcp")
    parser.add_argument("--timeout", type=positive_float, default=60.0)
    parser.add_argument("--by-peer-id", action="store_true")
    parser.add_argument("--bytes", type=positive_int, default=64 << 20)
    parser.add_argument("--count", type=positive_int, default=2000)
    parser.add_argument("--tls-extension-first", action="store_true")
    args = parser.parse_args(argv)
    if args.tls_extension_first and args.transport != "tls":
        parser.error("--tls-extension-first needs --transport tls")
    if args.mode == "listen" and (args.addr is not None or args.by_peer_id):
        parser.error("listen takes no address, case or --by-peer-id")
    if args.mode == "dial":
        if args.case is None:
            parser.error("dial needs <multiaddr> <case>")
        try:
            args.addr = multiaddr.Multiaddr(args.addr)
            info_from_p2p_addr(args.addr)
        except Exception as err:  # noqa: BLE001 - any parse failure is a usage error
            parser.error(f"invalid multiaddr {args.addr!r}: {err}")
    return args


def bare_cert_template() -> x509.CertificateBuilder:
    """
    A certificate template without extensions, so that the libp2p public key
    extension py-libp2p adds is the first and only one; the validity (1 hour
    back, 100 years on) is py-libp2p's own.
    """
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "libp2p")])
    not_before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    return (x509.CertificateBuilder()
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_before + datetime.timedelta(days=365 * 100))
            .subject_name(name)
            .issuer_name(name))


def make_host(transport: str, tls_extension_first: bool):
    key_pair = generate_new_ed25519_identity()
    identity = IdentityConfig(cert_template=bare_cert_template()) if tls_extension_first else None
    security = {
        "tls": {TLS_ID: TLSTransport(key_pair, identity_config=identity)},
        "tcp": {NOISE_ID: NoiseTransport(key_pair, noise_privkey=create_new_x25519_key_pair().private_key)},
    }
    security["ws"] = security["tcp"]
    options = {"key_pair": key_pair, "listen_addrs": [multiaddr.Multiaddr(TRANSPORTS[transport])]}
    if transport == "quic":
        options["enable_quic"] = True
    else:
        options["sec_opt"] = security[transport]
        options["muxer_opt"] = create_yamux_muxer_option()
    return new_host(**options)


def print_json(value: dict) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


async def wait_for_stdin_end() -> None:
    """Returns once stdin reaches end-of-file (or fails)."""
    stdin = trio.lowlevel.FdStream(os.dup(sys.stdin.fileno()))
    try:
        while await stdin.receive_some(4096):
            pass
    except (trio.BrokenResourceError, OSError):
        pass


async def run(args: argparse.Namespace) -> int:
    deadline = trio.current_time() + args.timeout
    host = make_host(args.transport, args.tls_extension_first)
    if args.mode == "listen":
        register_servers(host)

    async with host.run(listen_addrs=[multiaddr.Multiaddr(TRANSPORTS[args.transport])]):
        addrs = [str(addr) for addr in host.get_addrs()]
        print_json({"peerId": str(host.get_id()), "addrs": addrs})
        log.info("peer %s listening on %s", host.get_id(), addrs)
        outcome: dict = {}

        async with trio.open_nursery() as nursery:
            async def until_stdin_end() -> None:
                await wait_for_stdin_end()
                outcome.setdefault("stdin", True)
                nursery.cancel_scope.cancel()

            async def until_timeout() -> None:
                await trio.sleep_until(deadline)
                outcome.setdefault("timeout", True)
                nursery.cancel_scope.cancel()

            async def dial() -> None:
                outcome["result"] = await run_case(host, args)
                nursery.cancel_scope.cancel()

            nursery.start_soon(until_stdin_end)
            nursery.start_soon(until_timeout)
            if args.mode == "dial":
                nursery.start_soon(dial)

        if args.mode == "listen":
            if "timeout" in outcome:
                log.info("timeout of %ss reached, exiting", args.timeout)
                return EXIT_TIMEOUT
            log.info("stdin closed, exiting")
            return 0
        if "result" in outcome:
            result = outcome["result"]
            print_json(result)
            if result["ok"]:
                return 0
            log.warning("case %s failed: %s", args.case, result)
            return EXIT_FAILED
        if "timeout" in outcome:
            log.warning("timeout of %ss reached during case %s", args.timeout, args.case)
            print_json({"case": args.case, "ok": False, "error": "timeout"})
            return EXIT_TIMEOUT
        log.warning("stdin closed before case %s finished, aborting", args.case)
        print_json({"case": args.case, "ok": False, "error": "aborted: stdin closed"})
        return EXIT_FAILED


async def run_case(host, args: argparse.Namespace) -> dict:
    info = info_from_p2p_addr(args.addr)
    if args.by_peer_id:
        # only tell the peerstore where the peer is; new_stream dials by id
        host.get_peerstore().add_addrs(info.peer_id, info.addrs, 3600)
        log.info("added %s to the peerstore, opening streams by peer id", args.addr)
    else:
        try:
            await host.connect(info)
        except Exception as err:  # noqa: BLE001 - reported as the result
            return {"case": args.case, "ok": False, "error": f"dial failed: {err!r}"}
        log.info("connected to %s", info.peer_id)
    started = time.perf_counter()
    try:
        result = await CASES[args.case](host, info.peer_id, args)
    except Exception as err:  # noqa: BLE001 - reported as the result
        log.exception("case %s raised", args.case)
        result = {"ok": False, "error": repr(err)}
    result = {"case": args.case, **result}
    result.setdefault("ms", round((time.perf_counter() - started) * 1000))
    return result


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=os.environ.get("PYTHON_PEER_LOG", "INFO").upper(),
                        format="%(asctime)s python-peer %(name)s: %(message)s")
    # py-libp2p logs its own errors at WARNING and above unless asked for more
    logging.getLogger("libp2p").setLevel(os.environ.get("PYTHON_PEER_LIBP2P_LOG", "WARNING").upper())
    try:
        args = parse_args(sys.argv[1:])
    except SystemExit as exit:
        sys.exit(EXIT_USAGE if exit.code not in (0, None) else 0)
    try:
        code = trio.run(run, args)
    except Exception:  # noqa: BLE001 - a startup failure is a usage/startup error
        log.exception("error")
        code = EXIT_USAGE
    sys.stdout.flush()
    sys.stderr.flush()
    # exit now: py-libp2p may still have background tasks whose teardown is
    # not this peer's concern once its result is printed
    os._exit(code)


if __name__ == "__main__":
    main()
