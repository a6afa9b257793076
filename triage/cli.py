"""``hcp triage`` commands: check-rules, eval, suggest, train, cv.

The gateway mounts :data:`triage_group`; it can pass
``obj={"load_corrections": callable}`` so ``suggest`` reads its database.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

import click

from .evaluate import DataError, evaluate_records, format_error, format_report, read_jsonl
from .result import REASONS
from .rules import RulesError, load_rules
from .suggest import Correction, format_suggestions, suggest_terms


def _fail(msg: str, code: int = 1) -> None:
    click.echo(msg, err=True)
    sys.exit(code)


@click.group("triage")
def triage_group() -> None:
    """Keyword triage: check rules, evaluate on labelled data, suggest terms."""


@triage_group.command("check-rules")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def check_rules(file: Path) -> None:
    """Validate a rules FILE (TOML); exit 1 with one message per problem."""
    try:
        rules = load_rules(file)
    except RulesError as exc:
        for msg in exc.errors:
            click.echo(msg, err=True)
        click.echo(f"{len(exc.errors)} problem(s) found; rules NOT valid.", err=True)
        sys.exit(1)
    combos = sum(len(r.combos) for r in rules.reasons.values())
    learned = ""
    if rules.learned is not None:
        from .linear import LinearModel, ModelError

        try:
            model = LinearModel.load(rules.learned.model_path)
        except ModelError as exc:
            click.echo(str(exc), err=True)
            click.echo("1 problem(s) found; rules NOT valid.", err=True)
            sys.exit(1)
        state = "on" if rules.learned.enabled else "off"
        learned = (f", learned model {state} ({model.n_items} items, {len(model.vocab)} features, "
                   f"review below {rules.learned.review_below:g})")
    click.echo(
        f"OK: {file}: {len(rules.reasons)} reasons, {rules.term_count} terms and patterns, "
        f"{combos} combos, {len(rules.negation_cues)} negation cues, "
        f"review threshold {rules.review_threshold:g}, precedence {' > '.join(rules.precedence)}{learned}"
    )


def _triager(rules_path: Path | None, check_model: bool = True) -> Any:
    from .engine import Triager

    try:
        return Triager(load_rules(rules_path, check_model=check_model))
    except RulesError as exc:
        _fail("\n".join(exc.errors) + "\nrules NOT valid.")


@triage_group.command("eval")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--errors", is_flag=True, help="List misclassified items with the deciding terms.")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Rules file (default: the packaged rules).")
def eval_cmd(file: Path, as_json: bool, errors: bool, rules_path: Path | None) -> None:
    """Evaluate the triage on a labelled FILE.jsonl (the rubric's data format)."""
    try:
        records = read_jsonl(file)
    except DataError as exc:
        _fail(str(exc))
    if not records:
        _fail(f"{file}: no items")
    triager = _triager(rules_path)
    metrics, pairs = evaluate_records(triager, records)
    wrong = [(r, res) for r, res in pairs if r["label"] != res.label]
    if as_json:
        out = dict(metrics)
        if errors:
            out["errors"] = [
                {"id": r.get("id"), "line": r["_line"], "gold": r["label"], "gold_reason": r.get("reason"),
                 "predicted": res.label, "reason": res.reason, "confidence": round(res.confidence, 4),
                 "needs_review": res.needs_review,
                 "terms": [t.to_dict() for t in res.terms]}
                for r, res in wrong
            ]
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    click.echo(format_report(metrics))
    if errors:
        click.echo(f"\nmisclassified: {len(wrong)}")
        for r, res in wrong:
            click.echo(format_error(r, res))


def _read_corrections(path: Path) -> list[Correction]:
    out = []
    for obj in read_jsonl(path, required=()):
        try:
            out.append(Correction.from_mapping(obj))
        except ValueError as exc:
            raise DataError(f"{path}:{obj['_line']}: {exc}") from exc
    return out


@triage_group.command("suggest")
@click.option("--corrections", "corrections_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Corrections JSONL (when not run inside the gateway).")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print suggestions as JSON.")
@click.option("--min-support", default=2, show_default=True, type=click.IntRange(1, None),
              help="Corrected items a term must appear in.")
@click.option("--top", "top_k", default=10, show_default=True, type=click.IntRange(1, None),
              help="Suggestions per reason.")
def suggest_cmd(corrections_path: Path | None, rules_path: Path | None, as_json: bool,
                min_support: int, top_k: int) -> None:
    """Propose rule terms per reason from the triage team's corrections (changes nothing)."""
    ctx = click.get_current_context()
    loader = ctx.obj.get("load_corrections") if isinstance(ctx.obj, dict) else None
    try:
        if corrections_path is not None:
            corrections = _read_corrections(corrections_path)
        elif callable(loader):
            corrections = [c if isinstance(c, Correction) else Correction.from_mapping(c) for c in loader()]
        else:
            _fail("no corrections: pass --corrections FILE.jsonl", 2)
    except (DataError, ValueError) as exc:
        _fail(str(exc))
    try:
        rules = load_rules(rules_path)
    except RulesError as exc:
        _fail("\n".join(exc.errors) + "\nrules NOT valid.")
    sugs = suggest_terms(corrections, rules, min_support=min_support, top_k=top_k)
    if as_json:
        click.echo(json.dumps({"corrections": len(corrections), "suggestions": [s.to_dict() for s in sugs]},
                              ensure_ascii=False))
    else:
        click.echo(f"# {len(corrections)} corrections read")
        click.echo(format_suggestions(sugs))


def _corrections_as_rows(corrections: list[Correction]) -> list[dict[str, Any]]:
    """One training row per corrected case: its latest correction (a case corrected twice counts once)."""
    latest: dict[str, Correction] = {}
    for i, c in enumerate(corrections):
        latest[c.case_code or f"#{i}"] = c
    return [{"text": c.text, "label": c.new_label, "reason": c.new_reason, "id": c.case_code or None,
             "_correction": True} for c in latest.values()]


def _weigh_corrections(rows: list[dict[str, Any]], weight: float) -> None:
    for r in rows:
        if r.get("_correction"):
            r["_weight"] = weight


def _load_training(data: tuple[Path, ...], corrections_path: Path | None, use_db: bool,
                   base: bool = False) -> tuple[list[dict[str, Any]], list[str], int]:
    """Labelled rows from the packaged training set (``base``), data files and corrections (a
    file, or the gateway's database)."""
    from .train import BASE_DATA

    rows: list[dict[str, Any]] = []
    sources: list[str] = []
    for p in ((BASE_DATA,) if base else ()) + tuple(data):
        recs = read_jsonl(p)
        rows += recs
        sources.append(f"{p.name}: {len(recs)} items")
    ctx = click.get_current_context()
    loader = ctx.obj.get("load_corrections") if isinstance(ctx.obj, dict) else None
    corrections: list[Correction] = []
    if corrections_path is not None:
        corrections = _read_corrections(corrections_path)
        sources.append(f"{corrections_path.name}: {len(corrections)} corrections")
    elif use_db and callable(loader):
        corrections = [c if isinstance(c, Correction) else Correction.from_mapping(c) for c in loader()]
        sources.append(f"triage corrections in the database: {len(corrections)}")
    rows += _corrections_as_rows(corrections)
    return rows, sources, len(corrections)


def _usable(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Rows with a reason of their label (the model is over reasons), and how many were skipped."""
    ok = [r for r in rows if r.get("reason") in REASONS and REASONS[r["reason"]] == r.get("label")]
    return ok, len(rows) - len(ok)


def _figures(m: dict[str, Any]) -> dict[str, Any]:
    return {key: (round(m[key], 4) if isinstance(m[key], float) else m[key])
            for key in ("n", "macro_f1", "macro_f1_mean", "macro_f1_sd", "accuracy", "reason_accuracy",
                        "auto_precision", "review_share", "k")}


@triage_group.command("train")
@click.option("--data", "data", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="More labelled FILE.jsonl in the rubric's format (repeatable).")
@click.option("--no-base", is_flag=True, help="Leave out the packaged training set (triage/data/train_base.jsonl).")
@click.option("--corrections", "corrections_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Corrections JSONL (inside the gateway they are read from its database).")
@click.option("--no-corrections", is_flag=True, help="Do not read the gateway's corrections.")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Rules file (default: the packaged rules); its [learned] model is the default output.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Model file to write (default: the model named in the rules file's [learned]).")
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(2, 20), help="Folds for the CV figures.")
@click.option("--force", is_flag=True, help="Write the model even if its CV macro-F1 is below the model in use.")
@click.option("--json", "as_json", is_flag=True)
def train_cmd(data: tuple[Path, ...], no_base: bool, corrections_path: Path | None, no_corrections: bool,
              rules_path: Path | None, output: Path | None, k: int, force: bool, as_json: bool) -> None:
    """Retrain the learned model on everything labelled so far; adopt it only if its CV does not drop.

    Trains on the packaged training set, --data files and the triage team's corrections,
    scores the whole pipeline by k-fold cross-validation on all of it, and replaces the
    model in use only when that macro-F1 is not below the one recorded for it (exit 3
    otherwise).  A running gateway picks the new file up by itself."""
    from .linear import LinearModel, ModelError
    from .train import Settings, analyse, cross_validated, train

    try:
        rows, sources, n_corr = _load_training(data, corrections_path, not no_corrections, base=not no_base)
    except (DataError, ValueError) as exc:
        _fail(str(exc))
    rows, skipped = _usable(rows)
    if len(rows) < k:
        _fail(f"nothing to train on: {len(rows)} labelled items with a reason (need at least k={k}); "
              "pass --data FILE.jsonl and/or --corrections FILE.jsonl", 2)
    try:
        rules = load_rules(rules_path, check_model=False)
    except RulesError as exc:
        _fail("\n".join(exc.errors) + "\nrules NOT valid.")
    if output is None:
        if rules.learned is None:
            _fail("the rules file has no [learned] section: pass -o FILE.npz", 2)
        output = rules.learned.model_path
    review_below = rules.learned.review_below if rules.learned is not None else 0.8
    current = None
    if output.exists():
        try:
            current = LinearModel.load(output)
        except ModelError:
            current = None  # a broken or old model is replaced
    settings = Settings(**(current.meta.get("settings") or {})) if current is not None else Settings()
    from dataclasses import replace

    from .engine import Triager

    _weigh_corrections(rows, settings.correction_weight)
    triager = Triager(replace(rules, learned=None))
    items = analyse(triager, rows)
    oof: list[Any] = []
    cv = cross_validated(items, settings, k=k, review_below=review_below, text_only=False, oof_out=oof)["triage"]
    model = train(items, settings, oof=oof)
    model.meta.update({"sources": sources, "corrections": n_corr, "cv": _figures(cv)})
    old = (current.meta.get("cv") or {}).get("macro_f1") if current is not None else None
    adopted = force or old is None or cv["macro_f1"] >= old
    report = {"output": str(output), "items": len(items), "skipped": skipped, "corrections": n_corr,
              "sources": sources, "cv": _figures(cv), "previous_cv_macro_f1": old, "adopted": adopted}
    if adopted:
        model.save(output)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        click.echo(f"{len(items)} items ({'; '.join(sources)})"
                   + (f"; {skipped} rows without a reason of their label skipped" if skipped else ""))
        auto = "n/a" if cv["auto_precision"] is None else f"{cv['auto_precision']:.3f}"
        click.echo(f"{k}-fold CV of the whole pipeline: macro-F1 {cv['macro_f1']:.3f}, accuracy {cv['accuracy']:.3f}, "
                   f"auto precision {auto}, review {cv['review_share']:.3f}")
        if adopted:
            click.echo(f"wrote {output}" + (f" (model in use had CV macro-F1 {old:.3f})" if old is not None else ""))
        else:
            click.echo(f"NOT adopted: CV macro-F1 {cv['macro_f1']:.3f} is below {old:.3f} of the model in use "
                       f"({output} unchanged; --force writes it anyway)")
    if not adopted:
        sys.exit(3)


@triage_group.command("cv")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--corrections", "corrections_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--no-corrections", is_flag=True, help="Do not read the gateway's corrections.")
@click.option("--rules", "rules_path", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("-k", "k", default=5, show_default=True, type=click.IntRange(2, 50))
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--json", "as_json", is_flag=True)
def cv_cmd(files: tuple[Path, ...], corrections_path: Path | None, no_corrections: bool, rules_path: Path | None,
           k: int, seed: int, as_json: bool) -> None:
    """k-fold cross-validated figures: rules alone, the model without rule features, the whole triage.

    Each fold's model is trained on the other folds only, so no figure comes from items
    the model was trained on; ``triage`` is the pipeline as it runs (rules, model,
    calibrated confidence, review).  The rules themselves do not learn, but if they were
    written while reading these files their figures (and the triage's) are optimistic."""
    from dataclasses import replace

    from .engine import Triager
    from .linear import LinearModel, ModelError
    from .train import Settings, analyse, cross_validated

    try:
        rows, sources, _n = _load_training(files, corrections_path, not no_corrections)
    except (DataError, ValueError) as exc:
        _fail(str(exc))
    rows, _skipped = _usable(rows)
    if len(rows) < k:
        _fail(f"only {len(rows)} labelled items with a reason; need at least k={k}")
    try:
        rules = load_rules(rules_path, check_model=False)
    except RulesError as exc:
        _fail("\n".join(exc.errors) + "\nrules NOT valid.")
    settings = Settings()
    if rules.learned is not None and rules.learned.model_path.exists():
        with contextlib.suppress(ModelError, TypeError):  # a broken model: the default settings
            settings = Settings(**(LinearModel.load(rules.learned.model_path).meta.get("settings") or {}))
    review_below = rules.learned.review_below if rules.learned is not None else 0.8
    _weigh_corrections(rows, settings.correction_weight)
    items = analyse(Triager(replace(rules, learned=None)), rows)
    results = cross_validated(items, settings, k=k, seed=seed, review_below=review_below)
    if as_json:
        click.echo(json.dumps({"items": len(rows), "sources": sources, "k": k, "seed": seed, "results": results},
                              ensure_ascii=False))
        return
    click.echo(f"{len(rows)} items ({'; '.join(sources)}), {k}-fold, seed {seed}")
    click.echo(f"{'':<10}{'macro-F1':>9}{'folds mean±sd':>17}{'accuracy':>10}{'reason':>8}{'auto prec':>11}"
               f"{'review':>8}")
    for name, m in results.items():
        auto = "n/a" if m["auto_precision"] is None else f"{m['auto_precision']:.3f}"
        click.echo(f"{name:<10}{m['macro_f1']:>9.3f}{m['macro_f1_mean']:>11.3f}±{m['macro_f1_sd']:.3f}"
                   f"{m['accuracy']:>10.3f}{m['reason_accuracy']:>8.3f}{auto:>11}{m['review_share']:>8.3f}")


def main() -> None:  # pragma: no cover - convenience: python -m triage.cli
    triage_group()


if __name__ == "__main__":  # pragma: no cover
    main()
