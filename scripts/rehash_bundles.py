"""Add the per-model ``weights_sha256`` column to the catalogue of existing bundles, in place.

varbind checks every model's weights on load against that column (fast); a bundle built before it
existed falls back to the slow DeepBind-text ``sha256``. Only ``catalogue.tsv`` and its hash in
``bundle.json`` change; the weights are first checked against the existing ``sha256`` column.

Usage: python scripts/rehash_bundles.py [BUNDLE_DIR ...]   (default: every bundle under pretrained/)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from varbind import _fs
from varbind.panels import bundle
from varbind.panels import sources as pretrained


def rehash(path: Path) -> None:
    b = bundle.read_bundle(path, verify=True)  # files against bundle.json, weights against the catalogue
    cat = pd.read_csv(path / bundle.CATALOGUE, sep="\t", dtype=str, keep_default_na=False)
    cat["weights_sha256"] = [bundle.weights_sha256(p) for p in b.params]
    cat = cat[bundle.CATALOGUE_COLUMNS + [c for c in cat.columns if c not in bundle.CATALOGUE_COLUMNS]]  # as write_bundle
    text = cat.to_csv(sep="\t", index=False)
    manifest = json.loads((path / bundle.MANIFEST).read_text())
    manifest["files"][bundle.CATALOGUE] = bundle.hashlib.sha256(text.encode()).hexdigest()
    _fs.write_text(path / bundle.CATALOGUE, text)
    _fs.write_text(path / bundle.MANIFEST, json.dumps(manifest, indent=1, sort_keys=False) + "\n")
    bundle.read_bundle(path)  # and check the result
    print(f"{path}: weights_sha256 added for {len(b.ids)} models")


if __name__ == "__main__":
    targets = [Path(a) for a in sys.argv[1:]] or [p for p in sorted(pretrained.shipped_dir().iterdir())
                                                  if bundle.is_bundle(p)]
    for t in targets:
        rehash(t)
