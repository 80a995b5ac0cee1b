"""Add ``weights_sha256`` (the fast hash of the float32 weights) to shipped DeepFind configs, in place.

Each ``pretrained/deepfind/*/*/config.json`` is checked first against its panel by the slow text hash
(``panel_sha256``); only a config whose models match gets the new field, so it certifies the same
weights. Run once after a DeepFind model is trained by an older varbind.

Usage::

    python scripts/rehash_deepfind.py [pretrained/deepfind]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from varbind.panels import sources
from varbind.panels.bundle import models_sha256, panel_weights_sha256


def main(root: str = "pretrained/deepfind") -> None:
    for path in sorted(Path(root).glob("*/*/config.json")):
        raw = json.loads(path.read_text())
        bank = sources.load_panel(raw["panel"]).bank.select(raw["model_ids"])
        if models_sha256(bank.ids, bank.params) != raw["panel_sha256"]:
            sys.exit(f"{path}: the models of panel {raw['panel']!r} differ from those it was trained on")
        raw["weights_sha256"] = panel_weights_sha256(bank.ids, bank.params)
        path.write_text(json.dumps(raw, indent=1) + "\n")
        print(f"{path}: weights_sha256 added ({len(bank)} models)")


if __name__ == "__main__":
    main(*sys.argv[1:])
