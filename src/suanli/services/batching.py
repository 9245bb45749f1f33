"""Group commit for submissions inside one API process.

Concurrent ``await batcher.submit(...)`` calls are checked at once (``jobs.prepare``), then
written together by a writer thread in one transaction (``jobs.store``); each caller gets its
reply only after that commit. While batches commit, the next ones gather, so a slow commit
(PostgreSQL's fsync) is paid once per batch instead of once per job. Several writer threads
(PostgreSQL) overlap their commits; SQLite has one writer. Nothing is acknowledged before it is
durable.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from suanli.services import jobs
from suanli.services.platform import Caller, Platform

Pending = tuple[jobs.Submission, "asyncio.Future[jobs.Result]"]


class SubmitBatcher:
    def __init__(self, p: Platform, max_batch: int = 128, writers: int | None = None) -> None:
        self.p = p
        self.max_batch = max_batch
        self.writers = writers or (3 if p.db.dialect == "postgresql" else 1)
        self.pending: list[Pending] = []
        self.pool = ThreadPoolExecutor(max_workers=self.writers, thread_name_prefix="suanli-submit")
        self.inflight = 0
        self.kicked = False

    async def submit(self, caller: Caller, spec: dict[str, Any], *, tenant: str | None,
                     idempotency_key: str | None) -> jobs.Result:
        sub = jobs.prepare(self.p, caller, spec, tenant=tenant, idempotency_key=idempotency_key)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[jobs.Result] = loop.create_future()
        self.pending.append((sub, fut))
        self._kick(loop)
        return await fut

    def _kick(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self.kicked and self.inflight < self.writers:
            self.kicked = True
            loop.call_soon(self._dispatch, loop)   # after the requests already read have joined

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        self.kicked = False
        while self.pending and self.inflight < self.writers:
            batch, self.pending = self.pending[:self.max_batch], self.pending[self.max_batch:]
            self.inflight += 1
            loop.create_task(self._write(batch))

    async def _write(self, batch: list[Pending]) -> None:
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self.pool, jobs.store, self.p, [s for s, _ in batch])
        except Exception as exc:  # the whole batch failed: every caller gets the error
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
        else:
            for (_, fut), result in zip(batch, results, strict=True):
                if fut.done():
                    continue
                if isinstance(result, Exception):   # a reused idempotency key with another spec
                    fut.set_exception(result)
                else:
                    fut.set_result(result)
        finally:
            self.inflight -= 1
            if self.pending:
                self._kick(loop)
