"""``hcp triage`` commands: check-rules, eval, suggest.

The gateway mounts :data:`triage_group`; it can pass
``obj={"load_corrections": callable}`` so ``suggest`` reads its database.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .evaluate import DataError, evaluate_records, format_error, format_report, read_jsonl
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
    click.echo(
        f"OK: {file}: {len(rules.reasons)} reasons, {rules.term_count} terms and patterns, "
        f"{combos} combos, {len(rules.negation_cues)} negation cues, "
        f"review threshold {rules.review_threshold:g}, precedence {' > '.join(rules.precedence)}"
    )


def _triager(rules_path: Path | None) -> Any:
    from .engine import Triager

    try:
        return Triager.from_rules_file(rules_path)
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


def main() -> None:  # pragma: no cover - convenience: python -m triage.cli
    triage_group()


if __name__ == "__main__":  # pragma: no cover
    main()
