"""The command-line grammar: comma lists in either order, --threads everywhere, a fast --help."""
from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from varbind import threads
from varbind.cli import COMMANDS, build_parser, main
from varbind.cli.runtime import final_name

from .annotate_helpers import random_genome, write_db, write_fasta, write_vcf

ROOT = Path(__file__).resolve().parents[1]

#: for every command with list options: the positional arguments, and list flags with two values
CASES = {
    ("annotate",): (["in.vcf", "--fasta", "r.fa", "-o", "o.vcf"], [("--ids", "A", "B"), ("--tf", "GABPA", "ELK1"),
                                                                 ("--family", "ets", "zinc finger")]),
    ("check",): (["in.vcf", "--fasta", "r.fa"], []),
    ("score",): (["seqs.txt"], [("--ids", "D00328.003", "D00210.001"), ("--tf", "GABPA", "ELK1")]),
    ("mutmap",): (["chr5:100-200", "--fasta", "r.fa"], [("--tf", "GABPA", "ELK1"), ("--ids", "A", "B")]),
    ("logo",): (["MA0062.4"], [("--family", "ets", "bzip")]),
    ("models", "list"): ([], [("--tf", "CTCF", "JUN"), ("--ids", "A", "B")]),
    ("deepfind", "train"): (["--out", "d"], [("--classifiers", "mlp", "lightgbm"),
                                             ("--feature-sets", "scores", "scores+tss+tv"), ("--tf", "A", "B")]),
    ("deepfind", "score"): (["v.avinput", "--model", "m", "--genome", "g.fa", "--tss", "t.tsv"],
                            [("--ids", "A", "B")]),
    ("train", "chip"): (["a.seq.gz", "--out", "d"], [("--detector-lens", "8", "12")]),
}


def _parse(argv: list[str]) -> dict:
    ns = vars(build_parser().parse_args(argv))
    ns.pop("func")
    return ns


@pytest.mark.parametrize("cmd", list(CASES), ids=" ".join)
def test_list_options_take_commas_or_repeats_before_or_after_the_positional(cmd):
    positional, lists = CASES[cmd]
    for flag, a, b in lists:
        want = _parse([*cmd, *positional, flag, f"{a},{b}"])
        got_value = want[flag.lstrip("-").replace("-", "_")]
        assert [str(v) for v in got_value] == [a, b]
        # the list first, the positional after it: the list must not swallow it
        assert _parse([*cmd, flag, f"{a},{b}", *positional]) == want
        # the flag repeated, in both places
        assert _parse([*cmd, flag, a, *positional, flag, b]) == want


def test_space_separated_list_fails_with_a_hint(capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["annotate", "--tf", "GABPA", "ELK1", "in.vcf", "--fasta", "r.fa", "-o", "o.vcf"])
    assert e.value.code == 2
    assert "comma-separated" in capsys.readouterr().err


def test_list_choices_are_checked_per_item(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["deepfind", "train", "--out", "d", "--classifiers", "mlp,forest"])
    assert "invalid choice 'forest'" in capsys.readouterr().err


def test_readme_score_line_works_in_both_orders(tmp_path, capsys):
    db = write_db(tmp_path / "db")
    seqs = tmp_path / "seqs.txt"
    seqs.write_text("ACGTACGTACGTAAAC\nGGGCCCATTTACGGA\n")
    outs = []
    for argv in (["score", "--models", str(db), "--ids", "M2,M4", str(seqs)],
                 ["score", str(seqs), "--models", str(db), "--ids", "M2", "--ids", "M4"]):
        assert main(argv) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    table = pd.read_csv(pd.io.common.StringIO(outs[0]), sep="\t")
    assert list(table.columns) == ["M2", "M4"] and len(table) == 2


def test_annotate_list_before_the_vcf(tmp_path, capfd):
    rng = np.random.default_rng(5)
    g = random_genome(rng, 400)
    fa = write_fasta(tmp_path / "g.fa", {"chr1": g})
    vcf = write_vcf(tmp_path / "a.vcf", [f"chr1\t{p + 1}\t.\t{g[p]}\t{'A' if g[p] != 'A' else 'C'}\t.\t.\t."
                                         for p in (100, 200)])
    db = write_db(tmp_path / "db")
    assert main(["annotate", "--models", str(db), "--ids", "M2,M4", str(vcf), "--fasta", str(fa),
                 "-o", str(tmp_path / "o.tsv"), "--quiet"]) == 0
    got = pd.read_csv(tmp_path / "o.tsv", sep="\t")
    assert list(dict.fromkeys(got["model"])) == ["M2", "M4"] and len(got) == 4
    assert main(["annotate", str(vcf), "--fasta", str(fa), "-o", str(tmp_path / "o.vcf"), "--models", str(db),
                 "--ids", "M2", "--ids", "M4", "--quiet"]) == 0
    assert "--ids M2,M4" in (tmp_path / "o.vcf").read_text()


# ---------------------------------------------------------------- --threads


def _leaf_parsers(p: argparse.ArgumentParser):
    subs = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield p
    for a in subs:
        for q in dict.fromkeys(a.choices.values()):
            yield from _leaf_parsers(q)


def test_every_command_takes_threads():
    leaves = list(_leaf_parsers(build_parser()))
    assert len(leaves) >= 15
    for p in leaves:
        assert "--threads" in p._option_string_actions, p.prog
        assert p._option_string_actions["--threads"].default is None


@pytest.mark.parametrize("bad", ["0", "-2", "two"])
def test_threads_must_be_positive(bad, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["score", "--threads", bad])
    assert "at least 1" in capsys.readouterr().err


def test_available_cores_reads_cgroup_v2_and_v1(tmp_path, monkeypatch):
    monkeypatch.setattr(threads, "_affinity", lambda: 8)
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("cpu memory\n")
    monkeypatch.setattr(threads, "Path", _ProcCgroup(tmp_path, "0::/\n"))
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert threads.cgroup_cpus(v2) == 1.5 and threads.available_cores(v2) == 2
    (v2 / "cpu.max").write_text("max 100000\n")
    assert threads.cgroup_cpus(v2) is None and threads.available_cores(v2) == 8
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("300000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert threads.available_cores(v1) == 3
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert threads.available_cores(v1) == 8
    monkeypatch.setattr(threads, "_affinity", lambda: 2)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("800000\n")
    assert threads.available_cores(v1) == 2  # the affinity mask is the tighter bound


class _ProcCgroup:
    """``Path`` for threads.py with /proc/self/cgroup replaced by a file of the test's."""

    def __init__(self, tmp: Path, text: str):
        self.file = tmp / "proc_cgroup"
        self.file.write_text(text)

    def __call__(self, p, *rest):
        return self.file if str(p) == "/proc/self/cgroup" else Path(p, *rest)


def test_configure_sets_numba_torch_and_env(monkeypatch):
    import numba
    import torch

    for var in threads.THREAD_VARS:
        monkeypatch.delenv(var, raising=False)
    before_numba, before_torch = numba.get_num_threads(), torch.get_num_threads()
    try:
        assert threads.configure(1) == 1
        assert numba.get_num_threads() == 1 and torch.get_num_threads() == 1
        assert all(os.environ[v] == "1" for v in threads.THREAD_VARS if v != "NUMBA_NUM_THREADS")
        assert "NUMBA_NUM_THREADS" not in os.environ  # numba is running: its pool size stays as it started
        monkeypatch.setenv("OMP_NUM_THREADS", "7")  # the user's own setting wins over the default
        monkeypatch.setattr(threads, "available_cores", lambda: 1)
        monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
        assert threads.configure() == 1 and os.environ["OMP_NUM_THREADS"] == "7"
    finally:
        numba.set_num_threads(before_numba)
        torch.set_num_threads(before_torch)


def test_threads_do_not_change_scores(tmp_path, capsys):
    db = write_db(tmp_path / "db")
    rng = np.random.default_rng(2)
    seqs = tmp_path / "s.txt"
    seqs.write_text("\n".join("".join(rng.choice(list("ACGT"), 80)) for _ in range(40)) + "\n")
    outs = []
    for n in ("1", "2"):
        assert main(["score", "--models", str(db), "--mode", "global", "--threads", n, str(seqs)]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and len(outs[0].splitlines()) == 41


# ---------------------------------------------------------------- start-up


def test_help_imports_no_heavy_library():
    code = ("import sys\nfrom varbind.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'numpy', 'pandas', 'scipy', 'numba', 'pyarrow', 'cyvcf2', 'pysam') "
            "if m in sys.modules]\nprint('HEAVY', heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr
    for name in COMMANDS:
        assert f"    {name}" in r.stdout


def test_command_summaries_match_the_modules():
    full = build_parser()
    sub = next(a for a in full._actions if isinstance(a, argparse._SubParsersAction))
    helps = {c.dest: c.help for c in sub._choices_actions}
    assert helps == COMMANDS
    for name in COMMANDS:
        assert hasattr(importlib.import_module(f"varbind.cli.{name}"), "register")


def test_temp_names_become_the_output_name():
    assert final_name("/x/.o.tsv.gz.12.tmp.tsv.gz") == "/x/o.tsv.gz"
    assert final_name("/x/.hidden.tsv") == "/x/.hidden.tsv"


def test_threads_env_sizes_numba_in_a_fresh_process():
    code = ("from varbind.cli import main\nimport sys\nrc = main(['models', 'list', '--threads', '1'])\n"
            "import numba, os\nprint('POOL', numba.config.NUMBA_NUM_THREADS, os.environ['OMP_NUM_THREADS'])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert "POOL 1 1" in r.stdout, r.stdout + r.stderr
