"""Log shipping edge cases, on a growing byte string and a recorder of posted chunks (no server):
head and tail of a flood, the budget per step, a retried chunk, output over 64 KiB, and a UTF-8
character split across reads. Expected offsets and texts are worked out by hand."""

from __future__ import annotations

from suanli.agent.logs import LogShipper, utf8_prefix


class Output:
    """What a job wrote so far, read like ``Handle.read_log``."""

    def __init__(self) -> None:
        self.data = b""

    def read(self, offset: int, limit: int) -> bytes:
        return self.data[offset:offset + limit]


def shipper(out: Output, sent: list[tuple[int, str]], **kw: int) -> LogShipper:
    return LogShipper(out.read, lambda off, text: sent.append((off, text)), **kw)


def joined(sent: list[tuple[int, str]]) -> str:
    return "".join(t for _, t in sent)


def test_short_output_is_shipped_whole_at_its_offsets() -> None:
    out, sent = Output(), []
    s = shipper(out, sent, head=100, tail=100, step=1000)
    out.data = b"hello "
    s.pump()
    out.data += b"world\n"
    s.pump(final=True)
    assert sent == [(0, "hello "), (6, "world\n")]
    assert s.drained()


def test_output_over_64_kib_goes_in_chunks_of_64_kib() -> None:
    out, sent = Output(), []
    out.data = b"x" * 150_000
    s = shipper(out, sent, head=10**6, tail=10**6, step=10**6)
    s.pump(final=True)
    assert [off for off, _ in sent] == [0, 65536, 131072]
    assert [len(t) for _, t in sent] == [65536, 65536, 150_000 - 131072]
    assert s.drained()


def test_a_flood_keeps_head_and_tail_and_says_what_was_dropped() -> None:
    out, sent = Output(), []
    out.data = bytes(range(48, 58)) * 100_000          # 1,000,000 bytes of "0123456789"
    s = shipper(out, sent, head=1000, tail=500, step=10**7)
    s.pump(final=True)
    assert s.drained()
    # head: bytes 0..999; marker at 1000; tail: the last 500 bytes at their real offset 999,500
    assert sent[0] == (0, "0123456789" * 100)
    assert sent[1][0] == 1000
    assert "998500 bytes of output dropped" in sent[1][1]
    assert sent[2] == (999_500, "0123456789" * 50)
    assert len(sent) == 3


def test_the_budget_bounds_each_step_and_the_end_waits_for_the_drain() -> None:
    out, sent = Output(), []
    out.data = b"a" * 5000
    s = shipper(out, sent, head=10**6, tail=10**6, step=2000)
    s.pump(final=True)
    assert sum(len(t) for _, t in sent) == 2000 and not s.drained()
    s.pump(final=True)
    assert sum(len(t) for _, t in sent) == 4000 and not s.drained()
    s.pump(final=True)
    assert sum(len(t) for _, t in sent) == 5000 and s.drained()
    assert joined(sent) == "a" * 5000


def test_a_retried_chunk_after_a_failed_post_is_sent_again_at_the_same_offset() -> None:
    out = Output()
    out.data = b"line one\n"
    calls: list[tuple[int, str]] = []
    fail = [True]

    def send(off: int, text: str) -> None:
        calls.append((off, text))
        if fail[0]:
            fail[0] = False
            raise ConnectionError("reply lost")

    s = LogShipper(out.read, send, head=100, tail=100, step=1000)
    try:
        s.pump()
    except ConnectionError:
        pass
    s.pump(final=True)
    assert calls == [(0, "line one\n"), (0, "line one\n")]   # the same chunk, the same offset
    assert s.drained()


def test_a_utf8_character_split_across_reads_is_never_cut() -> None:
    out, sent = Output(), []
    word = "算力".encode()                  # e7 ae 97 e5 8a 9b
    s = shipper(out, sent, head=100, tail=100, step=1000)
    out.data = b"ab" + word[:4]             # "ab", one whole character and a third of the next
    s.pump()
    assert sent == [(0, "ab算")]
    out.data += word[4:] + b"!"
    s.pump(final=True)
    assert sent == [(0, "ab算"), (5, "力!")]
    assert "\ufffd" not in joined(sent)


def test_utf8_prefix_cuts_only_incomplete_sequences() -> None:
    assert utf8_prefix(b"abc") == 3
    assert utf8_prefix("é".encode()) == 2            # c3 a9: complete
    assert utf8_prefix("é".encode()[:1]) == 0         # c3 alone: wait
    assert utf8_prefix(b"a" + "算".encode()[:2]) == 1  # e7 ae: two of three bytes
    assert utf8_prefix("😀".encode()) == 4           # a complete four-byte sequence


def test_bytes_dropped_between_head_and_tail_are_released_once() -> None:
    out, sent, released = Output(), [], []
    out.data = b"z" * 1_000_000
    s = LogShipper(out.read, lambda off, text: sent.append((off, text)), head=100_000, tail=100_000, step=10**7,
                   release=lambda a, b: released.append((a, b)))
    s.pump(final=True)
    # everything read past the head, less the 100,000 bytes kept for the tail: [100,000, 900,000)
    assert released == [(100_000, 900_000)]
    assert s.drained() and (900_000, "z" * 65536) in sent     # the tail starts where the release ended


def test_punch_hole_frees_disk_and_keeps_offsets(tmp_path) -> None:
    import os

    from suanli.agent.backends import punch_hole

    f = tmp_path / "out.log"
    f.write_bytes(b"a" * 4096 + b"b" * 8 * 2**20 + b"c" * 4096)
    before = os.stat(f).st_blocks
    if not punch_hole(f, 4096, 4096 + 8 * 2**20):
        import pytest

        pytest.skip("this file system cannot punch holes")
    st = os.stat(f)
    assert st.st_size == 4096 + 8 * 2**20 + 4096                  # same size, same offsets
    assert st.st_blocks * 512 < before * 512 - 7 * 2**20          # about 8 MiB freed
    data = f.read_bytes()
    assert data[:4096] == b"a" * 4096 and data[-4096:] == b"c" * 4096
