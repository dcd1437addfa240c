"""One writer at a time across processes: Dagster runs partitions in parallel processes, DuckDB
files (the catalog, the dedup index) accept a single writing process, and two runs of the same
partition (the sensor and the schedule can both launch one) must never write it at once."""

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def exclusive_lock(lock_path: Path, timeout_s: float, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path``; wait (polling) up to ``timeout_s`` for it.

    The holder writes its host and pid into the file, so a waiter that gives up can say who
    holds it. The kernel drops the lock when the holder dies (kill -9 included): a stale lock
    file never blocks anyone."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as lock:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    lock.seek(0)
                    holder = lock.read().strip() or "unknown"
                    raise TimeoutError(f"{what} stayed locked for {timeout_s:g}s by {holder} ({lock_path})") from None
                time.sleep(0.05)
        try:
            lock.seek(0)
            lock.truncate()
            lock.write(f"pid {os.getpid()} on {socket.gethostname()}")
            lock.flush()
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
