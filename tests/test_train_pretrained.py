"""The trained models shipped in pretrained/trained: intact, and their held-out figures reproduce."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from varbind.panels import bundle
from varbind.train import datasets
from varbind.train.evaluate import heldout_metrics, heldout_scores

TRAINED = Path(__file__).resolve().parents[1] / "pretrained" / "trained"
COLUMNS = ["id", "tf", "family", "species", "source", "experiment", "detector_len", "test_metric", "test_value",
           "sha256"]


def test_trained_bundle_is_intact():
    b = bundle.read_bundle(TRAINED)
    assert len(b.ids) == 31 and bundle.verify_models(b) == []
    assert set(COLUMNS) <= set(b.catalogue.columns)
    kinds = b.catalogue["kind"].value_counts().to_dict()
    assert kinds == {"chip": 10, "pbm": 20, "selex": 1}
    assert "SP1_GM12878_SP1_HudsonAlpha" in set(b.catalogue["experiment"])


@pytest.mark.data
@pytest.mark.parametrize("tf", ["CTCFL", "MYC"])
def test_chip_heldout_auc_reproduces(shared_dir, tf):
    b = bundle.read_bundle(TRAINED)
    row = b.catalogue[(b.catalogue["kind"] == "chip") & (b.catalogue["tf"] == tf)].iloc[0]
    enc = shared_dir / "data" / "encode"
    exp = row["experiment"]
    task = datasets.read_chip(enc / f"{exp}_AC.seq.gz", enc / f"{exp}_B.seq.gz")
    params = b.params[b.ids.index(row["id"])]
    got = heldout_metrics(task, heldout_scores(task, [params])[:, 0])["auc"]
    assert got == pytest.approx(float(row["test_value"]), abs=1e-4)
    assert got > 0.9
