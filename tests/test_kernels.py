"""The numba kernels (CPU) and their torch twins (GPU) compute the same features."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from varbind import predict
from varbind.bank import ModelBank
from varbind.params import random_params
from varbind.sequence import encode_batch

from .conftest import random_seqs


@pytest.mark.parametrize("mode", ["global", "deepbind"])
def test_torch_twin_equals_numba_kernels(mode):
    rng = np.random.default_rng(5)
    ps = [random_params(detector_len=m, num_detectors=d, has_avg_pooling=a, reverse_complement=r, seed=i)
          for i, (m, d, a, r) in enumerate([(6, 16, True, True), (6, 16, False, False), (11, 3, True, True), (2, 1, False, True)])]
    for p in ps:
        p.thresholds[:] = np.abs(p.thresholds)  # positive thresholds: no all-zero feature maps
    bank = ModelBank.from_params(ps * 5, [str(i) for i in range(20)])  # several blocks per group
    batch = encode_batch(random_seqs(rng, [1, 6, 7, 12, 40, 33], "ACGTN"))
    for group in bank.groups:
        a = predict._pool(group, batch.codes, batch.lengths, mode, torch.device("cpu"), backend="numba")
        b = predict._pool(group, batch.codes, batch.lengths, mode, torch.device("cpu"), backend="torch")
        if mode == "deepbind":  # rows past a sequence's last window are masked later; compare real ones
            nwin = max(batch.codes.shape[1] - group.m, 1)
            real = (np.arange(nwin)[None, :] < np.maximum(batch.lengths - group.m, 1)[:, None]).ravel()
            a, b = a[:, real], b[:, real]
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
        assert a.abs().sum() > 0


def test_padding_columns_never_reach_a_slot():
    bank = ModelBank.from_params([random_params(detector_len=4, num_detectors=3, seed=0)], ["x"])
    g = bank.groups[0]
    assert g.table.shape[0] * g.table.shape[3] == 128  # 3 forward + 3 reverse columns, each padded to 64
    assert (g.slot >= 0).sum() == 6 and set(g.slot[g.slot >= 0].tolist()) == {0, 1}
