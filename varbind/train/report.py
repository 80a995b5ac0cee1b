"""The run report of a training: chosen calibration, validation curves, test metrics; JSON, HTML, PNG."""
from __future__ import annotations

import dataclasses
import html
import json
import os
from pathlib import Path

import numpy as np

from .calibrate import TrainResult


def run_report(experiment: str, kind: str, result: TrainResult, test: dict[str, float] | None = None,
               extra: dict | None = None) -> dict:
    """A JSON-ready summary of one training run.

    ``validation`` holds, per setting, the mean-over-folds validation metric at each checkpoint.
    """
    cal = result.calibration
    mean = cal.curves.mean(1)
    return {
        "experiment": experiment,
        "kind": kind,
        "validation_metric": "auc" if kind == "binary" else "pearson",
        "chosen": dataclasses.asdict(result.setting),
        "chosen_index": cal.best,
        "best_validation": float(mean[cal.best, cal.best_checkpoint]),
        "best_validation_per_fold": cal.curves[cal.best, :, cal.best_checkpoint].round(5).tolist(),
        "final_steps": result.final_steps,
        "final_restart_losses": np.asarray(result.final_losses).round(5).tolist(),
        "checkpoint_steps": cal.steps.tolist(),
        "settings": [dataclasses.asdict(s) for s in cal.settings],
        "validation": np.nan_to_num(mean, nan=0.0).round(5).tolist(),
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
        "test": test or {},
        **(extra or {}),
    }


def plot_curves(report: dict, path: str | os.PathLike) -> None:
    """PNG of the validation curves (chosen setting in bold)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    steps = report["checkpoint_steps"]
    for i, curve in enumerate(report["validation"]):
        chosen = i == report["chosen_index"]
        ax.plot(steps, curve, lw=2.5 if chosen else 0.7, color="C3" if chosen else "0.6", zorder=3 if chosen else 1)
    ax.axvline(report["final_steps"], ls=":", color="C3")
    ax.set_xlabel("training step")
    ax.set_ylabel(f"mean validation {report['validation_metric']}")
    ax.set_title(report["experiment"], fontsize=9)
    fig.tight_layout()
    from .._fs import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=80, format=Path(path).suffix.lstrip(".") or "png")
    plt.close(fig)


def write_report(folder: str | os.PathLike, report: dict, png: bool = True) -> Path:
    """Write ``report.json``, ``report.html`` and (``png``) ``validation.png`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    from .._fs import write_text

    write_text(folder / "report.json", json.dumps(report, indent=1))
    if png:
        plot_curves(report, folder / "validation.png")
    rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                   for k, v in {**report["chosen"], "final steps": report["final_steps"],
                                "best validation": round(report["best_validation"], 4),
                                **{f"test {k}": round(v, 4) for k, v in report["test"].items()},
                                **{f"seconds {k}": v for k, v in report["seconds"].items()}}.items())
    page = (f"<!doctype html><meta charset=utf-8><title>{html.escape(report['experiment'])}</title>"
            f"<h1>{html.escape(report['experiment'])}</h1>"
            + "".join(f'<p style="color:#b00"><b>warning:</b> {html.escape(w)}</p>' for w in report.get("warnings", []))
            + f"<table>{rows}</table>"
            + ('<img src="validation.png" alt="validation curves">' if png else ""))
    write_text(folder / "report.html", page)
    return folder
