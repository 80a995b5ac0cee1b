"""numba's cached CPU kernels are dropped when any CPU kernel source changes (numba itself checks
only the kernel's own file, but ``cpu_regions`` inlines ``cpu_edits``' functions)."""
from __future__ import annotations

from pathlib import Path

from varbind.predict import kernels


def _cache(folder: Path) -> list[Path]:
    files = [folder / "__pycache__" / n for n in ("cpu_regions.pool-10.py311.nbi", "cpu_regions.pool-10.py311.1.nbc")]
    for f in files:
        f.write_bytes(b"machine code")
    return files


def test_cached_kernels_go_when_another_kernel_file_changes(tmp_path):
    (tmp_path / "cpu_edits.py").write_text("def f():\n    return 1\n")
    (tmp_path / "cpu_regions.py").write_text("from .cpu_edits import f\n")
    (tmp_path / "__pycache__").mkdir()
    first = _cache(tmp_path)
    assert kernels.drop_stale_numba_cache(tmp_path)  # no hash kept yet: whatever is cached may be stale
    assert not any(f.exists() for f in first)
    kept = _cache(tmp_path)  # compiled again from these sources
    assert not kernels.drop_stale_numba_cache(tmp_path)
    assert all(f.exists() for f in kept)
    (tmp_path / "cpu_edits.py").write_text("def f():\n    return 2\n")  # cpu_regions.py itself unchanged
    assert kernels.drop_stale_numba_cache(tmp_path)
    assert not any(f.exists() for f in kept)


def test_this_packages_stamp_matches_its_sources():
    folder = Path(kernels.__file__).parent
    kernels.drop_stale_numba_cache()
    assert not kernels.drop_stale_numba_cache()  # a second import finds the same sources
    assert (folder / "__pycache__" / kernels.STAMP).read_text().strip()


def test_a_cache_under_numba_cache_dir_is_dropped_too(tmp_path, monkeypatch):
    """With ``NUMBA_CACHE_DIR`` set numba reads and writes the kernels there (in a folder named after
    the package's path), so a stale kernel of ``cpu_regions`` would be loaded from there."""
    from numba.core.caching import _CacheLocator

    src, user = tmp_path / "kernels", tmp_path / "numba-cache"
    src.mkdir()
    (src / "cpu_edits.py").write_text("def f():\n    return 1\n")
    (src / "cpu_regions.py").write_text("from .cpu_edits import f\n")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(user))
    theirs = user / _CacheLocator.get_suitable_cache_subpath(str(src / "cpu_regions.py"))
    theirs.mkdir(parents=True)
    cached = theirs / "cpu_regions.pool-10.py311.nbi"
    cached.write_bytes(b"machine code")
    kernels.drop_stale_numba_cache(src)
    cached.write_bytes(b"machine code")  # compiled again from these sources
    assert not kernels.drop_stale_numba_cache(src) and cached.exists()
    (src / "cpu_edits.py").write_text("def f():\n    return 2\n")
    assert kernels.drop_stale_numba_cache(src)
    assert not cached.exists()
