"""The gateway's triage: jieba rules in worker processes, reloaded when staff edit the rules file.

Why processes: triage is pure-Python CPU work (about 2 µs a character), and on the
event loop it holds up every other request while it runs — a long e-mail for a
few milliseconds, a 50,000-character one for 200 ms.  In a worker process it runs
on another core while the loop parses, commits and serves; the e-mail intake's
throughput rises by a third to a half on two cores (``benchmarks/email_ingest.py``).
A round trip costs this process CPU too, so a little text (a web form, a call
note, a few of them at once) is classified in-line, and long texts and batches
of mail go to the worker: see ``INLINE_BELOW``.

Why reloads: staff change the rules (``triage/data/rules.toml`` or the file in
``HCP_TRIAGE_RULES``) without touching code, and the running gateway should pick
the change up.  Every few seconds a classification checks the file's stamp; a
changed file is validated first, and only rules that load become active.  Rules
that do not load are reported (``status()``, shown on the triage page) and the
last good rules keep running.

Nothing is lost when a worker dies: the item is classified in this process
instead (the rules loaded on first need), and the pool is started again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triage import worker

log = logging.getLogger(__name__)

CHECK_EVERY_SECONDS = 5.0
BATCH_MAX = 16
"""Items per round trip to the worker.  The worker classifies a batch together
(``Triager.classify_many``): 8 per call gave ~1,900 items/s of worker CPU, 16 ~2,100, more barely
more (``benchmarks/triage.py``).  Small enough that this process commits the first results while the
worker triages the rest; the e-mail intake ran at the same speed with 8 and 16 (434 and 428 msg/s,
``benchmarks/email_ingest.py``, where this process, not the worker, is the limit)."""
INLINE_BELOW = 400
"""Items of one turn of the event loop with fewer characters than this between them, and nothing
in the worker ahead of them, are classified here: under a millisecond of the loop, where a round
trip costs this process more CPU than that.  Sending every item to the worker cut the web form's
saturation from 564 to 470 submissions/s (``benchmarks/web_submit.py``); mail arrives in batches
of tens of long texts and goes to the worker."""


_DIRECTORIES = re.compile(r"(?<![A-Za-z0-9_.~])/(?:[^/\s'\"]+/)+")


def without_directories(message: str) -> str:
    """A loader's error as staff read it: "rules.toml:12: ..." — the file's name and line, not the
    server's folders (issue 24: the triage page showed the rules' absolute path).  The log keeps
    the full path for the operator."""
    return _DIRECTORIES.sub("", message)


def resolve_processes(configured: int) -> int:
    """``-1`` (the default) means one worker where there is a second core, none otherwise."""
    if configured >= 0:
        return configured
    return 1 if (os.cpu_count() or 1) > 1 else 0


class TriageService:
    """Classifies intakes for the ``Ingestor``: ``classify_async`` off the event loop when it
    can, ``classify`` in this process (for command-line tools and as the fallback)."""

    def __init__(self, rules_path: Path | None, processes: int = 0, *,
                 check_every: float = CHECK_EVERY_SECONDS, inline_below: int = INLINE_BELOW) -> None:
        from triage.rules import DEFAULT_RULES_PATH

        self.rules_path = rules_path
        self.file = Path(rules_path) if rules_path is not None else DEFAULT_RULES_PATH
        self.processes = processes
        self.check_every = check_every
        self.inline_below = inline_below
        self._local: Any = None
        self._local_lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None
        self._model_file: Path | None = None
        self._model_meta: tuple[Any, dict[str, Any]] | None = None
        self._stamp = self._file_stamp()
        self._next_check = time.monotonic() + check_every
        self._reloading: asyncio.Task[bool] | None = None
        self.digest: str | None = None
        self.loaded_at = datetime.now(UTC)
        self.last_error: str | None = None
        self.fallbacks = 0
        self.sent = 0
        """Items classified by a worker (the others ran in this process)."""
        self._pending: list[tuple[tuple[Any, ...], asyncio.Future[Any]]] = []
        self._flush_scheduled = False
        self._closed = False
        self._sending: set[asyncio.Future[None]] = set()

    # -- classification --

    def classify(self, text: str, *, channel: str | None = None, rating: str | None = None,
                 reasons: Sequence[str] = ()) -> Any:
        return self.local().classify(text, channel=channel, rating=rating, reasons=reasons)

    async def classify_async(self, text: str, *, channel: str | None = None, rating: str | None = None,
                             reasons: Sequence[str] = ()) -> Any:
        if not isinstance(text, str):  # here, not in a loop callback where it would strand the batch
            raise TypeError(f"triage text must be str, not {type(text).__name__}")
        await self._maybe_reload()
        if self.processes > 0:
            loop = asyncio.get_running_loop()
            future: asyncio.Future[Any] = loop.create_future()
            self._pending.append(((text, channel, rating, tuple(reasons)), future))
            if not self._flush_scheduled:
                # Items that arrive in the same turn of the loop travel together (see _send).
                self._flush_scheduled = True
                loop.call_soon(self._flush)
            try:
                return await future
            except BrokenProcessPool:
                self.fallbacks += 1
                log.warning("triage: a worker process died; this item is classified in the gateway process "
                            "and the workers start again")
        local = self._local or await asyncio.to_thread(self.local)
        return local.classify(text, channel=channel, rating=rating, reasons=reasons)

    def _flush(self) -> None:
        self._flush_scheduled = False
        pending, self._pending = self._pending, []
        if (not self._sending and self._local is not None
                and sum(len(item[0]) for item, _ in pending) < self.inline_below):
            # A little text and nothing in the worker ahead of it: cheaper here than a round trip.
            for (text, channel, rating, reasons), future in pending:
                if future.done():
                    continue
                try:
                    future.set_result(self._local.classify(text, channel=channel, rating=rating, reasons=reasons))
                except Exception as exc:
                    future.set_exception(exc)
            return
        for start in range(0, len(pending), BATCH_MAX):
            task = asyncio.ensure_future(self._send(pending[start:start + BATCH_MAX]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[tuple[Any, ...], asyncio.Future[Any]]]) -> None:
        """One round trip for the batch: a pool message costs more than triaging a short item.

        Small batches (``BATCH_MAX``) keep both sides busy: this process commits the first
        results while the worker triages the rest."""
        items = [item for item, _ in batch]
        self.sent += len(items)
        outcomes: list[tuple[bool, Any]] | None = None
        failure: BaseException | None = None
        for _attempt in range(2):
            pool = self._ensure_pool()
            try:
                assert pool is not None
                outcomes = await asyncio.wrap_future(pool.submit(worker.classify_many, items))
                break
            except BrokenProcessPool as exc:  # a worker died: start afresh, this batch runs here
                self._drop_pool(pool)  # type: ignore[arg-type]
                failure = exc
                break
            except RuntimeError as exc:  # shut down by a reload between two turns: the new pool takes it
                failure = exc
            except BaseException as exc:
                failure = exc
                break
        if outcomes is None:
            lost = failure if isinstance(failure, BrokenProcessPool) else BrokenProcessPool(str(failure))
            for _, future in batch:
                if not future.done():
                    future.set_exception(lost)
            return
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

    def local(self) -> Any:
        """The in-process ``Triager``, loaded on first need (about a second: jieba's dictionary)."""
        if self._local is None:
            with self._local_lock:
                if self._local is None:
                    from triage import Triager

                    self._local = Triager.from_rules_file(self.rules_path)
                    self.digest = self._local.rules.digest
                    self._note(self._local.rules)
        return self._local

    # -- the worker pool --

    async def start(self) -> None:
        """Start the workers (or load the rules here) now, not on a citizen's first request."""
        pool = self._ensure_pool()
        if pool is None:
            await asyncio.to_thread(self.local)
            return
        try:
            local = asyncio.to_thread(self.local) if self.inline_below > 0 else asyncio.sleep(0)
            *digests, _ = await asyncio.gather(*(asyncio.wrap_future(pool.submit(worker.rules_digest))
                                                 for _ in range(self.processes)), local)
            self.digest = digests[0]
            if self._local is None:
                from triage.rules import load_rules

                self._note(await asyncio.to_thread(load_rules, self.rules_path, check_model=False))
        except BrokenProcessPool:
            self._drop_pool(pool)
            self.processes = 0  # not one start after another for every item: in-line from now on
            log.warning("triage: the worker processes did not start; triage runs in the gateway process")
            await asyncio.to_thread(self.local)

    def _ensure_pool(self) -> ProcessPoolExecutor | None:
        if self.processes <= 0 or self._closed:
            return None
        if self._pool is None:
            # spawn, not fork: the gateway has threads (database writer, IMAP) a fork would copy mid-step
            self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                             initializer=worker.start,
                                             initargs=(str(self.rules_path) if self.rules_path else None,))
        return self._pool

    def _drop_pool(self, pool: ProcessPoolExecutor) -> None:
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=False)

    def close(self) -> None:
        self._closed = True
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    # -- reloading the rules --

    def _file_stamp(self) -> tuple[tuple[int, int] | None, ...]:
        """The rules file's and its learned model's (``hcp triage train`` writes it) stamps."""
        stamps: list[tuple[int, int] | None] = []
        for path in (self.file, self._model_file):
            try:
                st = path.stat() if path is not None else None
            except OSError:
                st = None
            stamps.append((st.st_mtime_ns, st.st_size) if st is not None else None)
        return tuple(stamps)

    def _note(self, rules: Any) -> None:
        """Which files the running rules came from, so that a change to either is seen."""
        learned = rules.learned
        self._model_file = learned.model_path if learned is not None and learned.enabled else None
        self._stamp = self._file_stamp()

    async def check_rules(self) -> dict[str, Any]:
        """Look at the rules file now (a staff page is open) and return ``status()``."""
        self._next_check = 0.0
        await self._maybe_reload()
        if self._reloading is not None:
            with contextlib.suppress(Exception):
                await self._reloading
        return self.status()

    async def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + self.check_every
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        if self._reloading is None or self._reloading.done():
            # In the background: the items arriving meanwhile run on the last good rules.
            self._reloading = asyncio.create_task(self.reload())

    async def reload(self) -> bool:
        """Validate the rules file and make it active; False (and ``last_error``) if it does not load."""
        from triage.rules import RulesError, load_rules

        self._stamp = self._file_stamp()
        try:
            rules = await asyncio.to_thread(load_rules, self.rules_path)
            if self._local is not None:
                await asyncio.to_thread(self._local.reload, self.rules_path)
        except RulesError as exc:
            self.last_error = without_directories(str(exc))
            log.warning("triage: the rules file %s was changed but does not load; the last good rules stay "
                        "active: %s", self.file, exc)
            return False
        old = self._pool
        self._pool = None
        if old is not None:
            old.shutdown(wait=False)  # items already sent finish on the old rules
            await self.start()
        self.digest = rules.digest
        self._note(rules)
        self.loaded_at = datetime.now(UTC)
        self.last_error = None
        log.info("triage: rules %s loaded (digest %s)", self.file, rules.digest)
        return True

    def status(self) -> dict[str, Any]:
        """For the staff status page: which rules run, where, the last reload's error, and the learned
        model in use (when trained, on how many items, its cross-validated figures)."""
        return {"rules": str(self.file), "custom": self.rules_path is not None, "digest": self.digest,
                "loaded_at": self.loaded_at.isoformat(),
                "processes": self.processes, "error": self.last_error, "fallbacks": self.fallbacks,
                "model": self.model_info()}

    def model_info(self) -> dict[str, Any] | None:
        """The learned model's description from its file header; None when the rules use none."""
        from triage.linear import ModelError, read_meta

        path = self._model_file
        if path is None:
            return None
        stamp = self._stamp[1] if len(self._stamp) > 1 else None
        if self._model_meta is not None and self._model_meta[0] == (path, stamp):
            return self._model_meta[1]
        try:
            meta = read_meta(path)
            trained = meta.get("trained_at")
            info: dict[str, Any] = {
                "path": str(path), "items": meta.get("items"), "corrections": meta.get("corrections", 0),
                "trained_at": datetime.fromisoformat(trained) if trained else None, "cv": meta.get("cv") or {},
                "error": None}
        except (ModelError, ValueError) as exc:
            info = {"path": str(path), "error": without_directories(str(exc))}
        self._model_meta = ((path, stamp), info)
        return info
