"""Group commit for submissions inside one API process.

Concurrent ``await batcher.submit(...)`` calls are checked at once (``jobs.prepare``), then
written together by one writer thread in one transaction (``jobs.store``); each caller gets its
reply only after that commit. While a batch commits, the next one gathers, so a slow commit
(PostgreSQL's fsync) is paid once per batch instead of once per job. Nothing is acknowledged
before it is durable.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from suanli.services import jobs
from suanli.services.platform import Caller, Platform


class SubmitBatcher:
    def __init__(self, p: Platform, max_batch: int = 256) -> None:
        self.p = p
        self.max_batch = max_batch
        self.pending: list[tuple[jobs.Submission, asyncio.Future[jobs.Result]]] = []
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="suanli-submit")
        self.flushing = False

    async def submit(self, caller: Caller, spec: dict[str, Any], *, tenant: str | None,
                     idempotency_key: str | None) -> jobs.Result:
        sub = jobs.prepare(self.p, caller, spec, tenant=tenant, idempotency_key=idempotency_key)
        fut: asyncio.Future[jobs.Result] = asyncio.get_running_loop().create_future()
        self.pending.append((sub, fut))
        if not self.flushing:
            self.flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await fut

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(0)  # let the requests already read join this batch
            while self.pending:
                batch, self.pending = self.pending[:self.max_batch], self.pending[self.max_batch:]
                try:
                    results = await loop.run_in_executor(self.writer, jobs.store, self.p, [s for s, _ in batch])
                except Exception as exc:  # the whole batch failed: every caller gets the error
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
                    continue
                for (_, fut), result in zip(batch, results, strict=True):
                    if not fut.done():
                        fut.set_result(result)
        finally:
            self.flushing = False
