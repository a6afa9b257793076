"""``hcp paper`` (scan intake from the command line) and ``hcp slips`` (printing slips and posters)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from channels.paper.codes import QR_SIZE_MM
from channels.paper.documents import DocumentError, Limits
from gateway.core.cli import print_json, progress_bar, with_services
from gateway.core.services import Services
from gateway.paper.batches import FileOutcome, batch_files, enqueue, process_batch
from gateway.paper.slips import SlipError, list_runs, print_posters, print_slips

CLI_USER = "cli"


@click.group(name="paper")
def paper_group() -> None:
    """Scanned suggestion slips: intake from files (the same as the mailroom upload)."""


def _rows(outcome: FileOutcome) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for page in outcome.pages:
        if not page.slips:
            rows.append({"file": outcome.name, "page": page.page_no, "status": page.status,
                         "needs_manual_id": page.status in ("needs_id", "unreadable"), "error": page.error,
                         "foreign_codes": page.foreign_codes})
        for slip in page.slips:
            rows.append({
                "file": outcome.name, "page": page.page_no, "serial": slip.serial, "hall": slip.hall,
                "window": slip.window, "signature_ok": slip.signature_ok, "issued": slip.issued,
                "rating": slip.rating, "rating_confidence": slip.rating_confidence, "reasons": slip.reasons,
                "duplicate": slip.duplicate, "duplicate_of": slip.duplicate_of, "draft": slip.draft_id,
                "status": slip.status, "text": slip.text, "text_confidence": slip.text_confidence,
                "blank": slip.blank, "letter": slip.origin == "letter"})
    return rows


def _too_large(name: str, size: int, limits: Limits) -> DocumentError:
    return DocumentError("too_large", f"{name}: {size} bytes exceed the limit of {limits.max_bytes} bytes",
                         f"{name}：文件过大（{size / 1048576:.1f} MB），单个文件不能超过 "
                         f"{limits.max_bytes / 1048576:.0f} MB，请分批扫描")


@paper_group.command("scan")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--hall", "hall_hint", default=None, help="Hall whose suggestion box the batch came from (optional).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per slip or unreadable page.")
def scan(files: tuple[Path, ...], hall_hint: str | None, as_json: bool) -> None:
    """Read scanned slips (PDF, TIFF, JPEG, PNG) into the mailroom queue.

    Prints, per slip found, its file and page, serial, hall, window, signature check, the ticked
    rating with its confidence, the handwriting read by OCR (``text``, '' when none, and
    ``text_confidence``; blank slips are marked), and the draft it made or that it is a duplicate.
    A page that is a letter becomes a draft waiting for its hall; other pages without a readable
    code are listed as needing a manual id.  A progress bar runs on a terminal (not when piped).
    A bad file is reported and skipped; the exit status is 1 when any file was refused."""

    @with_services
    async def run(services: Services) -> list[FileOutcome]:
        refused = []
        readable: list[tuple[str, bytes]] = []
        limits = Limits(max_bytes=services.settings.max_blob_bytes)
        for path in files:
            try:
                size = path.stat().st_size
                if size > limits.max_bytes:  # refuse before reading a huge file into memory
                    error = _too_large(path.name, size, limits)
                    refused.append(FileOutcome(path.name, "", "rejected", error=error.user_message,
                                               error_kind=error.kind, http_status=error.http_status))
                    continue
                readable.append((path.name, path.read_bytes()))
            except OSError as exc:
                refused.append(FileOutcome(path.name, "", "rejected", error=f"{path}: {exc.strerror}",
                                           error_kind="io", http_status=400))
        # The same queue as the mailroom upload, but this process reads the batch itself, at once.
        batch = await enqueue(services, readable, by=CLI_USER, hall_hint=hall_hint, limits=limits, claim=True)
        if batch.batch_id is None:
            return refused + batch.files
        total = sum(f.pages_total or 0 for f in batch.files if f.status == "queued")
        with progress_bar(total=total, desc="页") as bar:
            await process_batch(services, batch.batch_id, on_page=lambda _: bar.update(1))
        done = {o.sha256: o for o in await batch_files(services, batch.batch_id)}
        return refused + [done.get(o.sha256, o) if o.status == "queued" else o for o in batch.files]

    outcomes = run()
    rows = [row for outcome in outcomes for row in _rows(outcome)]
    refused = [o for o in outcomes if o.status == "rejected"]
    if as_json:
        print_json({"slips": [r for r in rows if "serial" in r], "pages_without_code": [r for r in rows
                                                                                        if "serial" not in r],
                    "files": [{"file": o.name, "status": o.status, "error": o.error, "error_kind": o.error_kind,
                               "pages": len(o.pages)} for o in outcomes]})
    else:
        for row in rows:
            where = f"{row['file']} p{row['page']}"
            if "serial" not in row:
                click.echo(f"{where}: no readable slip code — needs a manual id"
                           + (f" ({row['error']})" if row.get("error") else ""))
                continue
            confidence = row["rating_confidence"]
            rating = f"{row['rating'] or '-'} ({confidence:.2f})" if confidence is not None else "-"
            state = f"duplicate of {row['duplicate_of']}" if row["duplicate"] else f"draft {row['draft']}"
            if row["letter"]:
                click.echo(f"{where}: letter ({len(row['text'])} characters read), {state}; waits for its hall")
                continue
            signature = "ok" if row["signature_ok"] else "BAD SIGNATURE"
            text = "BLANK" if row["blank"] else (f"text {len(row['text'])} chars ({row['text_confidence']:.2f})"
                                                 if row["text"] else "no text read")
            click.echo(f"{where}: serial {row['serial']} {row['hall'] or '?'}/{row['window'] or '-'} "
                       f"signature {signature}, rating {rating}, {text}, {state}")
        for outcome in outcomes:
            if outcome.status == "repeat":
                click.echo(f"{outcome.name}: already uploaded (scan {outcome.scan_id}); nothing new")
    for outcome in refused:
        click.echo(f"{outcome.name}: refused: {outcome.error}", err=True)
    if refused:
        sys.exit(1)


@click.group(name="slips")
def slips_group() -> None:
    """Print suggestion slips (A5/A6, signed QR codes) and window QR posters."""


@slips_group.command("print")
@click.option("--hall", required=True, help="Hall code (see `hcp halls list`).")
@click.option("--window", default=None, help="Window code; without it the slip names the hall only.")
@click.option("--count", type=click.IntRange(1, 10_000), required=True, help="Number of slips.")
@click.option("--size", type=click.Choice(["a5", "a6"]), default="a5", show_default=True)
@click.option("--sheet", type=click.Choice(["a4"]), default=None,
              help="Impose several slips on A4 sheets with cut marks (2 × A5 or 4 × A6).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True)
def slips_print(hall: str, window: str | None, count: int, size: str, sheet: str | None, output: Path) -> None:
    """Make printable slips with fresh serials (never reused across print runs)."""

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        try:
            return await print_slips(services.store, services.settings, hall, window, count, size, by=CLI_USER,
                                     sheet=sheet)
        except SlipError as exc:
            raise click.ClickException(str(exc)) from None

    printed, pdf = run()
    output.write_bytes(pdf)
    click.echo(f"{output}: {printed.count} {size.upper()} slips for {hall}{'/' + window if window else ''}, "
               f"serials {printed.first_serial:08d}–{printed.last_serial:08d} (run {printed.id}); "
               f"QR code printed at {QR_SIZE_MM / 10:.1f} cm")


@slips_group.command("posters")
@click.option("--hall", required=True, help="Hall code.")
@click.option("--window", default=None, help="Only this window (default: every active window of the hall).")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True)
def slips_posters(hall: str, window: str | None, output: Path) -> None:
    """A4 posters with each window's signed 找茬窗口 link as a QR code (uses HCP_PUBLIC_URL)."""

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        try:
            return await print_posters(services.store, services.settings, hall, window)
        except SlipError as exc:
            raise click.ClickException(str(exc)) from None

    count, pdf = run()
    output.write_bytes(pdf)
    click.echo(f"{output}: {count} poster(s) for {hall}")


@slips_group.command("runs")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def slips_runs(as_json: bool) -> None:
    """Print runs and their serial ranges, newest first."""

    @with_services
    async def run(services: Services):  # type: ignore[no-untyped-def]
        return await list_runs(services.store)

    runs = run()
    if as_json:
        print_json([{"id": r.id, "hall": r.hall, "window": r.window, "size": r.size, "first": r.first_serial,
                     "last": r.last_serial, "count": r.count, "created_at": r.created_at.isoformat(),
                     "by": r.created_by} for r in runs])
        return
    for r in runs:
        click.echo(f"{r.id:>5} {r.hall:<12} {r.window or '-':<4} {r.size} {r.first_serial:08d}–{r.last_serial:08d} "
                   f"({r.count}) {r.created_at:%Y-%m-%d} {r.created_by}")
