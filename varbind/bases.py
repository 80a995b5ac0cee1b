"""The one base code table of varbind (numpy only, cheap to import).

Codes are ``uint8``: A=0, C=1, G=2, T=3 (``U`` is read as ``T``), N=4, any case.
:data:`STRICT_CODES` marks every other byte :data:`INVALID` (sequences given to the models:
:mod:`varbind.sequence` raises on them); :data:`GENOME_CODES` reads every other byte (N, IUPAC
ambiguity codes, gaps) as N (genome text from a FASTA, VCF alleles). Index either with the bytes.

Examples
--------
>>> import numpy as np
>>> GENOME_CODES[np.frombuffer(b"ACgtuNRy", dtype=np.uint8)].tolist()
[0, 1, 2, 3, 3, 4, 4, 4]
>>> int(STRICT_CODES[ord("R")]) == INVALID
True
"""
from __future__ import annotations

import numpy as np

N_CODE = 4
INVALID = 255
STRICT_CODES = np.full(256, INVALID, dtype=np.uint8)
for _i, _c in enumerate("ACGT"):
    STRICT_CODES[ord(_c)] = STRICT_CODES[ord(_c.lower())] = _i
STRICT_CODES[ord("U")] = STRICT_CODES[ord("u")] = 3
STRICT_CODES[ord("N")] = STRICT_CODES[ord("n")] = N_CODE
GENOME_CODES = STRICT_CODES.copy()
GENOME_CODES[GENOME_CODES == INVALID] = N_CODE
#: the complement of each code (N stays N)
COMPLEMENT_CODE = np.array([3, 2, 1, 0, 4], dtype=np.uint8)
