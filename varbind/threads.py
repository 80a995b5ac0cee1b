"""How many CPU threads varbind uses, and setting numba and torch to it.

The default starts from the number of cores this process may actually run on: the CPU affinity
mask (``taskset``, Slurm, ``docker --cpuset-cpus``) capped by the cgroup CPU quota (``docker
--cpus``, Kubernetes limits), not ``os.cpu_count()``, which counts the whole host; then it leaves
out the cores other processes keep busy (at least one thread): the smaller of the 1-minute load
average and the runnable tasks now other than this one (``/proc/loadavg``), so that neither a
finished job still in the average (a benchmark's own scoring, the previous run) nor a moment's spike
takes cores away. A parallel kernel that starts more threads than it gets cores waits at every barrier for a
descheduled thread: on the shared 2-core machine under load, ``annotate`` with 2 threads took 1.4x
as long as with 1 (see BENCHMARKS.md).

:func:`configure` is called by the command line before numba or torch is imported: it sets
``NUMBA_NUM_THREADS``/``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` (which size the thread pools when the
libraries start) and, when they are already imported, ``numba.set_num_threads`` and
``torch.set_num_threads``. An explicit environment variable wins over the default, not over ``--threads``.
"""
from __future__ import annotations

import math
import os
import sys
from pathlib import Path

#: environment variables that size the thread pools of numba, OpenMP (torch) and MKL/OpenBLAS
THREAD_VARS = ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _affinity() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _v2_quota(root: Path) -> float | None:
    """CPUs allowed by cgroup v2's ``cpu.max`` (``"max 100000"`` is no limit) of this process's group."""
    try:
        rel = next((ln.split(":", 2)[2] for ln in Path("/proc/self/cgroup").read_text().splitlines()
                    if ln.startswith("0::")), "/")
    except OSError:
        rel = "/"
    best = None
    here = root / rel.lstrip("/")
    for d in [here, *here.parents]:  # a parent's limit also applies
        try:
            quota, period = (d / "cpu.max").read_text().split()[:2]
        except (OSError, ValueError):
            quota = "max"
            period = "1"
        if quota != "max" and float(period) > 0:
            best = min(best or math.inf, float(quota) / float(period))
        if d == root:
            break
    return best


def _v1_quota(root: Path) -> float | None:
    """CPUs allowed by cgroup v1's ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` (-1 is no limit)."""
    for d in (root / "cpu", root / "cpu,cpuacct"):
        try:
            quota = int((d / "cpu.cfs_quota_us").read_text())
            period = int((d / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        if quota > 0 and period > 0:
            return quota / period
    return None


def cgroup_cpus(root: str | os.PathLike = "/sys/fs/cgroup") -> float | None:
    """The CPU quota of this process's cgroup in CPUs (e.g. 1.5), or ``None`` when unlimited or unknown."""
    root = Path(root)
    return _v2_quota(root) if (root / "cgroup.controllers").exists() else _v1_quota(root)


def available_cores(root: str | os.PathLike = "/sys/fs/cgroup") -> int:
    """Cores this process can use: the affinity mask, capped by the cgroup quota (rounded up, at least 1)."""
    n = _affinity()
    quota = cgroup_cpus(root)
    if quota is not None:
        n = min(n, max(1, math.ceil(quota - 1e-9)))
    return n


def busy_elsewhere(proc: str | os.PathLike = "/proc/loadavg") -> float | None:
    """Cores other processes keep busy: the smaller of the 1-minute load average and the tasks
    runnable now less this one (``/proc/loadavg``'s fourth field, ``runnable/total``). The average
    alone lags: right after a job ends (the previous run, a benchmark's own scoring) it still counts
    that job for a minute. ``None`` where neither is known.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "loadavg"
    >>> _ = f.write_text("1.93 1.20 0.88 1/412 9999\\n")  # a job just ended: only this process runs
    >>> busy_elsewhere(f)
    0.0
    >>> _ = f.write_text("16.20 15.80 15.10 17/640 9999\\n")  # 16 others, for a while
    >>> busy_elsewhere(f)
    16.0
    >>> _ = f.write_text("0.40 0.30 0.20 9/412 9999\\n")  # a moment's spike
    >>> busy_elsewhere(f)
    0.4
    """
    try:
        fields = Path(proc).read_text().split()
        load, runnable = float(fields[0]), int(fields[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except OSError:
            return None
    return min(load, float(max(0, runnable - 1)))


def idle_cores(cores: int | None = None, load: float | None = None, host: int | None = None) -> int:
    """Of ``cores`` usable cores, those the machine's load leaves free: ``cores x (1 - load / host)``
    rounded, at least 1 (``load``: the cores other processes keep busy, :func:`busy_elsewhere` by
    default; ``host``: the host's CPU count, over which the load is spread).

    Examples
    --------
    >>> idle_cores(2, 0.3, 2), idle_cores(2, 1.0, 2), idle_cores(2, 14.0, 2), idle_cores(8, 16.0, 64)
    (2, 1, 1, 6)
    """
    cores = available_cores() if cores is None else cores
    host = host or os.cpu_count() or cores
    if load is None:
        load = busy_elsewhere()
        if load is None:
            return cores
    return max(1, min(cores, round(cores * (1 - min(1.0, load / host)))))


def default_threads() -> int:
    """The thread count used without ``--threads``: ``NUMBA_NUM_THREADS`` when set, else
    :func:`idle_cores` (the usable cores the current load leaves free)."""
    env = os.environ.get("NUMBA_NUM_THREADS", "")
    return int(env) if env.isdigit() and int(env) > 0 else idle_cores()


def configure(n: int | None = None) -> int:
    """Use ``n`` threads (``None``: :func:`default_threads`) in numba, torch (OpenMP) and BLAS; returns ``n``.

    Before the libraries are imported this sizes their pools through the environment; afterwards it
    calls their ``set_num_threads`` (numba cannot grow past the pool it started with).
    """
    explicit = n is not None
    n = int(n) if explicit else default_threads()
    if n < 1:
        raise ValueError(f"thread count must be at least 1, not {n}")
    for var in THREAD_VARS:
        if var == "NUMBA_NUM_THREADS" and "numba" in sys.modules:
            continue  # numba re-reads it when it compiles, and refuses a value other than its pool's
        if explicit or not os.environ.get(var):
            os.environ[var] = str(n)
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    if "torch" in sys.modules:
        import torch

        torch.set_num_threads(n)
    return n
