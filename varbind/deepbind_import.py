"""Import the published DeepBind models into a varbind bundle in the user's data folder.

The source is a DeepBind db folder (``db.tsv`` + ``params/``), or a ``.tar``/``.tar.gz``/``.tgz``
archive holding one anywhere inside (the DeepBind v0.1 release has it at ``deepbind/db``). Rows of
``db.tsv`` labelled ``deprecated`` are skipped; every other row must have its params file. Archives
are extracted safely: a member with an absolute path, a ``..`` component, a link or a device is
refused (:class:`~varbind.errors.ArchiveError`), nothing is extracted outside a private temporary
folder. The bundle is written to a temporary folder and renamed into place only when complete, so
an error leaves no half-imported panel. The bundle carries null-distribution quantiles computed on
the same null set as the shipped default panel (see :mod:`varbind.percentiles`).
"""
from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from .errors import ArchiveError, ModelSourceError

#: default panel name of an import (``deepbind`` itself names the shipped bundle of the 927 models)
NAME = "deepbind-import"
SOURCE = "DeepBind v0.1 (Alipanahi et al. 2015)"
#: the public DeepBind v0.11 release for Linux (holds deepbind/db/{db.tsv,params/})
RELEASE_URL = "http://tools.genes.toronto.edu/deepbind/deepbind-v0.11-linux.tgz"
#: sha256 of that file; ``None`` until confirmed, so the downloader asks the user for one
RELEASE_SHA256: str | None = None


def catalogue_from_db(table):
    """Bundle catalogue rows (DataFrame) from a DeepBind ``db.tsv`` table (``deepbind_db.read_catalogue``)."""
    import pandas as pd

    def col(name):
        return table[name].astype(str).tolist() if name in table.columns else [""] * len(table)

    return pd.DataFrame({
        "id": col("ID"),
        "tf": col("Protein"),
        "family": col("Family"),
        "tf_class": col("Class"),
        "species": col("Species"),
        "source": SOURCE,
        "experiment": col("Experiment Details"),
        "data_type": col("Experiment"),
        "model_type": "cnn",
        "detector_len": "",
        "type": col("Type"),
        "molecule": ["RNA" if t == "RBP" else "DNA" for t in col("Type")],
        "citation": col("Cite"),
    })


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or member.name.startswith(("/", "\\")) or ":" in name.parts[0]:
        raise ArchiveError(f"{archive}: refusing member with an absolute path: {member.name!r}")
    if ".." in name.parts:
        raise ArchiveError(f"{archive}: refusing member that escapes the target folder: {member.name!r}")
    if member.issym() or member.islnk():
        raise ArchiveError(f"{archive}: refusing link member {member.name!r} -> {member.linkname!r}")
    if not (member.isfile() or member.isdir()):
        raise ArchiveError(f"{archive}: refusing special member {member.name!r} (not a file or folder)")


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a tar archive into ``dest`` after checking every member (see the module docstring).

    Raises
    ------
    ArchiveError
        For an unreadable archive or an unsafe member; nothing is extracted then.
    """
    archive, dest = Path(archive), Path(dest)
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            for m in members:
                _check_member(m, archive)
            root = dest.resolve()
            for m in members:
                target = (dest / m.name).resolve()
                if target != root and root not in target.parents:
                    raise ArchiveError(f"{archive}: refusing member that escapes the target folder: {m.name!r}")
            for m in members:
                target = dest / m.name
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                with src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
    except (tarfile.TarError, EOFError, OSError) as e:
        if isinstance(e, FileNotFoundError) and not archive.exists():
            raise ModelSourceError(f"{archive}: no such file or folder") from None
        raise ArchiveError(f"{archive}: corrupt or unreadable archive ({e})") from None
    return dest


def find_db(root: Path) -> Path:
    """The DeepBind db folder at or under ``root`` (shallowest first)."""
    from .deepbind_db import is_deepbind_db

    for candidate in [root, *sorted(root.glob("**/db.tsv"), key=lambda p: len(p.parts))]:
        folder = candidate if candidate.is_dir() else candidate.parent
        if is_deepbind_db(folder):
            return folder
    raise ModelSourceError(f"{root}: holds no DeepBind db folder (db.tsv + params/)")


def _db_models(db: Path):
    """IDs, params and catalogue of the non-deprecated rows of a DeepBind db folder."""
    import pandas as pd

    from . import deepbind_db

    table = deepbind_db.read_table(db)
    labels = table["Labels"] if "Labels" in table.columns else pd.Series([""] * len(table))
    table = table[~labels.str.contains("deprecated", case=False)]
    missing = [i for i in table["ID"] if not (db / "params" / f"{i}.txt").is_file()]
    if missing:
        raise ModelSourceError(f"{db}: {len(missing)} models of db.tsv have no params file (first: {missing[0]})")
    if table.empty:
        raise ModelSourceError(f"{db / 'db.tsv'}: lists no model that is not deprecated")
    ids, params = deepbind_db.load_params(db, table["ID"].tolist())
    return ids, params, catalogue_from_db(table)


def _background() -> dict:
    """The null-set definition of the shipped panels (so percentiles mean the same)."""
    import json

    from .pretrained import shipped_dir

    file = shipped_dir() / "null_background.json"
    try:
        null = json.loads(file.read_text())
    except (OSError, ValueError):
        null = None
    if not isinstance(null, dict) or "dinucleotide_counts" not in null:
        raise ModelSourceError(f"{file}: the shipped null-set definition is missing or unreadable; reinstall varbind")
    return null


def import_deepbind(source: str | os.PathLike, *, name: str = NAME, data_dir: str | os.PathLike | None = None,
                    null_size: int | None = None, device: str | None = None, progress: bool = False) -> Path:
    """Import DeepBind models from a db folder or archive as panel ``name``; returns the bundle folder.

    Parameters
    ----------
    source : path
        A DeepBind db folder, or a tar archive holding one.
    name : str
        Panel name (``--models NAME`` afterwards).
    data_dir : path, optional
        The user's data folder (default :func:`varbind.pretrained.data_dir`).
    null_size : int, optional
        Size of the null set (default that of the shipped panel; smaller only for tests).

    Raises
    ------
    ModelSourceError, ArchiveError, ParamsFormatError
        Nothing is written then.
    """
    from .bank import ModelBank
    from .bundle import write_bundle
    from .percentiles import null_table
    from .pretrained import data_dir as _data_dir

    from .panel_sets import SETS
    from .pretrained import shipped_dir

    if name in SETS or (shipped_dir() / name).is_dir():
        raise ModelSourceError(f"panel name {name!r} is taken by a panel shipped with varbind; choose another --name")
    source = Path(source)
    dest = Path(data_dir) if data_dir is not None else _data_dir()
    (dest / "panels").mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".import-", dir=dest / "panels"))
    try:
        if source.is_dir():
            db = find_db(source)
        elif source.is_file():
            db = find_db(safe_extract(source, work / "src"))
        else:
            raise ModelSourceError(f"{source}: no such file or folder")
        ids, params, cat = _db_models(db)
        background = _background()
        if null_size is not None:
            background["n"] = int(null_size)
        null = null_table(ModelBank.from_params(params, ids), background, device=device, progress=progress)
        provenance = {"source": SOURCE, "from": str(source), "licence": "BSD-3 (DeepBind LICENSE.TXT)",
                      "skipped_deprecated": True}
        return write_bundle(dest / "panels" / name, ids, params, cat, name=name, version="0.1",
                            provenance=provenance, null=null)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _file_downloader(url: str, output_file, pooch_obj=None) -> None:
    """pooch downloader for ``file://`` URLs (pooch itself knows http(s), ftp, sftp, doi)."""
    from urllib.parse import unquote, urlparse

    path = Path(unquote(urlparse(url).path))
    if not path.is_file():
        raise ModelSourceError(f"{url}: no such file")
    if hasattr(output_file, "write"):
        with open(path, "rb") as f:
            shutil.copyfileobj(f, output_file)
    else:
        shutil.copyfile(path, output_file)


def download(url: str = RELEASE_URL, sha256: str | None = RELEASE_SHA256, *, data_dir: str | os.PathLike | None = None,
             progress: bool = False, **import_kwargs) -> Path:
    """Fetch the DeepBind release with pooch (sha256-checked), then :func:`import_deepbind` it."""
    import pooch

    from .errors import ChecksumError
    from .pretrained import data_dir as _data_dir

    if not sha256:
        raise ModelSourceError("no sha256 known for the DeepBind release; pass one with --sha256")
    cache = (Path(data_dir) if data_dir is not None else _data_dir()) / "downloads"
    downloader = _file_downloader if url.startswith("file://") else None
    try:
        path = pooch.retrieve(url, known_hash=f"sha256:{sha256}", path=cache, downloader=downloader,
                              progressbar=progress)
    except ValueError as e:
        if "hash" in str(e).lower():
            raise ChecksumError(f"{url}: {e}") from None
        raise ModelSourceError(f"{url}: {e}") from None
    except OSError as e:
        raise ModelSourceError(f"{url}: download failed: {e}") from None
    return import_deepbind(path, data_dir=data_dir, progress=progress, **import_kwargs)
