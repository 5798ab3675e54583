"""Run one action from many real threads at once (each thread has its own database connection)."""

import threading
from collections import Counter

from django.db import connections


def run_concurrently(count: int, action) -> list:
    """Start `count` threads that call `action(index)` together; return their results in index order.

    An exception in a thread is returned as its result, so a test can count it instead of hanging.
    """
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index):
        try:
            barrier.wait()
            results[index] = action(index)
        except Exception as exc:  # noqa: BLE001 - reported to the test as a result
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def status_counts(responses) -> Counter:
    return Counter(r.status_code if hasattr(r, "status_code") else type(r).__name__ for r in responses)
