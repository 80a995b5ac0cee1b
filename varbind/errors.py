"""Named exceptions of varbind.

Every error a user can cause derives from :class:`VarbindError`; the command line turns it into one
clear line and exit code 2. Each subclass also derives from the builtin it refines, so callers that
catch ``ValueError`` or ``KeyError`` keep working.
"""
from __future__ import annotations


class VarbindError(Exception):
    """Base class of all errors varbind raises on bad input."""


class InvalidSequenceError(VarbindError, ValueError):
    """A sequence holds a character other than ACGTUN (either case).

    Attributes
    ----------
    index : int
        0-based index of the sequence in its batch (``None`` when unknown).
    position : int
        0-based position of the offending character.
    char : str
        The offending character.
    """

    def __init__(self, char: str, position: int, index: int | None = None, name: str | None = None):
        self.char, self.position, self.index, self.name = char, position, index, name
        where = f"sequence {index + 1}" if index is not None else "sequence"
        if name:
            where += f" ({name})"
        super().__init__(
            f"{where}: invalid character {char!r} at position {position + 1} "
            "(allowed: A, C, G, T, U, N in either case)"
        )


class ParamsFormatError(VarbindError, ValueError):
    """A DeepBind parameter file is malformed; the message names the file and the key."""

    def __init__(self, path: str, key: str | None, problem: str):
        self.path, self.key, self.problem = path, key, problem
        where = f"{path}: key {key!r}" if key else str(path)
        super().__init__(f"{where}: {problem}")


class ModelSourceError(VarbindError, ValueError):
    """A ``--models`` source cannot be resolved or read."""


class ModelNotFoundError(VarbindError, KeyError):
    """A requested model ID is not in the source."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ChecksumError(VarbindError, ValueError):
    """A file's sha256 differs from the one its catalogue lists."""


class ArchiveError(VarbindError, ValueError):
    """An archive is corrupt or holds a member that would escape the target folder."""


class RefMismatchError(VarbindError, ValueError):
    """A VCF REF allele differs from the reference FASTA."""


class ContigNotFoundError(VarbindError, KeyError):
    """A contig is absent from the FASTA (after aliasing)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InputFormatError(VarbindError, ValueError):
    """An input file (VCF, FASTA, region string, table) is unusable."""


class BundleFormatError(ModelSourceError):
    """A varbind bundle folder is malformed (manifest, safetensors, catalogue or null table)."""


class PanelNotInstalledError(ModelSourceError):
    """A named panel (e.g. ``deepbind``) is not in the user's data folder yet."""


class OutputError(VarbindError, OSError):
    """An output cannot be written (full disk, read-only folder, output equal to an input ...);
    nothing partial is left under its name (see :mod:`varbind._fs`).

    Also an ``OSError``, what a failed write raises in Python, so callers that catch ``OSError``
    keep working; its one argument is the whole message (``errno``, ``strerror`` and ``filename``
    are ``None``), and the command line says it as a :class:`VarbindError`.
    """


class StaleIndexError(InputFormatError):
    """A FASTA's ``.fai``/``.gzi`` index does not describe the file any more (edited after indexing)."""


class LimitExceededError(VarbindError, ValueError):
    """An input is larger than a limit varbind enforces (archive size, member count, params values)."""
