"""pyarrow's memory pool for the processes that run the data stages (ADR 0014).

pyarrow allocates through mimalloc by default on Linux. mimalloc hands freed pages back to the
kernel within milliseconds, so a stage that allocates and frees column after column keeps
asking the kernel for new pages. Where new pages are expensive -- a VM whose host backs guest
memory lazily and takes freed memory back (virtio-balloon free page reporting), as on the
benchmark's machine -- that turned into system time: a first reconcile of 1M employees in a
fresh process spent 1.5-2 s in the kernel with mimalloc and 0.4 s with jemalloc, which keeps
freed pages for reuse for about a second (its decay) before returning them.

:func:`use_data_stage_memory_pool` makes jemalloc the default pool of the calling process unless
the operator chose one with pyarrow's own ``ARROW_DEFAULT_MEMORY_POOL`` (``jemalloc``,
``mimalloc`` or ``system``), which always wins. A pyarrow built without jemalloc keeps its pool.
Arrays already allocated keep the pool they came from; only later allocations change.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Final

import pyarrow as pa

log = logging.getLogger(__name__)

#: pyarrow's own setting of its default memory pool; when set, it is left alone.
ARROW_POOL_ENV: Final = "ARROW_DEFAULT_MEMORY_POOL"
#: The pool the data stages prefer.
PREFERRED_POOL: Final = "jemalloc"


def use_data_stage_memory_pool(environ: Mapping[str, str] | None = None) -> str:
    """Make jemalloc pyarrow's default memory pool, unless ``ARROW_DEFAULT_MEMORY_POOL`` is set.

    Args:
        environ: the environment to read (default: ``os.environ``).

    Returns:
        The backend name of the default pool afterwards (``jemalloc``, ``mimalloc``,
        ``system``).
    """
    env = os.environ if environ is None else environ
    if (env.get(ARROW_POOL_ENV) or "").strip():
        return str(pa.default_memory_pool().backend_name)
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow build without jemalloc
        log.debug("pyarrow has no jemalloc; keeping %s", pa.default_memory_pool().backend_name)
        return str(pa.default_memory_pool().backend_name)
    pa.set_memory_pool(pool)
    return str(pool.backend_name)
