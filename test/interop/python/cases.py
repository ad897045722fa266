"""The dial cases of the Python peer (see ../README.md, "dial")."""

from __future__ import annotations

import hashlib
import time

import trio
from libp2p.host.exceptions import StreamFailure
from libp2p.network.stream.exceptions import StreamReset
from libp2p.protocol_muxer.exceptions import MultiselectClientError
from libp2p.stream_muxer.exceptions import MuxedStreamReset

from server import BACKLOG, ECHO, LP, NOPE, V1, V2
from wire import Reader, encode_lp, pseudo_random

BENCH_CHUNK = 64 << 10
# how long a backlog stream waits for an outcome
BACKLOG_WAIT = 5.0


def causes(err: BaseException):
    """`err` and every exception it was raised from or during."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        yield err
        err = err.__cause__ or err.__context__


def is_reset(err: BaseException) -> bool:
    return any(isinstance(e, (StreamReset, MuxedStreamReset)) for e in causes(err))


def is_unsupported(err: BaseException) -> bool:
    """
    py-libp2p 0.8.1 has `ProtocolNotSupportedError`, but `new_stream` catches
    it per protocol and, once every offered protocol was refused, raises
    `StreamFailure` from a plain `MultiselectClientError` whose message starts
    "protocols not supported": that pair is its not-supported error.
    """
    return isinstance(err, StreamFailure) and isinstance(err.__cause__, MultiselectClientError) \
        and str(err.__cause__).startswith("protocols not supported")


async def echo_roundtrip(host, peer, data: bytes) -> None:
    """Sends `data` on a new echo stream, half-closes, reads it back."""
    try:
        stream = await host.new_stream(peer, [ECHO])
    except Exception as err:
        raise RuntimeError(f"new_stream: {err!r}") from err
    try:
        echoed = b""
        async with trio.open_nursery() as nursery:
            async def send() -> None:
                await stream.write(data)
                await stream.close_write()
            nursery.start_soon(send)
            echoed = await Reader(stream).read_all()
    except BaseException:
        await stream.reset()
        raise
    await stream.close()
    if echoed != data:
        diff = next((i for i, (a, b) in enumerate(zip(echoed, data)) if a != b), min(len(echoed), len(data)))
        raise RuntimeError(f"echo mismatch: sent {len(data)} bytes, got {len(echoed)} back, first difference at byte {diff}")


async def case_echo(host, peer, _options) -> dict:
    size = 1 << 20
    await echo_roundtrip(host, peer, pseudo_random(1, size))
    return {"ok": True, "bytes": size}


async def case_concurrent(host, peer, _options) -> dict:
    streams, size = 64, 64 << 10
    errors: list[str] = []

    async def one(i: int) -> None:
        try:
            await echo_roundtrip(host, peer, pseudo_random(1000 + i, size))
        except Exception as err:  # noqa: BLE001 - counted and reported
            errors.append(f"stream {i}: {err!r}")

    async with trio.open_nursery() as nursery:
        for i in range(streams):
            nursery.start_soon(one, i)
    result = {
        "ok": not errors, "streams": streams, "bytesPerStream": size, "failed": len(errors),
        "connections": len(host.get_network().get_connections(peer)),
    }
    if errors:
        result["error"] = "; ".join(errors[:5])
    return result


async def case_lp(host, peer, _options) -> dict:
    count = 1000
    messages = [pseudo_random(5000 + i, i * 65536 // (count - 1)) for i in range(count)]
    stream = await host.new_stream(peer, [LP])
    reader = Reader(stream)
    error = None

    async def send() -> None:
        # batched into writes of about 64 KiB, as the Go peer's buffered writer
        batch = bytearray()
        for message in messages:
            batch += encode_lp(message)
            if len(batch) >= 64 << 10:
                await stream.write(bytes(batch))
                batch.clear()
        if batch:
            await stream.write(bytes(batch))
        await stream.close_write()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        for i, message in enumerate(messages):
            answer = await reader.read_lp(1024)
            if answer is None:
                error = f"stream ended after {i} answers"
                break
            if answer != hashlib.sha256(message).digest():
                error = f"answer {i}: {len(answer)} bytes, not the SHA-256 of the message"
                break
        else:
            if await reader.read_lp(1024) is not None:
                error = "more answers than messages"
        if error is not None:
            nursery.cancel_scope.cancel()
    if error is not None:
        await stream.reset()
        return {"ok": False, "messages": count, "error": error}
    await stream.close()
    return {"ok": True, "messages": count}


async def case_versions(host, peer, _options) -> dict:
    offered = [V2, V1]
    # one new_stream with both ids: multistream-select tries them in order
    stream = await host.new_stream(peer, offered)
    protocol = str(stream.get_protocol())
    reply = await Reader(stream).read_lp(1024)
    await stream.close()
    reply_text = None if reply is None else reply.decode()
    return {
        "ok": protocol == V1 and reply_text == V1, "protocol": protocol, "reply": reply_text,
        "fallback": False, "offered": [str(p) for p in offered],
    }


async def case_unsupported(host, peer, _options) -> dict:
    try:
        stream = await host.new_stream(peer, [NOPE])
    except Exception as err:  # noqa: BLE001 - the error is the result
        message = f"{err}: {err.__cause__}" if err.__cause__ is not None else str(err)
        if is_unsupported(err):
            return {"ok": True, "error": "unsupported", "message": message}
        return {"ok": False, "error": "other", "message": f"{err!r} ({message})"}
    await stream.reset()
    return {"ok": False, "error": "none", "message": f"stream for {NOPE} was opened"}


async def quic_reset_within(stream, seconds: float) -> bool:
    """
    py-libp2p 0.8.1 over QUIC: a remote reset is a STOP_SENDING and a
    RESET_STREAM; once the STOP_SENDING is in, a write fails with
    `StreamClosed` (not `StreamReset`), and only the QUIC stream's own state
    tells that the RESET_STREAM followed. True if it does within `seconds`.
    """
    muxed = getattr(stream, "muxed_stream", None)
    if not hasattr(muxed, "is_reset"):
        return False
    with trio.move_on_after(seconds):
        while not muxed.is_reset():
            await trio.sleep(0.01)
        return True
    return False


async def backlog_stream(host, peer) -> tuple[str, str]:
    """Opens one backlog stream, writes a byte, waits for what happens."""
    try:
        stream = await host.new_stream(peer, [BACKLOG])
    except Exception as err:  # noqa: BLE001 - the error is the outcome
        if is_unsupported(err):
            return "unsupported", f"new_stream: {err!r}"
        return ("reset" if is_reset(err) else "error"), f"new_stream: {err!r}"
    try:
        try:
            await stream.write(b"\x01")
        except Exception as err:  # noqa: BLE001 - the error is the outcome
            if is_reset(err):
                return "reset", f"write: {err!r}"
            if await quic_reset_within(stream, BACKLOG_WAIT):
                return "reset", f"write: {err!r}, then RESET_STREAM"
            return "error", f"write: {err!r}"
        with trio.move_on_after(BACKLOG_WAIT):
            try:
                data = await Reader(stream).read_some()
            except Exception as err:  # noqa: BLE001 - the error is the outcome
                return ("reset" if is_reset(err) else "error"), f"read: {err!r}"
            if data:
                return "data", f"read {len(data)} unexpected bytes"
            # py-libp2p 0.8.1's yamux drops a stream's state when a reset
            # arrives, and a read that starts after that ends with StreamEOF
            # like a half-close; a write tells them apart (this side has not
            # half-closed, so only a reset refuses it)
            try:
                await stream.write(b"\x02")
            except Exception as err:  # noqa: BLE001 - the error is the outcome
                if is_reset(err):
                    return "reset", f"read: StreamEOF, then write: {err!r}"
                return "error", f"read: StreamEOF, then write: {err!r}"
            return "eof", "read: StreamEOF"
        return "open", "nothing within 5 s"
    finally:
        await stream.reset()


async def case_backlog(host, peer, _options) -> dict:
    results: list[tuple[str, str]] = []

    async def one() -> None:
        results.append(await backlog_stream(host, peer))

    async with trio.open_nursery() as nursery:
        for _ in range(10):
            nursery.start_soon(one)
    outcomes: dict[str, int] = {}
    details: dict[str, int] = {}
    for kind, detail in results:
        outcomes[kind] = outcomes.get(kind, 0) + 1
        details[f"{kind}: {detail}"] = details.get(f"{kind}: {detail}", 0) + 1
    return {"ok": True, "outcomes": outcomes, "details": details}


async def case_bench_echo(host, peer, options) -> dict:
    size = options.bytes
    stream = await host.new_stream(peer, [ECHO])
    chunk = pseudo_random(7, BENCH_CHUNK)
    received = 0
    started = time.perf_counter()

    async def send() -> None:
        left = size
        while left > 0:
            await stream.write(chunk[:min(left, BENCH_CHUNK)])
            left -= BENCH_CHUNK
        await stream.close_write()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(send)
        reader = Reader(stream)
        while data := await reader.read_some():
            received += len(data)
    ms = (time.perf_counter() - started) * 1000
    await stream.close()
    if received != size:
        return {"ok": False, "bytes": size, "ms": ms, "error": f"echoed {received} of {size} bytes"}
    return {"ok": True, "bytes": size, "ms": ms, "mbps": size / 1e6 / (ms / 1000)}


async def case_bench_open(host, peer, options) -> dict:
    count = options.count

    async def round_trip() -> None:
        stream = await host.new_stream(peer, [ECHO])
        await stream.write(b"\x2a")
        await stream.close_write()
        echoed = await Reader(stream).read_all()
        await stream.close()
        if echoed != b"\x2a":
            raise RuntimeError(f"echo of 1 byte came back as {echoed!r}")

    await round_trip()  # warm-up, not timed
    started = time.perf_counter()
    for _ in range(count):
        await round_trip()
    ms = (time.perf_counter() - started) * 1000
    return {"ok": True, "count": count, "ms": ms, "opensPerSec": count / (ms / 1000)}


CASES = {
    "echo": case_echo,
    "concurrent": case_concurrent,
    "lp": case_lp,
    "versions": case_versions,
    "unsupported": case_unsupported,
    "backlog": case_backlog,
    "bench-echo": case_bench_echo,
    "bench-open": case_bench_open,
}
