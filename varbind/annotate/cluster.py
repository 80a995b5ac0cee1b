"""Where ``varbind annotate`` runs its tasks: in the calling process, or on a Dask cluster (a local
one of N processes, or an existing scheduler)."""
from __future__ import annotations

import logging
from typing import Any

from . import pipeline


class Local:
    """A stand-in for a Dask client: runs tasks at once, in this process."""

    def submit(self, fn, *args, **kw):
        result = fn(*args)
        return type("Done", (), {"result": staticmethod(lambda: result)})()

    def close(self) -> None:
        pass


def client(workers: int | None, address: str | None) -> Any:
    """``(client, cluster)``: a :class:`Local` one without ``workers`` or ``address``, else a Dask client of
    a local cluster of ``workers`` processes or of the scheduler at ``address`` (``cluster`` None then)."""
    if not workers and not address:
        return Local(), None
    from dask.distributed import Client, LocalCluster

    quiet_dask()
    if address:
        client = Client(address)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    return client, cluster


def dask_task_size(device, workers: int) -> int:
    """Records a Dask task: a GPU's batch; on CPUs one region chunk, as many tasks as workers can share."""
    return pipeline.TASK_GPU if pipeline.task_size(device) == pipeline.TASK_GPU else 1


def quiet_dask() -> None:
    """Keep Dask's INFO logs (cluster start/stop) and its "large graph" warning from the user: the
    summary line says what happened. Only ``distributed``'s own loggers and that warning are touched."""
    import warnings

    for name in [n for n in logging.root.manager.loggerDict if n == "distributed" or n.startswith("distributed.")]:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=".*[Ll]arge graph.*")
    warnings.filterwarnings("ignore", message="Port .* is already in use", module="distributed")
