"""Byte helpers shared by the dial cases and the servers of the Python peer."""

from __future__ import annotations

import struct

from libp2p.network.stream.exceptions import StreamEOF, StreamReset
from libp2p.transport.quic.exceptions import QUICStreamClosedError

# the size of every read: yamux's default window, so one read can empty it
READ_SIZE = 256 * 1024


def pseudo_random(seed: int, n: int) -> bytes:
    """Deterministic bytes, distinct per seed (splitmix64, as the Go peer)."""
    mask = (1 << 64) - 1
    state = ((seed * 0x9E3779B97F4A7C15) & mask) ^ 0xD1B54A32D192ED03
    words = []
    for _ in range((n + 7) // 8):
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        z ^= z >> 31
        words.append(z)
    return struct.pack(f"<{len(words)}Q", *words)[:n]


def encode_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_lp(body: bytes) -> bytes:
    """One unsigned-varint length-prefixed message."""
    return encode_varint(len(body)) + body


class ProtocolError(Exception):
    """The remote broke the framing of a length-prefixed stream."""


def closed_not_reset(stream, err: StreamReset) -> bool:
    """
    py-libp2p 0.8.1 over QUIC: once a stream has sent its FIN and received the
    remote's, its state is CLOSED and a read raises `QUICStreamClosedError`,
    which `NetStream.read` turns into `StreamReset`, instead of the end of the
    stream. The QUIC stream itself still knows whether it was reset.
    """
    muxed = getattr(stream, "muxed_stream", None)
    return isinstance(err.__cause__, QUICStreamClosedError) and hasattr(muxed, "is_reset") \
        and not muxed.is_reset()


class Reader:
    """
    Buffered reads from a py-libp2p stream. py-libp2p raises ``StreamEOF`` at
    the end of a stream instead of returning ``b""``; here the end is ``b""``
    (also the end that py-libp2p's QUIC streams report as a reset, see
    `closed_not_reset`).
    """

    def __init__(self, stream) -> None:
        self.stream = stream
        self.buffer = bytearray()
        self.ended = False

    async def fill(self) -> bool:
        """Reads once more into the buffer; False at the end of the stream."""
        if self.ended:
            return False
        try:
            chunk = await self.stream.read(READ_SIZE)
        except StreamEOF:
            chunk = b""
        except StreamReset as err:
            if not closed_not_reset(self.stream, err):
                raise
            chunk = b""
        if not chunk:
            self.ended = True
            return False
        self.buffer += chunk
        return True

    async def read_some(self) -> bytes:
        """What is buffered, or the next chunk; ``b""`` at the end."""
        if not self.buffer and not await self.fill():
            return b""
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    async def read_all(self) -> bytes:
        while await self.fill():
            pass
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def take_lp(self, limit: int) -> bytes | None:
        """One whole length-prefixed message from the buffer, if there is one."""
        length = 0
        for i, byte in enumerate(self.buffer[:10]):
            length |= (byte & 0x7F) << (7 * i)
            if byte & 0x80 == 0:
                if length > limit:
                    raise ProtocolError(f"message of {length} bytes exceeds the limit of {limit}")
                end = i + 1 + length
                if len(self.buffer) < end:
                    return None
                body = bytes(self.buffer[i + 1:end])
                del self.buffer[:end]
                return body
        if len(self.buffer) >= 10:
            raise ProtocolError("length prefix longer than 10 bytes")
        return None

    async def read_lp(self, limit: int) -> bytes | None:
        """The next message; None at a clean end of stream between messages."""
        while True:
            message = self.take_lp(limit)
            if message is not None:
                return message
            if not await self.fill():
                if self.buffer:
                    raise ProtocolError(f"stream ended inside a message ({len(self.buffer)} bytes buffered)")
                return None
