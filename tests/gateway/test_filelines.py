"""Line numbers of validation errors in administrators' TOML files (gateway.core.filelines)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.core.filelines import line_of

KEYS = ("code", "name", "kind", "town", "region_code")


@st.composite
def registry_file(draw: st.DrawFn) -> tuple[str, tuple[object, ...], int]:
    """A registry file of several halls, a path to one of its values, and the line that value is on."""
    lines: list[str] = ["# comment", ""]
    wanted: dict[tuple[object, ...], int] = {}
    for hall in range(draw(st.integers(1, 5))):
        lines += ["[[halls]]"]
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=1, unique=True))
        for key in keys:
            lines.append(f'{key} = "v{hall}"')
            wanted[("halls", hall, key)] = len(lines)
        windows = draw(st.integers(0, 3))
        if windows:
            lines.append("windows = [")
            for w in range(windows):
                lines.append(f'  {{ code = "w{w}", name = "窗口{w}" }},')
                wanted[("halls", hall, "windows", w, draw(st.sampled_from(("code", "name"))))] = len(lines)
            lines.append("]")
        lines.append("")
    lines += ["[[service_items]]", 'code = "SB001"']
    wanted[("service_items", 0, "code")] = len(lines)
    loc = draw(st.sampled_from(sorted(wanted, key=str)))
    return "\n".join(lines) + "\n", loc, wanted[loc]


@given(registry_file())
def test_every_value_is_found_on_its_own_line(case: tuple[str, tuple[object, ...], int]) -> None:
    text, loc, line = case
    assert line_of(text, loc) == line


def test_a_table_and_a_missing_entry() -> None:
    text = '[weights]\ngood_rate = 40\n\n[deductions]\ncap = "x"\n'
    assert line_of(text, ("deductions", "cap")) == 5
    assert line_of(text, ("weights",)) == 1
    assert line_of(text, ("halls", 2, "code")) is None
