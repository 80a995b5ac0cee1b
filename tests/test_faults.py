"""Faults while writing (issues 14 and 16): signals mid-run, a full disk, a read-only folder, the
output equal to the input, two runs on one output. Nothing partial or corrupt may appear under the
final name; the temporary file goes wherever the process lives to remove it. Subprocess tests: the
real command, its exit code and its stderr."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from varbind.io import readback

from .annotate_helpers import random_genome, write_db, write_fasta, write_vcf

REPO = Path(__file__).resolve().parents[1]
KINDS = ["out.vcf", "out.vcf.gz", "out.bcf", "out.tsv", "out.parquet"]
#: a child that runs the CLI with the windows of the fourth chunk slowed (so a signal lands mid-run)
SLOW_CHILD = """
import os, sys, time
from varbind.annotate import pipeline as annotate_pipeline
from varbind.cli import entry
real, calls = annotate_pipeline.prepare, [0]
def slow(*a, **k):
    calls[0] += 1
    if calls[0] == 4:
        open(os.environ["VB_TEST_MARK"], "w").close()
        time.sleep(120)
    return real(*a, **k)
annotate_pipeline.prepare = slow
sys.argv = ['varbind', *sys.argv[1:]]
entry()
"""


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Six contigs (one chunk each), 3,000 SNVs, a db folder of 4 tiny models."""
    d = tmp_path_factory.mktemp("faults")
    rng = np.random.default_rng(5)
    genome = {f"c{i}": random_genome(rng, 2000) for i in range(6)}
    fa = write_fasta(d / "g.fa", genome)
    rows = []
    for c, g in genome.items():
        for p in range(20, 1980, 4):
            rows.append(f"{c}\t{p + 1}\t.\t{g[p]}\t{'ACGT'[('ACGT'.index(g[p]) + 1) % 4]}\t.\t.\t.")
    vcf = write_vcf(d / "in.vcf", rows, contigs={c: 2000 for c in genome})
    return {"dir": d, "fa": fa, "db": write_db(d / "db"), "vcf": vcf, "n": len(rows)}


def cli(data, out, *extra, script=None, env=None, **kw):
    args = ["annotate", str(data["vcf"]), "--fasta", str(data["fa"]), "-o", str(out), "--models", str(data["db"]),
            "--window", "41", *extra]
    cmd = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "varbind", *args]
    return cmd, dict(cwd=REPO, env={**os.environ, **(env or {})}, **kw)


def run(data, out, *extra):
    cmd, kw = cli(data, out, *extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def one_line_error(r: subprocess.CompletedProcess, *words: str) -> str:
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1, r.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, -9)])
def test_signal_mid_run_leaves_nothing_under_the_final_name(data, tmp_path, sig, code):
    out, mark = tmp_path / "out.vcf.gz", tmp_path / "mark"
    cmd, kw = cli(data, out, script=SLOW_CHILD, env={"VB_TEST_MARK": str(mark)})
    # a foreground Ctrl-C: a test run started in the background (bash '&', no job control) inherits
    # SIGINT ignored, and so would the child, which then rightly runs on as a background job does
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL), **kw)
    deadline = time.monotonic() + 240
    while not mark.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child never reached its fourth chunk"
        time.sleep(0.05)
    assert leftovers(tmp_path), "the temporary output should exist mid-run"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert not out.exists() and not (tmp_path / "out.vcf.gz.tbi").exists()
    if sig != signal.SIGKILL:  # SIGKILL cannot be caught: only a hidden temp may stay
        assert leftovers(tmp_path) == [] and "Traceback" not in err, err


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs (root only): the output does not fit."""
    if os.geteuid() != 0:
        pytest.skip("a full disk is simulated with a small tmpfs mount, which needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()})")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


#: a child that runs the CLI once per output kind (one interpreter start for all) and prints the exit codes
EACH_CHILD = """
import json, sys
from varbind.cli import main
base, outs = sys.argv[1:-1], sys.argv[-1].split(",")
codes = []
for out in outs:
    codes.append(main([*base, "-o", out]))
    print("=== end", out, file=sys.stderr, flush=True)
print(json.dumps(codes))
"""


def test_disk_full_exits_2_and_leaves_no_file(data, tiny_disk):
    """Every output kind: exit 2, one line naming the output, nothing left on the full disk."""
    args = ["annotate", str(data["vcf"]), "--fasta", str(data["fa"]), "--models", str(data["db"]), "--window", "41"]
    r = subprocess.run([sys.executable, "-c", EACH_CHILD, *args, ",".join(str(tiny_disk / k) for k in KINDS)],
                       capture_output=True, text=True, timeout=300, cwd=REPO)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stdout.split() and eval(r.stdout) == [2] * len(KINDS), r.stderr
    runs, current = [], []
    for ln in r.stderr.splitlines():
        if ln.startswith("=== end "):
            runs.append(current)
            current = []
        elif ln.strip():
            current.append(ln)
    assert len(runs) == len(KINDS), r.stderr
    for kind, lines in zip(KINDS, runs):
        err = "\n".join(lines)  # one line: no htslib noise either
        assert len(lines) == 1 and "error:" in lines[0] and kind in lines[0] and "nothing was written" in lines[0], err
    assert os.listdir(tiny_disk) == []  # neither the outputs nor their temporary files


def in_process(data, out, capfd) -> tuple[int, str]:
    """The CLI in this process (for error paths that end before any scoring)."""
    from varbind.cli import main

    rc = main(["annotate", str(data["vcf"]), "--fasta", str(data["fa"]), "-o", str(out), "--models",
               str(data["db"]), "--window", "41"])
    err = capfd.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, (rc, err)
    return rc, err


def test_read_only_output_folder(data, tmp_path, capfd):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root writes through file modes: make it a read-only mount instead
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)]).returncode != 0:
            pytest.skip("cannot mount a read-only tmpfs here")
    else:
        ro.chmod(0o555)
    try:
        _, err = in_process(data, ro / "out.vcf", capfd)
        assert str(ro) in err and ("read-only" in err.lower() or "permission" in err.lower()), err
        assert os.listdir(ro) == []
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", "-l", str(ro)], check=False)
        else:
            ro.chmod(0o755)


def test_output_equal_to_input_is_refused(data, tmp_path, capfd):
    before = hashlib.sha256(data["vcf"].read_bytes()).hexdigest()
    assert "the output is the input" in in_process(data, data["vcf"], capfd)[1]
    link = tmp_path / "same.vcf"
    link.symlink_to(data["vcf"])
    assert "the output is the input" in in_process(data, link, capfd)[1]
    assert hashlib.sha256(data["vcf"].read_bytes()).hexdigest() == before


def test_two_runs_writing_one_output(data, tmp_path):
    out = tmp_path / "out.vcf.gz"
    procs = []
    for _ in range(2):
        cmd, kw = cli(data, out, "--quiet")
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw))
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    assert readback.count_vcf_records(str(out)) == data["n"]  # one complete file, not a mix
    assert leftovers(tmp_path) == [] and (tmp_path / "out.vcf.gz.tbi").exists()
