"""``varbind.pretrained``: the former name of :mod:`varbind.panels.sources`, kept for the public API
(``from varbind import pretrained; pretrained.load_panel(...)``). It is that very module."""
import sys

from .panels import sources

sys.modules[__name__] = sources
