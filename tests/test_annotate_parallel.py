"""``annotate`` over several host processes (varbind.annotate.parallel): parts cut where chunks end,
the same VCF text and summary as one process, errors and header restarts as in one process."""
from __future__ import annotations

import gzip

import numpy as np
import pytest

from varbind import annotate, io
from varbind.annotate import parallel
from varbind.annotate.windows import Site
from varbind.errors import InputFormatError

from .annotate_helpers import write_vcf
from .test_annotate_pipeline import W, calibrated_panel, genome_world  # noqa: F401 (a fixture)


@pytest.fixture
def cut(monkeypatch):
    """Parts of ~40 records; counts the runs that really went through worker processes."""
    monkeypatch.setattr(parallel, "PART", 40)
    runs = []
    real = parallel.run

    def run(*args, **kw):
        runs.append(args[3])
        return real(*args, **kw)

    monkeypatch.setattr(parallel, "run", run)
    return runs


def _text(path) -> list[str]:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt") as f:
        return f.read().splitlines()


def test_parts_end_where_region_chunks_end(genome_world):  # noqa: F811
    reader = io.open_vcf(str(genome_world["vcf"]))
    recs = [(r, Site(*io.site_of(r))) for b in io.read_batches(reader) for r in b]
    starts, n = set(), 0
    for chunk in annotate.region_chunks(recs, size=7):
        starts.add(n)
        n += len(chunk)
    got = list(parallel.parts(str(genome_world["vcf"]), annotate.REGION, 7, size=20))
    assert len(got) >= 5 and all(head.startswith(b"##fileformat") and head.endswith(b"INFO\n") for head, _ in got)
    lines = [line for _, part in got for line in part]
    assert [line.decode().split("\t")[1] for line in lines] == [str(r.POS) for r, _ in recs]
    cuts = [sum(len(p) for _, p in got[:i]) for i in range(1, len(got))]
    assert set(cuts) <= starts  # every part begins a chunk
    assert all(len(p) >= 20 for _, p in got[:-1])
    # the last 60 records (of the total) in parts of a quarter: still whole chunks, the same lines
    tail = list(parallel.parts(str(genome_world["vcf"]), annotate.REGION, 7, size=20, total=len(lines), tail=60))
    assert [line for _, part in tail for line in part] == lines
    sizes = [len(p) for _, p in tail]
    cuts = np.cumsum(sizes)[:-1]
    assert set(cuts.tolist()) <= starts and len(tail) > len(got)
    before = [s for s, c in zip(sizes, np.r_[0, cuts]) if c < len(lines) - 60]
    assert all(s >= 20 for s in before[:-1]) and all(5 <= s < 20 for s in sizes[len(before) + 1 : -1])


@pytest.mark.parametrize("kind,service", [("vcf.gz", False), ("vcf", False), ("vcf.gz", True)])
def test_parts_in_worker_processes_write_the_text_of_one_process(genome_world, tmp_path, cut, kind, service,
                                                                 monkeypatch):  # noqa: F811
    """Two worker processes, parts of ~40 records: the same VCF text (header included) and summary;
    the .vcf.gz is BGZF that tabix indexes and pysam reads by region. ``service``: the parent scores
    the workers' tasks and they are forked from a forkserver, as on a GPU
    (:mod:`varbind.annotate.service`; here on the CPU)."""
    import pysam

    monkeypatch.setattr(parallel, "_on_gpu", lambda settings: service)
    monkeypatch.setattr(parallel, "_forks", lambda settings: service)

    panel = calibrated_panel()
    outs, summaries = [], []
    for workers in (1, 2):
        out = tmp_path / f"o{workers}.{kind}"
        summaries.append(annotate.annotate_vcf(str(genome_world["vcf"]), str(genome_world["fa"]), str(out), panel,
                                               settings=annotate.Settings(window=W, device="cpu"),
                                               host_workers=workers)._replace(output="", index=None))
        outs.append(out)
    assert cut == [2]  # one process, then two workers
    assert _text(outs[0]) == _text(outs[1]) and summaries[0] == summaries[1]
    assert summaries[0].records > 150 and summaries[0].ref_mismatch + summaries[0].ref_alt_swap >= 1
    if kind == "vcf.gz":
        with pysam.TabixFile(str(outs[1])) as t:
            assert len(list(t.fetch("chr2"))) == sum(ln.startswith("chr2\t") for ln in _text(outs[0]))


def test_an_error_of_the_scoring_service_ends_the_run_with_its_message(genome_world, tmp_path, cut,
                                                                      monkeypatch):  # noqa: F811
    """The parent's scoring fails: the worker that sent the task raises it, the run ends with its
    text, nothing is left behind (no output, no parts folder) and no thread or process hangs."""
    from varbind.annotate import service

    monkeypatch.setattr(parallel, "_on_gpu", lambda settings: True)

    def fail(*args, **kw):
        raise MemoryError("CUDA out of memory (a stand-in)")

    monkeypatch.setattr(service.pipeline, "score", fail)
    out = tmp_path / "o.vcf.gz"
    with pytest.raises(RuntimeError, match=r"host worker failed: MemoryError: CUDA out of memory \(a stand-in\)"):
        annotate.annotate_vcf(str(genome_world["vcf"]), str(genome_world["fa"]), str(out), calibrated_panel(),
                              settings=annotate.Settings(window=W, device="cpu"), host_workers=2)
    assert cut == [2] and not out.exists() and not list(tmp_path.glob(".varbind-parts-*"))


@pytest.mark.parametrize("service", [False, True])
def test_parts_raise_the_error_of_one_process_and_declare_contigs_alike(genome_world, tmp_path, cut, service,
                                                                        monkeypatch):  # noqa: F811
    monkeypatch.setattr(parallel, "_on_gpu", lambda settings: service)  # True: the parent scores, as on a GPU
    rows = [ln for ln in _text(genome_world["vcf"]) if not ln.startswith("#")]
    panel = calibrated_panel()
    settings = annotate.Settings(window=W, device="cpu")
    # no ##contig lines: both ways start again with the contigs declared, and write the same text
    bare = write_vcf(tmp_path / "bare.vcf", rows)
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"bare{workers}.vcf"
        annotate.annotate_vcf(str(bare), str(genome_world["fa"]), str(out), panel, settings=settings,
                              host_workers=workers)
        outs.append(_text(out))
    assert cut == [2, 2]  # the parts' first pass met the undeclared contigs, the second declared them
    assert outs[0] == outs[1] and any(ln.startswith("##contig=<ID=chr2") for ln in outs[0])
    # --strict and an allele that cannot be scored in a later part: the same message, no output
    messages = []
    for workers in (1, 2):
        out = tmp_path / f"strict{workers}.vcf.gz"
        with pytest.raises(InputFormatError) as e:
            annotate.annotate_vcf(str(genome_world["vcf"]), str(genome_world["fa"]), str(out), panel,
                                  settings=settings, strict=True, host_workers=workers)
        messages.append(str(e.value))
        assert not out.exists() and not list(tmp_path.glob(".varbind-parts-*"))
    assert cut == [2, 2, 2] and messages[0] == messages[1] and "--strict" in messages[0]


def test_parts_from_a_script_read_on_stdin(genome_world, tmp_path):  # noqa: F811
    """`python -` has no main file for spawned workers to import again (they crashed on the GPU host)."""
    import subprocess
    import sys
    from pathlib import Path

    out = tmp_path / "o.vcf.gz"
    script = (f"from varbind import annotate\nfrom tests.test_annotate_pipeline import calibrated_panel\n"
              f"s = annotate.annotate_vcf({str(genome_world['vcf'])!r}, {str(genome_world['fa'])!r}, {str(out)!r}, "
              f"calibrated_panel(), settings=annotate.Settings(window={W}, device='cpu'), host_workers=2)\n"
              "print('records', s.records)\n")
    p = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, timeout=600,
                       cwd=Path(__file__).resolve().parents[1])
    assert p.returncode == 0, p.stderr[-2000:]
    assert "records 1" in p.stdout and len(_text(out)) > 150


def test_auto_host_workers_fit_the_cores_and_the_memory(monkeypatch):
    """On a GPU: one a usable core but one, at most AUTO_MAX, and no more than the free memory holds
    at WORKER_BYTES each; on the CPU one process."""
    import psutil
    import torch

    from varbind import device as vdevice
    from varbind import threads

    free = {"bytes": 64 << 30}
    monkeypatch.setattr(psutil, "virtual_memory", lambda: type("M", (), {"available": free["bytes"]})())
    monkeypatch.setattr(vdevice, "resolve", lambda d=None: torch.device("cuda" if d == "cuda" else "cpu"))
    for cores, want in ((16, parallel.AUTO_MAX), (4, 3), (1, 1)):
        monkeypatch.setattr(threads, "available_cores", lambda cores=cores: cores)
        assert parallel.default_workers("cuda") == want
    monkeypatch.setattr(threads, "available_cores", lambda: 16)
    free["bytes"] = 5 * parallel.WORKER_BYTES + 1
    assert parallel.default_workers("cuda") == 5
    free["bytes"] = 1 << 20
    assert parallel.default_workers("cuda") == 1
    assert parallel.default_workers("cpu") == 1


def test_the_scoring_service_serves_every_visible_gpu_each_with_its_deepfind(monkeypatch, tmp_path):
    """``--device cuda`` on a host with two GPUs: scoring threads for each (two a GPU), the panel's
    DeepFind classifier copied for the second (it is moved to the device it scores on); a named GPU
    is served alone. (The GPUs are stood in for: only the plumbing is tested here.)"""
    import torch

    from varbind import device as vdevice
    from varbind.annotate import service
    from .test_annotate_pipeline import random_deepfind, tiny_bank

    monkeypatch.setattr(vdevice, "gpu_count", lambda: 2)
    monkeypatch.setattr(vdevice, "resolve", lambda d=None: torch.device("cuda:0" if str(d) in ("cuda", "auto") else d))
    assert vdevice.gpus_of("cuda") == vdevice.gpus_of("auto") == ["cuda:0", "cuda:1"]
    assert vdevice.gpus_of("cuda:1") == ["cuda:1"]
    dfind = random_deepfind(tiny_bank())
    job = dict(settings=annotate.Settings(device="cuda"), deepfind=dfind, panel=None, selection=None)
    server = service.Server(str(tmp_path), job, workers=1)
    try:
        scorers = [t._args for t in server._threads[1:]]
        assert [s.device for s, _ in scorers] == ["cuda:0", "cuda:0", "cuda:1", "cuda:1"]
        assert scorers[0][1] is scorers[1][1] is dfind and scorers[2][1] is scorers[3][1] is not dfind
        assert not server.needs_genome and server.address.startswith("\0varbind-")
    finally:
        server.close()


def test_the_command_line_starts_the_forkserver_only_for_runs_that_will_fork_on_a_gpu(monkeypatch, tmp_path):
    """``varbind annotate`` starts the workers' forkserver before it imports torch when the words say
    the run will probably fork workers on a GPU, and not for the CPU, one host process, a small input
    under ``--host-workers auto`` (it runs in one process) or Dask."""
    import os

    from varbind import forkserver

    big, small = tmp_path / "big.vcf.gz", tmp_path / "small.vcf.gz"
    with open(big, "wb") as f:
        f.truncate(forkserver.GUESS_BYTES)
    small.write_bytes(b"\x1f\x8b" + b"\0" * 1000)
    started = []
    monkeypatch.setattr(forkserver, "start", lambda: started.append(True))
    driver = {"present": True}
    exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda p: driver["present"] if p == "/dev/nvidiactl" else exists(p))

    def starts(*words: str, vcf=big, out="o.vcf.gz", present: bool = True, visible: str | None = None) -> bool:
        driver["present"] = present
        if visible is None:
            monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
        else:
            monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
        started.clear()
        forkserver.start_for_command(["annotate", str(vcf), "--fasta", "g.fa", "-o", str(out), *words])
        return bool(started)

    assert starts() and starts("--device", "cuda") and starts("--device=cuda:1", present=False)
    assert starts("--host-workers", "8", vcf=small) and starts("--host-workers=auto")
    assert not starts(vcf=small) and not starts(vcf=small, out=big) and not starts(vcf=tmp_path / "none.vcf.gz")
    assert not starts(present=False) and not starts(visible="") and not starts(visible="-1")
    assert not starts("--device", "cpu") and not starts("--device=cpu")
    assert not starts("--host-workers", "1") and not starts("--device", "cuda", "--host-workers=1")
    assert not starts("--device", "cuda", "--workers", "2") and not starts("--dask=tcp://h:8786")
