"""Loading and validating triage rules files (TOML).

A rules file is data that staff edit; see ``triage/data/rules.toml`` for the
annotated default.  :func:`load_rules` either returns a fully validated
:class:`Rules` or raises :class:`RulesError` listing every problem found, each
with the file name and line number.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .result import LABELS, REASONS

DEFAULT_RULES_PATH = Path(__file__).with_name("data") / "rules.toml"

#: Citizen-ticked second-level reason codes (weak evidence).
REASON_CODES = (
    "attitude", "competence", "efficiency", "guidance", "repeat_trips", "materials",
    "convenience", "environment", "platform", "coordination",
)
RATINGS = ("very_satisfied", "satisfied", "basic", "dissatisfied", "very_dissatisfied")
MAX_WEIGHT = 10.0


class RulesError(ValueError):
    """A rules file failed to load; ``errors`` holds one message per problem."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


@dataclass(frozen=True)
class Combo:
    """Evidence that needs an object and a fault in the same clause ("取号机" + "坏了")."""

    reason: str
    objects: frozenset[str]
    faults: frozenset[str]
    weight: float


@dataclass(frozen=True)
class LearnedSettings:
    """The learned stage (``[learned]``): a linear model over n-grams, words and the rules' scores
    (``triage.linear``) that makes the decision, with calibrated confidence."""

    model_path: Path
    enabled: bool = True
    #: Calibrated confidence below which an item goes to the triage team (about the share of
    #: auto-routed items that are right; chosen by cross-validation, see triage/README.md).
    review_below: float = 0.8
    #: How many of the model's n-grams and words are shown as the evidence behind a decision.
    top_terms: int = 5


@dataclass(frozen=True)
class ReasonRules:
    name: str
    label: str
    terms: dict[str, float]
    patterns: dict[str, float]
    combos: tuple[Combo, ...]


@dataclass(frozen=True)
class Rules:
    source: str
    digest: str
    review_threshold: float
    min_score: float
    precedence_ratio: float
    precedence: tuple[str, ...]
    negation_cues: frozenset[str]
    negation_scope: int
    post_negation_cues: frozenset[str]
    scope_breakers: frozenset[str]
    #: Breakers that also end an object + fault clause (contrast: 但是, 不过…); None = all breakers.
    clause_breakers: frozenset[str] | None
    hypothetical_cues: frozenset[str]
    hypothetical_ends: frozenset[str]
    intensifiers: dict[str, float]
    reasons: dict[str, ReasonRules]
    reason_codes: dict[str, tuple[str, float]]
    ratings: dict[str, tuple[str, float]]
    userdict: tuple[str, ...] = ()
    learned: LearnedSettings | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def term_count(self) -> int:
        return sum(len(r.terms) + len(r.patterns) for r in self.reasons.values())

    def all_words(self) -> set[str]:
        """Every word the segmenter must keep whole."""
        words: set[str] = set(self.userdict)
        words |= self.negation_cues | self.post_negation_cues | self.hypothetical_cues
        words |= self.hypothetical_ends | set(self.intensifiers) | self.scope_breakers
        for r in self.reasons.values():
            words |= set(r.terms)
            for c in r.combos:
                words |= c.objects | c.faults
        return {w for w in words if len(w) > 1 and not any(ch.isspace() for ch in w)}


class _Lines:
    """Maps (section, quoted string) to line numbers in the raw TOML text."""

    _header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")

    _key = re.compile(r"""^\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""")

    def __init__(self, raw: str):
        self.entries: list[tuple[int, str, str]] = []
        #: key at the start of a line -> [(line number, section)]: rules files have thousands of terms
        self.keys: dict[str, list[tuple[int, str]]] = {}
        section = ""
        for no, line in enumerate(raw.splitlines(), 1):
            m = self._header.match(line)
            if m:
                section = m.group(1).replace('"', "").replace("'", "").replace(" ", "")
            self.entries.append((no, section, line))
            k = self._key.match(line)
            if k:
                self.keys.setdefault(next(g for g in k.groups() if g is not None), []).append((no, section))

    def find(self, needle: str, section: str | None = None, key: bool = False) -> int | None:
        if key:
            for no, sec in self.keys.get(needle, ()):
                if section is None or sec == section or sec.startswith(section + "."):
                    return no
            return None
        quoted = (f'"{needle}"', f"'{needle}'")
        for no, sec, line in self.entries:
            if section is not None and sec != section and not sec.startswith(section + "."):
                continue
            code = line.split("#", 1)[0] if "#" in line and '"#' not in line else line
            if key:
                stripped = code.lstrip()
                if stripped.startswith(quoted) or stripped.startswith(needle + " ") \
                        or stripped.startswith(needle + "="):
                    return no
            elif any(q in code for q in quoted):
                return no
        return None

    def find_all(self, needle: str, section: str | None = None) -> list[int]:
        quoted = (f'"{needle}"', f"'{needle}'")
        out = []
        for no, sec, line in self.entries:
            if section is not None and sec != section and not sec.startswith(section + "."):
                continue
            if any(q in line for q in quoted):
                out.append(no)
        return out


class _Checker:
    def __init__(self, path: str, raw: str):
        self.path = path
        self.lines = _Lines(raw)
        self.errors: list[str] = []

    def err(self, msg: str, line: int | None) -> None:
        where = f"{self.path}:{line}" if line else self.path
        self.errors.append(f"{where}: {msg}")

    def weight(self, value: Any, what: str, line: int | None) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.err(f"bad weight for {what}: {value!r} is not a number", line)
            return None
        w = float(value)
        if not math.isfinite(w) or w <= 0 or w > MAX_WEIGHT:
            self.err(f"bad weight for {what}: {value!r} (must be > 0 and <= {MAX_WEIGHT:g})", line)
            return None
        return w

    def str_list(self, value: Any, what: str, section: str, line: int | None) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.err(f"{what} must be a list of strings", line)
            return []
        seen: set[str] = set()
        out = []
        for v in value:
            if not v.strip():
                self.err(f"empty string in {what}", line)
                continue
            if v in seen:
                lines = self.lines.find_all(v, section)
                self.err(f"duplicate entry {v!r} in {what}", lines[-1] if lines else line)
                continue
            seen.add(v)
            out.append(v)
        return out


def _digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:12]


def load_rules(path: str | os.PathLike[str] | None = None, *, check_model: bool = True) -> Rules:
    """Load and validate a rules file; ``None`` loads the packaged default.

    ``check_model=False`` accepts a ``[learned]`` model file that does not exist
    yet (``hcp triage train`` needs the rules' words before it writes the model)."""
    p = Path(path) if path is not None else DEFAULT_RULES_PATH
    name = str(p)
    try:
        raw_bytes = p.read_bytes()
    except OSError as exc:
        raise RulesError([f"{name}: cannot read rules file: {exc.strerror or exc}"]) from exc
    try:
        raw = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RulesError([f"{name}: rules file is not UTF-8 ({exc.reason} at byte {exc.start})"]) from exc
    return parse_rules(raw, name, base_dir=p.parent, digest=_digest(raw_bytes), check_model=check_model)


_BACKREF = re.compile(r"\\[1-9]|\(\?P=")
_LINE_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def parse_rules(raw: str, name: str = "<rules>", base_dir: Path | None = None,
                digest: str | None = None, *, check_model: bool = True) -> Rules:
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = _LINE_RE.search(msg)
        line = m.group(1) if m else "?"
        raise RulesError([f"{name}:{line}: syntax error: {_LINE_RE.sub('', msg).strip()}"]) from exc

    ck = _Checker(name, raw)
    known_top = {"settings", "negation", "hypothetical", "intensifiers", "fault_sets", "reasons",
                 "reason_codes", "ratings", "dictionary", "learned"}
    for key in data:
        if key not in known_top:
            ck.err(f"unknown section [{key}]", ck.lines.find(key, None, key=True) or _section_line(ck, key))

    settings = _table(ck, data, "settings")
    threshold = settings.get("review_threshold", 0.6)
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        ck.err(f"review_threshold must be a number in [0, 1], got {threshold!r}",
               ck.lines.find("review_threshold", "settings", key=True))
        threshold = 0.6
    min_score = settings.get("min_score", 1.0)
    min_score = ck.weight(min_score, "min_score", ck.lines.find("min_score", "settings", key=True)) or 1.0
    ratio = settings.get("precedence_ratio", 0.5)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        ck.err(f"precedence_ratio must be a number in [0, 1], got {ratio!r}",
               ck.lines.find("precedence_ratio", "settings", key=True))
        ratio = 0.5
    prec_line = ck.lines.find("precedence", "settings", key=True)
    precedence = ck.str_list(settings.get("precedence", ["coordinated", "time_limited", "immediate"]),
                             "settings.precedence", "settings", prec_line)
    for lab in precedence:
        if lab not in LABELS or lab == "none":
            ck.err(f"unknown label {lab!r} in precedence (expected one of immediate, time_limited, "
                   "coordinated)", ck.lines.find(lab, "settings") or prec_line)
    if sorted(set(precedence) & set(LABELS)) != sorted(["coordinated", "time_limited", "immediate"]):
        ck.err("precedence must list coordinated, time_limited and immediate exactly once", prec_line)
    for key in settings:
        if key not in {"review_threshold", "min_score", "precedence", "precedence_ratio", "negation_scope", "userdict"}:
            ck.err(f"unknown setting {key!r}", ck.lines.find(key, "settings", key=True))

    neg = _table(ck, data, "negation")
    neg_cues = ck.str_list(neg.get("cues", []), "negation.cues", "negation",
                           ck.lines.find("cues", "negation", key=True))
    post_cues = ck.str_list(neg.get("post_cues", []), "negation.post_cues", "negation",
                            ck.lines.find("post_cues", "negation", key=True))
    breakers = ck.str_list(neg.get("breakers", []), "negation.breakers", "negation",
                           ck.lines.find("breakers", "negation", key=True))
    clause_breakers: list[str] | None = None
    if "clause_breakers" in neg:
        cb_line = ck.lines.find("clause_breakers", "negation", key=True)
        clause_breakers = ck.str_list(neg["clause_breakers"], "negation.clause_breakers", "negation", cb_line)
        for w in clause_breakers:
            if w not in breakers:
                ck.err(f"clause breaker {w!r} is not listed in negation.breakers", cb_line)
    scope = settings.get("negation_scope", neg.get("scope", 3))
    if isinstance(scope, bool) or not isinstance(scope, int) or not 1 <= scope <= 10:
        ck.err(f"negation scope must be an integer from 1 to 10, got {scope!r}",
               ck.lines.find("scope", "negation", key=True)
               or ck.lines.find("negation_scope", "settings", key=True))
        scope = 3

    hyp = _table(ck, data, "hypothetical")
    hyp_cues = ck.str_list(hyp.get("cues", []), "hypothetical.cues", "hypothetical",
                           ck.lines.find("cues", "hypothetical", key=True))
    hyp_ends = ck.str_list(hyp.get("ends", []), "hypothetical.ends", "hypothetical",
                           ck.lines.find("ends", "hypothetical", key=True))

    intensifiers: dict[str, float] = {}
    for term, w in _table(ck, data, "intensifiers").items():
        line = ck.lines.find(term, "intensifiers", key=True)
        wv = ck.weight(w, f"intensifier {term!r}", line)
        if wv is not None:
            intensifiers[term] = wv

    fault_sets: dict[str, list[str]] = {}
    for set_name, words in _table(ck, data, "fault_sets").items():
        fault_sets[set_name] = ck.str_list(words, f"fault_sets.{set_name}", "fault_sets",
                                           ck.lines.find(set_name, "fault_sets", key=True))

    reasons: dict[str, ReasonRules] = {}
    term_owner: dict[str, str] = {}
    for rname, body in _table(ck, data, "reasons").items():
        sec = f"reasons.{rname}"
        rline = _section_line(ck, sec)
        if rname not in REASONS:
            ck.err(f"unknown reason {rname!r} (expected one of {', '.join(REASONS)})", rline)
            continue
        if not isinstance(body, dict):
            ck.err(f"[{sec}] must be a table", rline)
            continue
        label = body.get("label")
        lline = ck.lines.find("label", sec, key=True) or rline
        if label not in LABELS:
            ck.err(f"unknown label {label!r} for reason {rname!r} (expected one of {', '.join(LABELS)})",
                   lline)
            continue
        if REASONS[rname] != label:
            ck.err(f"reason {rname!r} belongs to label {REASONS[rname]!r}, not {label!r}", lline)
            continue
        for key in body:
            if key not in {"label", "terms", "patterns", "combos", "description"}:
                ck.err(f"unknown key {key!r} in [{sec}]", ck.lines.find(key, sec, key=True) or rline)
        terms: dict[str, float] = {}
        raw_terms = body.get("terms", {})
        if not isinstance(raw_terms, dict):
            ck.err(f"{sec}.terms must be a table of \"term\" = weight", rline)
            raw_terms = {}
        for term, w in raw_terms.items():
            line = ck.lines.find(term, sec + ".terms", key=True) or ck.lines.find(term, sec)
            if not term.strip() or any(ch.isspace() for ch in term):
                ck.err(f"term {term!r} in {sec} is empty or contains spaces (use patterns)", line)
                continue
            wv = ck.weight(w, f"term {term!r}", line)
            if wv is None:
                continue
            if term in term_owner:
                first = ck.lines.find(term, f"reasons.{term_owner[term]}.terms", key=True)
                ck.err(f"duplicate term {term!r}: already listed under reason {term_owner[term]!r}"
                       + (f" (line {first})" if first else ""), line)
                continue
            term_owner[term] = rname
            terms[term] = wv
        patterns: dict[str, float] = {}
        raw_pats = body.get("patterns", {})
        if not isinstance(raw_pats, dict):
            ck.err(f"{sec}.patterns must be a table of 'regex' = weight", rline)
            raw_pats = {}
        for pat, w in raw_pats.items():
            line = ck.lines.find(pat, sec + ".patterns", key=True) or ck.lines.find(pat, sec)
            try:
                rx = re.compile(pat)
            except re.error as exc:
                ck.err(f"bad pattern {pat!r} in {sec}: {exc}", line)
                continue
            if rx.groups and not _BACKREF.search(pat):
                # groups are only for back-references ("X说找Y，Y说找X"); anything else uses (?:...)
                ck.err(f"pattern {pat!r} in {sec} must not use capturing groups; use (?:...)", line)
                continue
            if rx.match(""):
                ck.err(f"pattern {pat!r} in {sec} matches the empty string", line)
                continue
            wv = ck.weight(w, f"pattern {pat!r}", line)
            if wv is not None:
                patterns[pat] = wv
        combos: list[Combo] = []
        raw_combos = body.get("combos", [])
        if not isinstance(raw_combos, list):
            ck.err(f"{sec}.combos must be an array of tables ([[{sec}.combos]])", rline)
            raw_combos = []
        for i, combo in enumerate(raw_combos):
            cline = _nth_section_line(ck, sec + ".combos", i) or rline
            if not isinstance(combo, dict):
                ck.err(f"{sec}.combos[{i}] must be a table", cline)
                continue
            objs = ck.str_list(combo.get("objects", []), f"{sec}.combos[{i}].objects", sec, cline)
            faults_raw = ck.str_list(combo.get("faults", []), f"{sec}.combos[{i}].faults", sec, cline)
            faults: set[str] = set()
            for f in faults_raw:
                if f.startswith("@"):
                    if f[1:] not in fault_sets:
                        ck.err(f"unknown fault set {f!r} in {sec}.combos[{i}]", ck.lines.find(f, sec) or cline)
                    else:
                        faults |= set(fault_sets[f[1:]])
                else:
                    faults.add(f)
            if not objs or not faults:
                ck.err(f"{sec}.combos[{i}] needs non-empty objects and faults", cline)
                continue
            wv = ck.weight(combo.get("weight", 1.0), f"{sec}.combos[{i}]", cline)
            if wv is not None:
                combos.append(Combo(rname, frozenset(objs), frozenset(faults), wv))
        reasons[rname] = ReasonRules(rname, label, terms, patterns, tuple(combos))

    reason_codes: dict[str, tuple[str, float]] = {}
    for code, spec in _table(ck, data, "reason_codes").items():
        line = ck.lines.find(code, "reason_codes", key=True)
        if code not in REASON_CODES:
            ck.err(f"unknown citizen reason code {code!r}", line)
            continue
        mapped = _mapping(ck, spec, f"reason_codes.{code}", line)
        if mapped:
            reason_codes[code] = mapped
    ratings: dict[str, tuple[str, float]] = {}
    for code, spec in _table(ck, data, "ratings").items():
        line = ck.lines.find(code, "ratings", key=True)
        if code not in RATINGS:
            ck.err(f"unknown rating {code!r}", line)
            continue
        mapped = _mapping(ck, spec, f"ratings.{code}", line)
        if mapped:
            ratings[code] = mapped

    userdict: list[str] = []
    dct = _table(ck, data, "dictionary")
    words = ck.str_list(dct.get("words", []), "dictionary.words", "dictionary",
                        ck.lines.find("words", "dictionary", key=True))
    userdict.extend(words)
    ud_file = dct.get("file", settings.get("userdict"))
    if ud_file is not None:
        line = ck.lines.find("file", "dictionary", key=True) or ck.lines.find("userdict", "settings", key=True)
        if not isinstance(ud_file, str):
            ck.err("dictionary.file must be a string path", line)
        else:
            ud_path = (base_dir or Path.cwd()) / ud_file
            try:
                for ln in ud_path.read_text(encoding="utf-8").splitlines():
                    ln = ln.split("#", 1)[0].strip()
                    if ln:
                        userdict.append(ln.split()[0])
            except OSError:
                ck.err(f"user dictionary {str(ud_path)!r} cannot be read", line)

    learned = _learned(ck, _table(ck, data, "learned"), base_dir, check_model)

    if ck.errors:
        raise RulesError(ck.errors)
    return Rules(
        source=name,
        digest=digest or _digest(raw.encode("utf-8")),
        review_threshold=float(threshold),
        min_score=float(min_score),
        precedence_ratio=float(ratio),
        precedence=tuple(precedence),
        negation_cues=frozenset(neg_cues),
        negation_scope=int(scope),
        post_negation_cues=frozenset(post_cues),
        scope_breakers=frozenset(breakers),
        clause_breakers=frozenset(clause_breakers) if clause_breakers is not None else None,
        hypothetical_cues=frozenset(hyp_cues),
        hypothetical_ends=frozenset(hyp_ends),
        intensifiers=intensifiers,
        reasons=reasons,
        reason_codes=reason_codes,
        ratings=ratings,
        userdict=tuple(dict.fromkeys(userdict)),
        learned=learned,
    )


_LEARNED_NUMBERS = {
    # key: (low, high, integer?)
    "review_below": (0.0, 1.0, False),
    "top_terms": (1, 20, True),
}


def _learned(ck: _Checker, sec: dict[str, Any], base_dir: Path | None,
             check_model: bool = True) -> LearnedSettings | None:
    """Validate ``[learned]``; the model file must exist (its contents are checked when loaded)."""
    if not sec:
        return None
    values: dict[str, Any] = {}
    for key, val in sec.items():
        line = ck.lines.find(key, "learned", key=True)
        if key == "enabled":
            if not isinstance(val, bool):
                ck.err(f"learned.enabled must be true or false, got {val!r}", line)
            values[key] = val
        elif key == "model":
            if not isinstance(val, str) or not val.strip():
                ck.err("learned.model must be the path of a model file (hcp triage train)", line)
                continue
            path = (base_dir or Path.cwd()) / val
            if check_model and not path.is_file():
                ck.err(f"learned.model: model file {str(path)!r} does not exist", line)
            values["model_path"] = path
        elif key in _LEARNED_NUMBERS:
            lo, hi, integer = _LEARNED_NUMBERS[key]
            ok = not isinstance(val, bool) and isinstance(val, int if integer else int | float)
            if not ok or not (lo <= val <= hi):
                kind = "an integer" if integer else "a number"
                ck.err(f"learned.{key} must be {kind} in [{lo:g}, {hi:g}], got {val!r}", line)
                continue
            values[key] = val
        else:
            ck.err(f"unknown key {key!r} in [learned]", line)
    if "model_path" not in values:
        if "model" not in sec:
            ck.err("[learned] needs model = \"FILE.json\"", _section_line(ck, "learned"))
        return None
    return LearnedSettings(**values)


def _table(ck: _Checker, data: dict[str, Any], key: str) -> dict[str, Any]:
    val = data.get(key, {})
    if not isinstance(val, dict):
        ck.err(f"[{key}] must be a table", _section_line(ck, key) or ck.lines.find(key, None, key=True))
        return {}
    return val


def _mapping(ck: _Checker, spec: Any, what: str, line: int | None) -> tuple[str, float] | None:
    if not (isinstance(spec, list) and len(spec) == 2 and isinstance(spec[0], str)):
        ck.err(f"{what} must be [\"reason\", weight]", line)
        return None
    if spec[0] not in REASONS:
        ck.err(f"unknown reason {spec[0]!r} in {what}", line)
        return None
    w = ck.weight(spec[1], what, line)
    return (spec[0], w) if w is not None else None


def _section_line(ck: _Checker, section: str) -> int | None:
    for no, sec, line in ck.lines.entries:
        if sec == section and line.lstrip().startswith("["):
            return no
    for no, sec, _line in ck.lines.entries:
        if sec.startswith(section):
            return no
    return None


def _nth_section_line(ck: _Checker, section: str, n: int) -> int | None:
    count = -1
    for no, sec, line in ck.lines.entries:
        if sec == section and line.lstrip().startswith("[["):
            count += 1
            if count == n:
                return no
    return None
