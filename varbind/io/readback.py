"""Read back a VCF/BCF that varbind wrote, to prove it holds every record (htslib does not report
a failed write through cyvcf2: a full disk left a truncated file and exit 0)."""
from __future__ import annotations

import gzip

import numpy as np

from . import sniff


def count_vcf_records(path: str) -> int:
    """Records in a VCF/BCF file that varbind wrote (plain, BGZF, or BGZF BCF), read back in full.

    For a text VCF, the lines not starting with ``#``, the last one complete; compressed files must
    end with the BGZF end-of-file block and decompress cleanly.

    Raises
    ------
    ValueError, OSError, EOFError
        For a truncated or corrupt file.
    """
    kind = sniff(path)  # raises for a BGZF file without its end-of-file block
    opener = gzip.open if kind in ("bgzf", "gzip") else open
    with opener(path, "rb") as f:
        head = f.read(5)
        if head.startswith(b"BCF"):
            (l_text,) = np.frombuffer(_read_exact(f, 4), "<u4")
            _read_exact(f, int(l_text))
            n = 0
            while True:
                lengths = f.read(8)
                if not lengths:
                    return n
                if len(lengths) < 8:
                    raise EOFError("BCF record cut short")
                shared, indiv = np.frombuffer(lengths, "<u4")
                _read_exact(f, int(shared) + int(indiv))
                n += 1
        newlines, headers, prev, block = 0, int(head[:1] == b"#"), b"", head
        while block:
            newlines += block.count(b"\n")
            headers += (prev + block).count(b"\n#")  # a line starts after every newline
            prev = block[-1:]
            block = f.read(1 << 20)
        if prev not in (b"\n", b""):
            raise EOFError("the last line is cut short")
        return newlines - headers


def _read_exact(f, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise EOFError("file cut short")
    return data
