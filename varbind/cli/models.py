"""``varbind models``: list and show the models of a panel, import or download the DeepBind models."""
from __future__ import annotations

import argparse
import sys

from . import common

#: columns of ``list --format table`` (``tsv`` prints every catalogue column)
TABLE_COLUMNS = ["id", "tf", "family", "species", "data_type", "model_type", "detector_len", "quality", "strand"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, show, import and download model panels",
                       description="Model panels: the shipped ones (default: the DeepBind TF models + varbind CNNs; "
                       "rbp: the DeepBind RNA-binding-protein models on each strand; jaspar: JASPAR 2024 PWMs + "
                       "varbind CNNs; deepbind: all 927 DeepBind models; all), unions (default,rbp), imported "
                       "panels, bundle folders and DeepBind db folders.")
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True

    ls = verbs.add_parser("list", help="the catalogue of a panel (or a selection of it)")
    common.add_model_args(ls)
    ls.add_argument("--format", choices=("table", "tsv"), default="table",
                    help="table: aligned columns for reading; tsv: every catalogue column (default: table)")
    ls.set_defaults(func=run_list)

    show = verbs.add_parser("show", help="everything known about one model")
    show.add_argument("id", metavar="ID")
    show.add_argument("--models", default="default", metavar="SOURCE", help="panel, bundle or db folder (default: default)")
    show.set_defaults(func=run_show)

    imp = verbs.add_parser("import-deepbind", help="convert a DeepBind release into a panel (default name: deepbind-import)",
                           description="Convert a DeepBind db folder (db.tsv + params/) or a tar archive holding "
                           "one into a varbind bundle in the user's data folder ($VARBIND_DATA_DIR).")
    imp.add_argument("source", metavar="DIR_OR_TARBALL")
    imp.add_argument("--name", default="deepbind-import",
                     help="panel name (default: deepbind-import; the shipped panel names are taken)")
    common.add_device_args(imp)
    imp.set_defaults(func=run_import)

    dl = verbs.add_parser("download", help="download and import a public model release",
                          description="The 927 published DeepBind models ship with varbind (panel deepbind): "
                          "nothing needs downloading. With --url and --sha256, fetch another DeepBind release "
                          "archive and import it as with import-deepbind.")
    dl.add_argument("panel", choices=("deepbind",))
    dl.add_argument("--url", default=None, help="release URL (http, https, ftp or file://)")
    dl.add_argument("--sha256", default=None, help="expected sha256 of the release file (required with --url)")
    dl.add_argument("--name", default="deepbind-import", help="panel name (default: deepbind-import)")
    common.add_device_args(dl)
    dl.set_defaults(func=run_download)

    ver = verbs.add_parser("verify", help="recompute every model's sha256 against the catalogue")
    ver.add_argument("--models", default="default", metavar="SOURCE")
    ver.set_defaults(func=run_verify)


def run_list(args: argparse.Namespace) -> int:
    from ..panels import sources as pretrained

    name, cat, _ = pretrained.load_catalogue(args.models)
    chosen = pretrained.select(cat, common.selected_ids(args), args.tf, args.family, args.min_quality)
    cat = cat.loc[chosen]
    out = sys.stdout
    if args.format == "tsv":
        cat.to_csv(out, sep="\t", index=False)
    else:
        cols = [c for c in TABLE_COLUMNS if c in cat.columns]
        rows = [cols] + [[_short(str(v)) for v in row] for row in cat[cols].itertuples(index=False)]
        widths = [max(len(r[i]) for r in rows) for i in range(len(cols))]
        for r in rows:
            out.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() + "\n")
    print(f"varbind models: {name}: {len(cat)} models, {pretrained.count_tfs(cat)} distinct TFs", file=sys.stderr)
    return 0


def _short(v: str, width: int = 40) -> str:
    return v if len(v) <= width else v[: width - 3] + "..."


def run_show(args: argparse.Namespace) -> int:
    import numpy as np

    from ..panels import sources as pretrained

    panel = pretrained.load_panel(args.models, ids=[args.id])
    row = panel.catalogue.iloc[0]
    p = panel.bank.params[0]
    lines = [(k, str(v)) for k, v in row.items() if str(v) != ""]
    lines += [
        ("panel", panel.name),
        ("architecture", f"{p.num_detectors} detectors x {p.detector_len} bp, "
         f"{'max+avg' if p.has_avg_pooling else 'max'} pooling, "
         f"{f'{p.num_hidden} hidden units' if p.num_hidden else 'linear output'}, "
         f"{'both strands' if p.reverse_complement else 'forward strand only'}"),
    ]
    if panel.null is not None and len(panel.null.ids):
        q = panel.null.quantiles[0]
        probs = panel.null.probs
        at = {k: float(np.interp(k, probs, q)) for k in (0.5, 0.9, 0.99)}
        lines.append(("null quantiles", ", ".join(f"{int(k * 100)}%: {v:.4g}" for k, v in at.items())
                      + f"  (of {panel.null.provenance.get('n', '?')} x {panel.null.provenance.get('length', '?')}-bp"
                      " background sequences)"))
    width = max(len(k) for k, _ in lines)
    for k, v in lines:
        print(f"{k.ljust(width)}  {v}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from ..panels.deepbind_import import import_deepbind

    path = import_deepbind(args.source, name=args.name, device=common.device(args), progress=sys.stderr.isatty())
    return _report(path)


def run_download(args: argparse.Namespace) -> int:
    from ..panels import deepbind_import
    from ..panels import sources as pretrained

    if args.url is None:
        _, cat, _ = pretrained.load_catalogue("deepbind")
        print(f"varbind models: the {len(cat)} published DeepBind models ship with varbind as panel 'deepbind' "
              "(--models deepbind; the default panel holds its TF models): nothing to download. To fetch another "
              "release: varbind models download deepbind --url URL --sha256 HEX", file=sys.stderr)
        return 0
    path = deepbind_import.download(args.url, args.sha256, name=args.name, device=common.device(args),
                                    progress=sys.stderr.isatty())
    return _report(path)


def _report(path) -> int:
    from ..panels import sources as pretrained

    name, cat, _ = pretrained.load_catalogue(path)
    print(f"varbind models: imported {len(cat)} models ({pretrained.count_tfs(cat)} distinct TFs) "
          f"as panel {name!r} in {path}; use --models {name}", file=sys.stderr)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from ..panels import bundle
    from ..panels import sources as pretrained
    from ..errors import ChecksumError

    from ..panels.sets import is_set, parts

    sources = [name for name, _, _ in parts(args.models)] if is_set(args.models) else [args.models]
    for source in sources:
        kind, path = pretrained.resolve(source)
        if kind != "bundle":
            print(f"varbind models: {path} is a DeepBind db folder: nothing to verify against", file=sys.stderr)
            continue
        info = bundle.read_manifest(path)
        for name in info["files"]:  # every file against bundle.json
            bundle._checked_bytes(path, info, name, True)
        b = bundle.read_bundle(path, verify=False)  # then every model, all of them counted
        bad = bundle.verify_models(b)
        if bad:
            raise ChecksumError(f"{path}: {len(bad)} of {len(b.ids)} models differ from their catalogue sha256 "
                                f"(first: {bad[0]})")
        print(f"varbind models: {path}: all {len(b.ids)} files and model sha256s match", file=sys.stderr)
    return 0
