"""``varbind logo``: the detectors of a model as sequence logos.

Each detector's logo is built from the windows that activate it most over a fixed set of sequences
(5,000 seeded random 100-mers, or ``--sequences``), as the DeepBind website drew them; detectors
that hardly fire fall back to their centred weights (see :mod:`varbind.logos`). A position weight
matrix (a JASPAR model) is drawn as its matrix: one information-content logo in its own orientation.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .. import logos, params
from ..errors import InputFormatError
from ..sequence import read_sequences
from . import common
from .mutmap import FIGURE_FORMATS, _save, load_named_bank

log = logging.getLogger("varbind")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "logo",
        help="draw the detectors of a model as sequence logos",
        description="Draw every detector of MODEL (an ID in --models, or a DeepBind params file) as a "
        "sequence logo of the windows that activate it most.",
    )
    p.add_argument("model", metavar="MODEL", help="model ID in --models, or a path to a params .txt file")
    common.add_model_args(p, default="all")  # a logo is of one model: any shipped one, by its ID
    p.add_argument("--sequences", metavar="FILE",
                   help="sequences to scan (one per line or FASTA; default: 5,000 random 100-mers)")
    p.add_argument("--sites", type=int, default=500, metavar="N", help="windows per detector (default 500)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random sequences (default 0)")
    p.add_argument("--reverse-complement", action="store_true",
                   help="draw the other strand (a PWM is drawn in its own, JASPAR, orientation by default)")
    p.add_argument("-o", "--output", metavar="FIG", help="figure file (.png, .svg, .pdf; default MODEL_logos.png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out = args.output or f"{Path(args.model).stem if Path(args.model).is_file() else args.model}_logos.png"
    fmt = Path(out).suffix.lstrip(".").lower()
    if fmt not in FIGURE_FORMATS:
        raise InputFormatError(f"-o {out}: the figure format comes from the suffix: .png, .svg or .pdf")
    if Path(args.model).is_file():
        model_params, model_id, name = params.read(args.model), Path(args.model).stem, ""
    else:
        args.ids, args.ids_file, args.tf, args.family = [args.model], None, None, None
        bank, names = load_named_bank(args)
        model_params, model_id, name = bank.params[0], args.model, names.get(args.model, "")
    seqs = None
    if args.sequences:
        with common.open_text(args.sequences) as stream:
            seqs = [rec.seq for rec in read_sequences(stream)]
    if logos.is_pwm(model_params):  # a PWM's logo is its matrix, in its own orientation
        found = [logos.pwm_logo(model_params)]
        title = f"{name + ' · ' if name else ''}{model_id} · PWM"
    else:
        found = logos.detector_logos(model_params, seqs, top=args.sites, seed=args.seed)
        source = (f"{len(seqs):,} sequences from {args.sequences}" if seqs
                  else f"5,000 random 100-mers (seed {args.seed})")
        title = f"{name + ' · ' if name else ''}{model_id} · detectors · top {args.sites} activating windows of {source}"
    if args.reverse_complement:
        found = [lg._replace(matrix=logos.reverse_complement_matrix(lg.matrix)) for lg in found]
        title += " · reverse complement"
    import matplotlib

    matplotlib.use("Agg")
    from .. import plot

    fig = plot.detector_logos_figure(found, title=title)
    _save(out, lambda p: fig.savefig(p, format=fmt, dpi=100))
    fallback = sum(lg.kind == "weights" for lg in found)
    log.info("wrote %s (%d detectors%s)", out, len(found), f", {fallback} from weights" if fallback else "")
    return 0
