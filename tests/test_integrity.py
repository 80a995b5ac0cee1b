"""No silent wrong answers (issue 16): phantom VCF records, stale FASTA indexes, duplicate contigs,
REF/ALT swaps and IUPAC bases said out loud, weights checked against their hashes, skips per ALT."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from varbind import annotate, io
from varbind.panels import bundle
from varbind.panels import sources as pretrained
from varbind.cli import main
from varbind.errors import ChecksumError, InputFormatError, StaleIndexError

from .annotate_helpers import random_genome, tiny_params, write_db, write_fasta, write_vcf

REPO = Path(__file__).resolve().parents[1]
HEAD = "##fileformat=VCFv4.2\n##contig=<ID=c,length=600>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("integrity")
    g = random_genome(np.random.default_rng(3), 600)
    return {"dir": d, "g": g, "fa": write_fasta(d / "g.fa", {"c": g}), "db": write_db(d / "db")}


def alt_of(base: str, k: int = 1) -> str:
    return "ACGT"[("ACGT".index(base) + k) % 4]


# ---------------------------------------------------------------- 1. phantom records


def _annotate_subprocess(world, vcf: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "varbind", "annotate", str(vcf), "--fasta", str(world["fa"]), "-o",
                           str(out), "--models", str(world["db"]), "--window", "41", "--quiet"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


def test_blank_line_after_the_records_is_not_a_segfault(world, tmp_path):
    g = world["g"]
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEAD + f"c\t100\t.\t{g[99]}\t{alt_of(g[99])}\t.\t.\t.\n\n")
    r = _annotate_subprocess(world, vcf, tmp_path / "out.vcf")
    assert r.returncode == 0, (r.returncode, r.stderr)
    body = [ln for ln in (tmp_path / "out.vcf").read_text().splitlines() if not ln.startswith("#")]
    assert len(body) == 1 and body[0].startswith("c\t100\t") and "VARBIND=" in body[0]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_space_delimited_record_is_one_clear_error(world, tmp_path):
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEAD + "c 100 . A G . . .\n")
    r = _annotate_subprocess(world, vcf, tmp_path / "out.vcf")
    assert r.returncode == 2 and "Traceback" not in r.stderr, (r.returncode, r.stderr)
    assert "record 1 is not tab-delimited" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.vcf"]


def test_blank_lines_between_records_are_skipped_in_process(world, tmp_path):
    g = world["g"]
    vcf = tmp_path / "in.vcf"
    vcf.write_text(HEAD + f"c\t100\t.\t{g[99]}\t{alt_of(g[99])}\t.\t.\t.\n\nc\t200\t.\t{g[199]}\t{alt_of(g[199])}\t.\t.\t.\n")
    recs = [r for batch in io.read_batches(io.open_vcf(vcf), 10, str(vcf)) for r in batch]
    assert [io.site_of(r)[:2] for r in recs] == [("c", 99), ("c", 199)]


# ---------------------------------------------------------------- 3. stale FASTA index


def _indexed(tmp_path: Path, contigs: dict[str, str], width: int = 60) -> Path:
    fa = write_fasta(tmp_path / "r.fa", contigs, width)
    io.Fasta(fa).close()  # builds r.fa.fai
    assert (tmp_path / "r.fa.fai").exists()
    return fa


def test_fasta_edited_after_indexing_is_refused(tmp_path):
    g = random_genome(np.random.default_rng(1), 500)
    fa = _indexed(tmp_path, {"a": g, "b": g[::-1]})
    write_fasta(fa, {"a": g[:100] + "A" + g[100:], "b": g[::-1]})  # one base inserted: everything after shifts
    with pytest.raises(StaleIndexError, match="re-index"):
        io.Fasta(fa)


def test_same_size_edit_that_moves_line_breaks_is_caught_when_fetched(tmp_path):
    g = random_genome(np.random.default_rng(2), 600)
    fa = _indexed(tmp_path, {"a": g})
    lines = fa.read_text().splitlines()
    lines[2], lines[5] = lines[2][1:], lines[5] + "C"  # same size, same contig length, shifted bases
    fa.write_text("\n".join(lines) + "\n")
    f = io.Fasta(fa)  # the contig still ends where the index says
    assert f.codes("a", 0, 60).tolist() == io.Fasta(write_fasta(tmp_path / "x.fa", {"a": g})).codes("a", 0, 60).tolist()
    with pytest.raises(StaleIndexError, match="line breaks of a:"):
        f.codes("a", 100, 200)


def test_substitution_after_indexing_is_read_as_the_file_now_holds(tmp_path):
    g = random_genome(np.random.default_rng(3), 300)
    fa = _indexed(tmp_path, {"a": g})
    edited = g[:150] + alt_of(g[150]) + g[151:]
    write_fasta(fa, {"a": edited})
    assert io.Fasta(fa).codes("a", 140, 160).tolist() == ["ACGT".index(b) for b in edited[140:160]]


def test_stale_index_through_the_cli_is_one_line(world, tmp_path, capfd):
    g = world["g"]
    fa = _indexed(tmp_path, {"c": g})
    lines = fa.read_text().splitlines()
    lines[3] = lines[3][:10] + lines[3][11:]  # a base deleted by hand: the lines after it shift
    fa.write_text("\n".join(lines) + "\n")
    vcf = write_vcf(tmp_path / "in.vcf", [f"c\t100\t.\t{g[99]}\t{alt_of(g[99])}\t.\t.\t."], {"c": 600})
    rc = main(["annotate", str(vcf), "--fasta", str(fa), "-o", str(tmp_path / "o.vcf"), "--models", str(world["db"])])
    err = capfd.readouterr().err
    assert rc == 2 and "re-index it" in err and "Traceback" not in err, err


# ---------------------------------------------------------------- 4. duplicate contigs, swaps, IUPAC


@pytest.mark.parametrize("order", [["a", "b", "a"], ["a", "a", "b"]])
def test_duplicate_contig_names_are_refused(tmp_path, order):
    rng = np.random.default_rng(4)
    fa = tmp_path / "d.fa"
    fa.write_text("".join(f">{n}\n{random_genome(rng, 70)}\n" for n in order))
    with pytest.raises(InputFormatError, match="contig name 'a' appears more than once"):
        io.Fasta(fa)


def test_swapped_ref_alt_counts_towards_the_genome_build_warning(world, tmp_path, capfd):
    g = world["g"]
    rows = [f"c\t{p + 1}\t.\t{alt_of(g[p])}\t{g[p]}\t.\t.\t." for p in range(50, 550, 10)]  # all 50 swapped
    vcf = write_vcf(tmp_path / "sw.vcf", rows, {"c": 600})
    rc = main(["annotate", str(vcf), "--fasta", str(world["fa"]), "-o", str(tmp_path / "o.vcf"), "--models",
               str(world["db"]), "--window", "41", "--quiet"])
    err = capfd.readouterr().err
    assert rc == 3  # every REF differs from the FASTA: nothing annotated (issue 17's exit code)
    assert "REF differs from the FASTA in 50 of 50 records (50 of them with REF/ALT swapped)" in err, err


def test_iupac_bases_in_a_window_are_noticed(tmp_path, capfd):
    g = random_genome(np.random.default_rng(6), 600)
    fa = write_fasta(tmp_path / "i.fa", {"c": g[:110] + "R" + g[111:400] + "Y" + g[401:]})
    rows = [f"c\t{p + 1}\t.\t{g[p]}\t{alt_of(g[p])}\t.\t.\t." for p in (100, 120, 250, 395, 520)]
    vcf = write_vcf(tmp_path / "i.vcf", rows, {"c": 600})
    db = write_db(tmp_path / "db")
    rc = main(["annotate", str(vcf), "--fasta", str(fa), "-o", str(tmp_path / "o.vcf"), "--models", str(db),
               "--window", "41", "--quiet"])
    err = capfd.readouterr().err
    # windows of 41: 100 and 120 see the R at 110, 395 sees the Y at 400; 250 and 520 see neither
    assert rc == 0 and "3 sites have IUPAC ambiguity codes" in err, err


# ---------------------------------------------------------------- 8. weights hashed and verified


def _bundle(tmp_path: Path) -> Path:
    ids, ps = tiny_params()
    cat = pd.DataFrame({"id": ids, "tf": ["T1", "T2", "T3", "T4"]})
    return bundle.write_bundle(tmp_path / "b", ids, ps, cat, name="b", version="1", provenance={})


def _edit_weights(path: Path, model: str, delta: float, recatalogue: bool = False) -> None:
    """Change one weight of ``model``; re-hash bundle.json (and the catalogue's sha256 columns)."""
    tensors, meta = bundle._parse_safetensors((path / bundle.MODELS).read_bytes(), path / bundle.MODELS)
    tensors = {k: v.copy() for k, v in tensors.items()}
    tensors[f"{model}/detectors"][0, 0, 0] += delta
    (path / bundle.MODELS).write_bytes(bundle._safetensors_bytes(tensors, meta))
    if recatalogue:
        b = bundle.read_bundle(path, verify=False)
        cat = pd.read_csv(path / bundle.CATALOGUE, sep="\t", dtype=str, keep_default_na=False)
        cat["sha256"] = [bundle.model_sha256(p) for p in b.params]
        cat["weights_sha256"] = [bundle.weights_sha256(p) for p in b.params]
        cat.to_csv(path / bundle.CATALOGUE, sep="\t", index=False)
    manifest = json.loads((path / bundle.MANIFEST).read_text())
    manifest["files"] = {f: bundle.file_sha256(path / f) for f in manifest["files"]}
    (path / bundle.MANIFEST).write_text(json.dumps(manifest))


def test_edited_weights_with_a_rehashed_manifest_are_refused(tmp_path, world, capfd):
    path = _bundle(tmp_path)
    pretrained.load_panel(str(path))  # fine as built
    _edit_weights(path, "M3", 0.5)
    with pytest.raises(ChecksumError, match="model 'M3': weights sha256 .* differ"):
        pretrained.load_panel(str(path))
    pretrained.load_panel(str(path), ids=["M1", "M2"])  # only the models loaded are checked
    rc = main(["annotate", str(world["fa"]), "--fasta", str(world["fa"]), "-o", str(tmp_path / "o.vcf"),
               "--models", str(path)])
    assert rc == 2 and "weights were changed" in capfd.readouterr().err


def test_recorded_panel_hash_follows_the_weights(tmp_path, world, capfd):
    path = _bundle(tmp_path)
    genuine = pretrained.panel_sha256(pretrained.load_panel(str(path)))
    _edit_weights(path, "M3", 0.5, recatalogue=True)  # every hash in the bundle redone: it loads
    edited = pretrained.load_panel(str(path))
    assert pretrained.panel_sha256(edited) != genuine
    assert pretrained.panel_sha256(edited) == bundle.panel_weights_sha256(edited.bank.ids, edited.bank.params)
    g = world["g"]
    vcf = write_vcf(tmp_path / "in.vcf", [f"c\t100\t.\t{g[99]}\t{alt_of(g[99])}\t.\t.\t."], {"c": 600})
    assert main(["annotate", str(vcf), "--fasta", str(world["fa"]), "-o", str(tmp_path / "o.vcf"), "--models",
                 str(path), "--window", "41", "--quiet"]) == 0
    header = (tmp_path / "o.vcf").read_text()
    assert f"##varbind_panel_sha256={pretrained.panel_sha256(edited)}\n" in header and genuine not in header


def test_shipped_bundles_carry_the_fast_per_model_hash():
    for name in ("default", "jaspar", "rbp", "all"):
        cat = pretrained.load_catalogue(name)[1]
        assert cat["weights_sha256"].str.fullmatch("[0-9a-f]{64}").all(), name
    b = bundle.read_bundle(pretrained.shipped_dir() / "deepbind")  # verify=True checks every model
    p = b.params[7]
    assert bundle.weights_sha256(p) == b.catalogue["weights_sha256"].iloc[7]


def test_weights_hash_sees_every_array_and_flag():
    ids, ps = tiny_params()
    p = ps[1]
    base = bundle.weights_sha256(p)
    for k in ("detectors", "thresholds", "weights1", "biases1", "weights2", "biases2"):
        arr = getattr(p, k).copy()
        arr.flat[0] += 1e-3
        assert bundle.weights_sha256(bundle.DeepBindParams(p.reverse_complement, p.has_avg_pooling,
                                                           **{**{a: getattr(p, a) for a in bundle._ARRAYS}, k: arr})) != base
    flipped = bundle.DeepBindParams(not p.reverse_complement, p.has_avg_pooling,
                                    **{a: getattr(p, a) for a in bundle._ARRAYS})
    assert bundle.weights_sha256(flipped) != base


# ---------------------------------------------------------------- 10. skips per ALT


def test_skip_reason_per_alt_in_vcf_and_table(world, tmp_path, capfd):
    g = world["g"]
    rows = [f"c\t100\t.\t{g[99]}\t{alt_of(g[99])},<DEL>\t.\t.\t.",
            f"c\t200\t.\t{alt_of(g[199], 2)}\t{alt_of(g[199], 3)}\t.\t.\t.",  # REF differs from the FASTA
            f"c\t300\t.\t{g[299]}\t{alt_of(g[299])}\t.\t.\t."]
    vcf = write_vcf(tmp_path / "in.vcf", rows, {"c": 600})
    base = ["annotate", str(vcf), "--fasta", str(world["fa"]), "--models", str(world["db"]), "--window", "41", "--quiet"]
    assert main([*base, "-o", str(tmp_path / "o.vcf")]) == 0
    err = capfd.readouterr().err
    assert "ALT alleles skipped: ref_mismatch 1, symbolic 1" in err, err  # kept under --quiet
    import cyvcf2

    f = cyvcf2.VCF(str(tmp_path / "o.vcf"))
    assert f.get_header_type("VB_SKIP")["Number"] == "A"
    got = [(r.POS, r.INFO.get("VB_SKIP"), r.INFO.get("VARBIND") is not None) for r in f]
    assert got == [(100, ".,symbolic", True), (200, "ref_mismatch", False), (300, None, True)]
    assert main([*base, "-o", str(tmp_path / "o.tsv")]) == 0
    t = pd.read_csv(tmp_path / "o.tsv", sep="\t")
    skipped = t[t.skip.notna()]
    assert skipped[["pos", "alt", "skip"]].values.tolist() == [[100, "<DEL>", "symbolic"],
                                                               [200, alt_of(g[199], 3), "ref_mismatch"]]
    assert skipped.model.isna().all() and skipped.delta.isna().all()
    assert len(t) == 4 * 2 + 2 and t.pos.is_monotonic_increasing


def test_quiet_stays_quiet_when_nothing_was_skipped(world, tmp_path, capfd):
    g = world["g"]
    vcf = write_vcf(tmp_path / "in.vcf", [f"c\t100\t.\t{g[99]}\t{alt_of(g[99])}\t.\t.\t."], {"c": 600})
    assert main(["annotate", str(vcf), "--fasta", str(world["fa"]), "-o", str(tmp_path / "o.vcf"), "--models",
                 str(world["db"]), "--window", "41", "--quiet"]) == 0
    assert capfd.readouterr().err == ""


def test_dask_workers_keep_their_logs_to_themselves(world, tmp_path):
    pytest.importorskip("distributed")
    g = world["g"]
    rows = [f"c\t{p + 1}\t.\t{g[p]}\t{alt_of(g[p])}\t.\t.\t." for p in range(30, 570, 3)]
    vcf = write_vcf(tmp_path / "in.vcf", rows, {"c": 600})
    r = subprocess.run([sys.executable, "-m", "varbind", "annotate", str(vcf), "--fasta", str(world["fa"]), "-o",
                        str(tmp_path / "o.vcf"), "--models", str(world["db"]), "--window", "41", "--workers", "1"],
                       capture_output=True, text=True, timeout=300, cwd=REPO)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("varbind: annotated 180 of 180 ALT alleles"), r.stderr


def test_annotate_summary_counts_match_the_vcf(world, tmp_path):
    g = world["g"]
    rows = [f"c\t{p + 1}\t.\t{g[p]}\t{alt_of(g[p])},<INS>\t.\t.\t." for p in range(30, 570, 30)]
    vcf = write_vcf(tmp_path / "in.vcf", rows, {"c": 600})
    s = annotate.annotate_vcf(str(vcf), str(world["fa"]), str(tmp_path / "o.vcf"), str(world["db"]),
                              settings=annotate.Settings(window=41))
    assert (s.annotated, s.skipped) == (18, {"symbolic": 18})
    assert os.path.getsize(tmp_path / "o.vcf") > 0


def test_models_verify_counts_every_edited_model(tmp_path, capfd):
    path = _bundle(tmp_path)
    assert main(["models", "verify", "--models", str(path)]) == 0
    _edit_weights(path, "M2", 0.25)
    _edit_weights(path, "M4", -0.25)
    assert main(["models", "verify", "--models", str(path)]) == 2
    assert "2 of 4 models differ from their catalogue sha256 (first: M2)" in capfd.readouterr().err


def test_score_variants_says_when_alleles_were_not_scored(world, caplog):
    g = world["g"]
    df = annotate.score_variants([("c", 100, alt_of(g[99]), "A"), ("c", 200, g[199], alt_of(g[199]))],
                                 str(world["fa"]), str(world["db"]), settings=annotate.Settings(window=41))
    assert set(df.pos) == {200} and sum(df.attrs["skipped"].values()) == 1
    assert "score_variants: 1 ALT alleles not scored (ref_" in caplog.text
