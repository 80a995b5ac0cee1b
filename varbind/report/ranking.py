"""Which models a report leads with: calibrated effects only, never raw deltas."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: models listed among the strongest gains and the strongest losses in a page's summary
N_SUMMARY = 5


def ranked(table: pd.DataFrame) -> pd.DataFrame:
    """The rows with a calibrated effect, largest ``|effect|`` first (ties: panel order)."""
    ok = table[np.isfinite(table["effect"])]
    return ok.iloc[np.argsort(-np.abs(ok["effect"].to_numpy()), kind="stable")]


def gains_losses(table: pd.DataFrame, n: int = N_SUMMARY) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``n`` strongest calibrated gains (effect > 0, largest first) and losses (< 0, most negative first)."""
    ok = table[np.isfinite(table["effect"])]
    gains = ok[ok["effect"] > 0].sort_values("effect", ascending=False, kind="stable")
    losses = ok[ok["effect"] < 0].sort_values("effect", ascending=True, kind="stable")
    return gains.head(n), losses.head(n)
