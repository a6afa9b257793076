"""axe-core (from the npm registry, pinned in tests/a11y/package.json) run inside a Playwright page.

``scripts/system-deps.sh`` installs it with ``npm ci --prefix tests/a11y``; nothing is fetched at run
time.  The tests fail, not skip, when it is missing: CI must never pass by skipping.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def violations(page: Page) -> list[str]:
    """Every WCAG 2.0/2.1 A and AA violation on the page, one line per rule with the offending nodes."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci --prefix tests/a11y` (scripts/system-deps.sh does)")
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.add_script_tag(path=str(AXE))
    found = await page.evaluate("""async (tags) => {
        const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
        return result.violations.map(v => `${v.id} (${v.impact}): ${v.help} — ` +
            v.nodes.slice(0, 4).map(n => n.target.join(' ') + ' ' + n.failureSummary.replace(/\\s+/g, ' '))
                .join(' | '));
    }""", TAGS)
    return list(found)
