"""Shipping one placement's output to the platform, bounded.

- **Head and tail.** The first ``head`` bytes are shipped as they come; past them the agent only
  reads on, keeping the last ``tail`` bytes in memory. When the placement ends, a line saying how
  many bytes were dropped is shipped at offset ``head``, then the tail at its real offsets. So a
  job that writes 200 MB stores at most ``head + tail`` bytes (plus that line), and a job that
  writes less than ``head`` bytes loses nothing.
- **A budget per step.** Each call ships at most ``step`` bytes and reads at most ``8 x step``,
  so a flood never keeps the agent from its heartbeats; the rest waits for the next step. An
  ended placement is reported only once ``drained()``.
- **Whole characters.** A chunk never ends inside a UTF-8 sequence (the cut bytes start the next
  chunk), so no character is split into two replacement marks; at the end whatever is left goes.
- **Disk.** Bytes read past the head that are not kept in the tail are handed to ``release``
  (the backend's ``release_log``, where it has one): the local backend frees them on disk, so a
  flood fills neither the store nor the agent's disk.
- **Idempotent.** Every chunk carries its byte offset; the platform stores a chunk once per
  offset, so a retried post after a lost reply stores nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

CHUNK = 64 * 1024


def utf8_prefix(data: bytes) -> int:
    """Length of the longest prefix of ``data`` that does not end inside a UTF-8 sequence."""
    n = len(data)
    for back in range(1, min(4, n) + 1):
        b = data[n - back]
        if b < 0x80:
            return n                   # ASCII: complete
        if b >= 0xC0:                  # a lead byte: complete if its sequence fits
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return n if back >= need else n - back
    return n                           # four continuation bytes: not UTF-8 anyway, ship as is


@dataclass
class LogShipper:
    read: Callable[[int, int], bytes]          # (offset, limit) -> bytes, the handle's read_log
    send: Callable[[int, str], None]           # (offset, text) -> None, posts one chunk
    head: int = 5 * 2**20
    tail: int = 5 * 2**20
    step: int = 2**20
    shipped: int = 0                           # bytes of the head shipped (next head offset)
    read_to: int = 0                           # bytes read past the head
    tail_buf: bytearray = field(default_factory=bytearray)
    done: bool = False
    release: Callable[[int, int], None] | None = None   # (start, end): bytes no longer needed
    released_to: int = 0

    def pump(self, final: bool = False) -> None:
        """Ship what the budget allows; with ``final`` (the placement ended), also the tail once
        everything was read."""
        budget = self.step
        while budget > 0 and self.shipped < self.head:
            want = min(CHUNK, self.head - self.shipped, budget)
            data = self.read(self.shipped, want)
            if not data:
                break
            at_seam = len(data) == self.head - self.shipped    # the head's last bytes: ship them whole
            keep = len(data) if final or at_seam else utf8_prefix(data)
            if keep == 0:
                break                  # only part of a character so far: wait for the rest
            self.send(self.shipped, data[:keep].decode("utf-8", errors="replace"))
            self.shipped += keep
            budget -= keep
        if self.shipped < self.head:
            if final and budget > 0:
                self.done = not self.read(self.shipped, 1)
            return
        self.read_to = max(self.read_to, self.head)
        reads = 8 * self.step
        while reads > 0:
            data = self.read(self.read_to, CHUNK)
            if not data:
                break
            self.tail_buf += data
            self.read_to += len(data)
            reads -= len(data)
            if len(self.tail_buf) > self.tail:
                del self.tail_buf[: len(self.tail_buf) - self.tail]
        self._release()
        if final and reads > 0 and not self.done:
            self._ship_tail()

    def _release(self) -> None:
        """Bytes between the head and the kept tail are dropped: tell the backend it may free them."""
        upto = self.read_to - len(self.tail_buf)
        start = max(self.head, self.released_to)
        if self.release is not None and upto - start >= 2**16:
            self.release(start, upto)
            self.released_to = upto

    def _ship_tail(self) -> None:
        start = self.read_to - len(self.tail_buf)
        dropped = start - self.head
        if dropped > 0:
            self.send(self.head, f"\n[suanli: {dropped} bytes of output dropped here; the first {self.head} and "
                                 f"the last {len(self.tail_buf)} bytes are kept]\n")
        off = start
        view = bytes(self.tail_buf)
        if dropped > 0:          # start the kept tail at a character boundary
            lead = next((i for i, b in enumerate(view[:4]) if b < 0x80 or b >= 0xC0), 0)
            view, off = view[lead:], off + lead
        i = 0
        while i < len(view):
            piece = view[i:i + CHUNK]
            k = (utf8_prefix(piece) or len(piece)) if i + CHUNK < len(view) else len(piece)
            self.send(off + i, piece[:k].decode("utf-8", errors="replace"))
            i += k
        self.tail_buf.clear()
        self.done = True

    def drained(self) -> bool:
        return self.done
