"""The cyclic garbage collector, tuned for processes that load their code once, then handle bulk data.

A 10,000-item upload or an import batch makes tens of thousands of dicts and lists that live until
the batch is written and form no reference cycles. With Python's defaults the collector walks each
of them many times over, and walks everything Django loaded at every full pass: a sizeable share of
an import's CPU, most of which this tuning saves (docs/performance.md).
"""

import gc

# New container objects between two collections of the youngest generation (Python's default: 700).
YOUNG_THRESHOLD = 50_000


def tune_for_bulk_work() -> None:
    """Keep what is loaded now (it lives as long as the process) out of every collection, and
    collect young objects less often. Call once the code is loaded, before forking workers."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 20, 20)
