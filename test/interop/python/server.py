"""The protocols the Python peer serves in `listen` mode (see ../README.md)."""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict

from libp2p.custom_types import TProtocol

from wire import Reader, encode_lp

ECHO = TProtocol("/interop/echo/1.0.0")
LP = TProtocol("/interop/lp/1.0.0")
V1 = TProtocol("/interop/v/1.0.0")
V2 = TProtocol("/interop/v/2.0.0")
BACKLOG = TProtocol("/interop/backlog/1.0.0")
NOPE = TProtocol("/interop/nope/1.0.0")

# the largest length-prefixed message the lp server takes
MAX_LP_MESSAGE = 4 << 20
# backlog streams held open (unread) per remote peer; later ones are reset
BACKLOG_HELD = 2

log = logging.getLogger("python-peer")


async def serve_echo(stream) -> None:
    reader = Reader(stream)
    while chunk := await reader.read_some():
        await stream.write(chunk)
    await stream.close()


async def serve_lp(stream) -> None:
    reader = Reader(stream)
    while True:
        message = await reader.read_lp(MAX_LP_MESSAGE)
        if message is None:
            break
        answers = [encode_lp(hashlib.sha256(message).digest())]
        # answer every message already buffered in one write
        while (more := reader.take_lp(MAX_LP_MESSAGE)) is not None:
            answers.append(encode_lp(hashlib.sha256(more).digest()))
        await stream.write(b"".join(answers))
    await stream.close()


async def serve_version(stream) -> None:
    await stream.write(encode_lp(str(stream.get_protocol()).encode()))
    await stream.close()


def handler(protocol: TProtocol, serve):
    """Runs `serve` on each stream; a failure resets the stream and is logged."""
    accepted = 0

    async def handle(stream) -> None:
        nonlocal accepted
        accepted += 1
        number = accepted
        remote = stream.muxed_conn.peer_id
        try:
            await serve(stream)
        except Exception as err:  # noqa: BLE001 - every failure is logged and resets the stream
            log.warning("%s: stream #%d from %s failed: %r", protocol, number, remote, err)
            await stream.reset()
            return
        log.info("%s: stream #%d from %s done", protocol, number, remote)

    return handle


def register_servers(host) -> None:
    host.set_stream_handler(ECHO, handler(ECHO, serve_echo))
    host.set_stream_handler(LP, handler(LP, serve_lp))
    host.set_stream_handler(V1, handler(V1, serve_version))

    # local stand-in for the JS backlog listener: per remote peer, hold the
    # first streams unread and reset every later one
    held: dict[str, list] = defaultdict(list)

    async def backlog(stream) -> None:
        remote = str(stream.muxed_conn.peer_id)
        if len(held[remote]) < BACKLOG_HELD:
            held[remote].append(stream)
            log.info("%s: holding stream #%d from %s", BACKLOG, len(held[remote]), remote)
            return
        log.info("%s: backlog full, resetting stream from %s", BACKLOG, remote)
        await stream.reset()

    host.set_stream_handler(BACKLOG, backlog)
