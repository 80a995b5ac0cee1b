"""Import the published DeepBind models into a varbind bundle in the user's data folder.

The source is a DeepBind db folder (``db.tsv`` + ``params/``), or a ``.tar``/``.tar.gz``/``.tgz``
archive holding one anywhere inside (the DeepBind v0.1 release has it at ``deepbind/db``). Rows of
``db.tsv`` labelled ``deprecated`` are skipped; every other row must have its params file. Archives
are extracted safely: a member with an absolute path, a ``..`` component, a link or a device is
refused (:class:`~varbind.errors.ArchiveError`), nothing is extracted outside a private temporary
folder, and the archive's size is capped (:data:`MAX_MEMBERS` members, :data:`MAX_MEMBER_BYTES` per
member, :data:`MAX_TOTAL_BYTES` in all; :class:`~varbind.errors.LimitExceededError`). The panel name
is a name, never a path (:func:`check_panel_name`). The bundle is written to a temporary folder and renamed into place only when complete, so
an error leaves no half-imported panel. The bundle carries null-distribution quantiles computed on
the same null set as the shipped default panel (see :mod:`varbind.panels.nulls`).
"""
from __future__ import annotations

import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from ..errors import ArchiveError, LimitExceededError, ModelSourceError

#: default panel name of an import (``deepbind`` itself names the shipped bundle of the 927 models)
NAME = "deepbind-import"
SOURCE = "DeepBind v0.1 (Alipanahi et al. 2015)"
#: the public DeepBind v0.11 release for Linux (holds deepbind/db/{db.tsv,params/})
RELEASE_URL = "http://tools.genes.toronto.edu/deepbind/deepbind-v0.11-linux.tgz"
#: sha256 of that file; ``None`` until confirmed, so the downloader asks the user for one
RELEASE_SHA256: str | None = None
#: most members an archive may hold (the DeepBind release has about 1,000)
MAX_MEMBERS = 20_000
#: largest member extracted (its biggest file is a few MB)
MAX_MEMBER_BYTES = 256 << 20
#: most bytes extracted from one archive in all (the release expands to about 100 MB)
MAX_TOTAL_BYTES = 1 << 30
_PANEL_NAME = re.compile(r"[A-Za-z0-9._-]+")


def check_panel_name(name: str) -> str:
    """``name`` when it is a valid panel name: letters, digits, ``. _ -``, not starting with ``.``.

    A panel name is a folder name under the data folder, never a path.

    Raises
    ------
    ModelSourceError

    Examples
    --------
    >>> check_panel_name("deepbind-2015")
    'deepbind-2015'
    """
    if not _PANEL_NAME.fullmatch(name or "") or name.startswith(".") or len(name) > 100:
        raise ModelSourceError(f"invalid panel name {name!r}: use letters, digits, '.', '_' and '-' only "
                               "(not starting with '.'; a name, not a path)")
    return name


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


def _limited(archive: Path, tar: tarfile.TarFile, max_members: int, max_member: int, max_total: int) -> list:
    """The members of ``tar``, read one header at a time, with the limits checked on the way."""
    members, total = [], 0
    for m in tar:
        if len(members) == max_members:
            raise LimitExceededError(f"{archive}: more than {max_members} members; refusing to extract it")
        if m.size > max_member:
            raise LimitExceededError(f"{archive}: member {m.name!r} is {m.size} bytes, above the limit of "
                                     f"{max_member}; refusing to extract it")
        total += m.size
        if total > max_total:
            raise LimitExceededError(f"{archive}: expands to more than {max_total} bytes; refusing to extract it")
        members.append(m)
    return members


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike, *, max_members: int | None = None,
                 max_member_bytes: int | None = None, max_total_bytes: int | None = None) -> Path:
    """Extract a tar archive into ``dest`` after checking every member (see the module docstring).

    The limits default to :data:`MAX_MEMBERS`, :data:`MAX_MEMBER_BYTES` and :data:`MAX_TOTAL_BYTES`;
    they are checked on the members' declared sizes before anything is written, and again on the
    bytes actually copied.

    Raises
    ------
    ArchiveError
        For an unreadable archive or an unsafe member; nothing is extracted then.
    LimitExceededError
        For an archive above a limit; nothing is extracted then.
    """
    archive, dest = Path(archive), Path(dest)
    max_members = MAX_MEMBERS if max_members is None else max_members
    max_member = MAX_MEMBER_BYTES if max_member_bytes is None else max_member_bytes
    max_total = MAX_TOTAL_BYTES if max_total_bytes is None else max_total_bytes
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _limited(archive, tar, max_members, max_member, max_total)
            for m in members:
                _check_member(m, archive)
            root = dest.resolve()
            for m in members:
                target = (dest / m.name).resolve()
                if target != root and root not in target.parents:
                    raise ArchiveError(f"{archive}: refusing member that escapes the target folder: {m.name!r}")
            copied = 0
            for m in members:
                target = dest / m.name
                if m.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                with src, open(target, "wb") as out:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        copied += len(block)
                        if copied > max_total:
                            raise LimitExceededError(f"{archive}: expands to more than {max_total} bytes; "
                                                     "refusing to extract it")
                        out.write(block)
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
    return ids, params, deepbind_db.catalogue_from_db(table)


def _background() -> dict:
    """The null-set definition of the shipped panels (so percentiles mean the same)."""
    import json

    from .locations import shipped_dir

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
        The user's data folder (default :func:`varbind.panels.sources.data_dir`).
    null_size : int, optional
        Size of the null set (default that of the shipped panel; smaller only for tests).

    Raises
    ------
    ModelSourceError, ArchiveError, ParamsFormatError
        Nothing is written then.
    """
    from ..bank import ModelBank
    from .bundle import write_bundle
    from .nulls import null_table
    from .sources import data_dir as _data_dir

    from .bundle import is_bundle

    check_panel_name(name)

    from .sets import SETS
    from .locations import shipped_dir

    if name in SETS or (shipped_dir() / name).is_dir():
        raise ModelSourceError(f"panel name {name!r} is taken by a panel shipped with varbind; choose another --name")
    source = Path(source)
    dest = Path(data_dir) if data_dir is not None else _data_dir()
    target = dest / "panels" / name
    if target.exists() and not is_bundle(target):  # never replace what an import did not make
        raise ModelSourceError(f"{target} exists and is not a varbind bundle; remove it or choose another --name")
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
        return write_bundle(target, ids, params, cat, name=name, version="0.1",
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

    from ..errors import ChecksumError
    from .sources import data_dir as _data_dir

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
