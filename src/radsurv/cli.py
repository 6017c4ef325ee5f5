"""Command line: ``radsurv run``, ``radsurv validate``, ``radsurv render``, ``radsurv prerender``.

Exit codes: 0 success, 1 a stage or the render failed, 2 bad input (profile, manifest
or images: nothing was run and ``build/`` is unchanged).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["build_parser", "main"]


def _cmd_run(args) -> int:
    from .exceptions import InputError
    from .pipeline.runner import print_report, run_pipeline

    # --scheduler: the profile's compute.scheduler for this run (where the loops run, not an
    # input of any stage: a finished stage stays up to date)
    overrides = {"compute.scheduler": args.scheduler} if args.scheduler is not None else None
    try:
        report = run_pipeline(args.params or args.profile, stages=args.stage or None, render=not args.no_render,
                              renderer=args.renderer, force=args.force, overrides=overrides, formats=args.format)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("nothing was run; build/ is unchanged", file=sys.stderr)
        return 2
    if report.paper is None and not args.no_render and not args.stage and report.exit_code == 0:
        from .pipeline.publish import last_render

        last = last_render(report.build_dir / "paper")
        if last:
            report.renderer, report.paper = last["renderer"] + " (up to date)", Path(last["output"])
            report.outputs = {k: Path(v) for k, v in (last.get("outputs") or {}).items()}
    print_report(report)
    return 0 if report.exit_code == 0 else 1


def _cmd_validate(args) -> int:
    """The checks ``run`` applies before any work: the profile, every manifest row, every
    image and mask, the split and the training events; then what stages 03-06 need of the
    cohort (:mod:`radsurv.preconditions`): a refusal exits 2, a degradation is a note."""
    from .cohort.manifest import ManifestSpec, load_cohort, read_manifest, check_manifest
    from .cohort.masks import load_devset
    from .config import load_profile, project_root
    from .exceptions import InputError, ManifestError
    from .preconditions import region_checks
    from .stages.context import resolve_n_jobs

    try:
        profile = load_profile(args.params or args.profile)
        spec = ManifestSpec.from_profile(profile)
        manifest = Path(args.manifest)
        raw = read_manifest(manifest)
        # every lesion against the extraction settings too (radsurv.preconditions.extractable_regions)
        report = check_manifest(raw, spec, base_dir=manifest.resolve().parent, check_images=True,
                                   n_jobs=resolve_n_jobs(profile["compute"]["n_jobs"]),
                                   region_checks=region_checks(profile, project_root()))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if report.notes:
        # Not problems: what the run will do to usable inputs, said before it does it.
        print(f"{len(report.notes)} mask(s) lie on another voxel grid over the same physical volume as their image "
              "and will be resampled onto the image grid (nearest neighbour):")
        for note in report.notes:
            print(f"  {note}")
    cohort = profile["cohort"]
    try:
        # The checks on the rows that pass (split, training events), as the run makes them.
        loaded = load_cohort(raw, spec, source=str(manifest), seed=int(profile["seed"]),
                             split_params=cohort["split"], on_invalid="exclude", report=report)
        # A user's development sets: the same image checks, and no test-set image.
        for m in ("us", "mri"):
            dev_path = profile["imaging"]["development"][m]["manifest"]
            if dev_path:
                dev, dropped = load_devset(dev_path, m, profile["imaging"], loaded.data,
                                                    manifest.resolve().parent, None, on_invalid=cohort["on_invalid"],
                                                    n_jobs=resolve_n_jobs(profile["compute"]["n_jobs"]))
                print(f"{dev_path}: {len(dev)} development images usable"
                      + (f", {len(dropped)} left out:" if len(dropped) else ""))
                for r in dropped.itertuples():
                    print(f"  row {r.row}, patient {r.patient_id!r}: {r.reason}")
    except InputError as exc:
        # The row problems first (they may be why too few rows are left), then this.
        if not report.ok:
            print(ManifestError(str(manifest), report.problems), file=sys.stderr)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not report.ok:
        print(ManifestError(str(manifest), report.problems), file=sys.stderr)
        if cohort["on_invalid"] != "exclude":
            print("the run would stop here (cohort.on_invalid: fail)", file=sys.stderr)
            return 2
        print(f"with cohort.on_invalid: exclude, the run drops these {len(report.bad_rows())} rows and lists them "
              "in the patient flow", file=sys.stderr)
    # What stages 03-06 need of the rows the run keeps (radsurv.preconditions): the same
    # functions the stages call, so a refusal here is the run's refusal.
    refused = _print_preconditions(loaded.data, profile, loaded.regions)
    if refused:
        print(f"the run would stop at {refused[0].stage}: change the profile key(s) above", file=sys.stderr)
        return 2
    if report.ok:
        print(f"{manifest}: {report.n_rows} patients, no problems found "
              f"(profile {profile['profile']}: columns, images and masks, split, training events, what stages "
              "03-06 need)")
    return 0


def _print_preconditions(data, profile, regions=()) -> list:
    """Print every precondition of stages 02-06 that the cohort ``data`` (the rows the run
    keeps, with their split; ``regions``: the lesions too small for the extraction settings)
    does not meet: refusals as errors (with the key and a value that works), degradations and
    notes as notes. Returns the refusals."""
    from .pipeline.runner import precondition_verdicts
    from .preconditions import refusals

    verdicts = precondition_verdicts(data, profile, regions)
    for v in verdicts:
        if v.refuses:
            print(f"error: {v}", file=sys.stderr)
            print(f"  profile key: {v.key}" + (f"; a value that works: {v.suggested}" if v.suggested is not None
                                                else "; no value works on this cohort"), file=sys.stderr)
        elif v.degrades:
            print(f"note: {v}; the paper will say so")
        else:
            print(f"note: {v}")
    return refusals(verdicts)


def _cmd_render(args) -> int:
    from .config import load_profile, project_root
    from .exceptions import InputError, ManuscriptError, RenderError
    from .pipeline import runner
    from .pipeline.publish import publish_and_render
    from .pipeline.runner import print_outputs

    try:
        root = project_root()
        profile = load_profile(args.params or args.profile)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    build_dir = root / "build" / profile["profile"]
    if not build_dir.is_dir():
        print(f"error: {build_dir} does not exist: run `radsurv run --profile {profile['profile']}` first", file=sys.stderr)
        return 2
    try:
        # the stages the runner builds (its registry) are the ones published
        res = publish_and_render(root, build_dir, profile["profile"], build_dir / "paper", renderer=args.renderer,
                                 stages=runner.STAGES, profile_config=profile, formats=args.format)
    except (ManuscriptError, RenderError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print_outputs(res.renderer, res.output, res.outputs)
    return 0


def _cmd_prerender(args) -> int:
    from .pipeline.prerender import prerender

    return prerender(args.params or args.profile)


DESCRIPTION = """\
Rebuild the radsurv study, from a cohort's images to the rendered manuscript.

Each stage is a notebook run by papermill; a stage re-runs only when its code, its
profile section or an upstream output changed. Profiles are YAML files in params/
(quick: minutes, paper: the full study) or a path given with --params."""

EPILOG = """\
examples:
  radsurv run --profile quick            the quick study and its paper (about 6 min)
  radsurv render --profile quick --format pdf
                                          the quick paper again, as a PDF only
  radsurv validate my_cohort.csv --params my_study.yml
                                          check a cohort with the run's own checks
  radsurv run --params my_study.yml --stage 03_signatures
                                          one stage and what it needs
  radsurv run --profile paper --scheduler tcp://scheduler:8786
                                          the heavy loops on a Dask cluster

exit status: 0 success, 1 a stage or the render failed, 2 bad input (profile, manifest
or images: nothing was run and build/ is unchanged)."""


def _formats(value: str) -> tuple[str, ...]:
    from .report.documents import parse_formats

    try:
        return parse_formats(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="radsurv", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"radsurv {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")

    def format_arg(sp):
        sp.add_argument("--format", type=_formats, default="html,docx,pdf", metavar="FORMATS",
                        help="without Quarto, the paper's formats: html, docx, pdf, comma-separated (default: all "
                             "three, and the submission bundle)")

    def profile_args(sp):
        sp.add_argument("--profile", default="paper", help="profile name in params/ (default: paper)")
        sp.add_argument("--params", help="path to a profile YAML (overrides --profile)")

    r = sub.add_parser("run", help="bring the build of a profile up to date and render the paper")
    profile_args(r)
    r.add_argument("--stage", action="append", help="run only this stage (and what it needs); repeatable")
    r.add_argument("--no-render", action="store_true", help="do not render the manuscript")
    r.add_argument("--renderer", choices=["auto", "quarto", "preview"], default="auto")
    format_arg(r)
    r.add_argument("--force", action="store_true", help="re-run the selected stages even if up to date")
    r.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the heavy loops (01's inference, 02's extraction, 05's bootstrap, 06's loops) on "
                        "this Dask scheduler, tcp://host:8786 (sets the profile's compute.scheduler; re-runs "
                        "nothing)")
    r.set_defaults(func=_cmd_run)

    v = sub.add_parser("validate", help="check a profile and its manifest with the run's checks (touches nothing)")
    v.add_argument("manifest", help="the cohort's manifest CSV (data/README.md: its columns)")
    profile_args(v)
    v.set_defaults(func=_cmd_validate)

    d = sub.add_parser("render", help="publish a profile's artefacts and render the manuscript")
    profile_args(d)
    d.add_argument("--renderer", choices=["auto", "quarto", "preview"], default="auto")
    format_arg(d)
    d.set_defaults(func=_cmd_render)

    q = sub.add_parser("prerender", help="Quarto's pre-render step: run what is stale and publish (no render)")
    q.add_argument("--profile", default=None, help="profile name (default: $RADSURV_PROFILE, else paper)")
    q.add_argument("--params", help="path to a profile YAML (overrides --profile)")
    q.set_defaults(func=_cmd_prerender)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
