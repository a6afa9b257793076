"""Mine the triage team's corrections for candidate rule terms.

Nothing here changes a rules file: :func:`suggest_terms` returns proposals,
each with the items behind it, for a person to accept (or not) by editing the
rules file.

Scoring is TF-IDF in the spirit of ``jieba.analyse``: a candidate word (or a
pair of adjacent words) scores by how many corrected items of one target
reason contain it, times its inverse document frequency in jieba's general
IDF table, times how specific it is to that reason among all corrections.
Words the rules already know for that reason are skipped; words the rules
file assigns to another reason are flagged as conflicts.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .normalize import analysis_end, normalize
from .result import LABELS, REASONS
from .rules import Rules

_STOP = frozenset((
    "的", "了", "是", "我", "你", "他", "她", "它", "们", "在", "有", "就", "都", "也", "还", "又", "说",
    "要", "去", "来", "到", "和", "与", "这", "那", "个", "一", "不", "没", "吧", "吗", "呢", "啊", "呀",
    "哦", "嘛", "把", "被", "让", "给", "对", "从", "向", "等", "着", "过", "得", "地", "很", "太", "最",
    "更", "再", "才", "而", "但", "及", "或", "因为", "所以", "如果", "我们", "你们", "他们", "她们", "自己",
    "什么", "怎么", "这个", "那个", "一个", "没有", "不是", "就是", "可以", "已经", "现在", "今天", "昨天", "上周",
    "时候", "问题", "情况", "事情", "工作人员", "窗口", "便民服务中心", "为民服务大厅", "来电人",
    "反映", "办理", "表示",
    "要求", "希望", "领导", "您好", "你好", "谢谢", "一下", "一位", "群众", "市民", "村民", "先生", "女士",
))
_IDF_CACHE: dict[str, Any] = {}


@dataclass(frozen=True)
class Correction:
    """One label change made by the triage team (built by the gateway from its database)."""

    text: str
    old_label: str | None
    old_reason: str | None
    new_label: str
    new_reason: str | None
    case_code: str = ""

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> Correction:
        if not isinstance(d.get("text"), str):
            raise ValueError("field 'text' must be a string")
        new_label = d.get("new_label")
        if new_label not in LABELS:
            raise ValueError(f"unknown new_label {new_label!r}")
        for key in ("old_reason", "new_reason"):
            if d.get(key) is not None and d[key] not in REASONS:
                raise ValueError(f"unknown {key} {d[key]!r}")
        if d.get("old_label") is not None and d["old_label"] not in LABELS:
            raise ValueError(f"unknown old_label {d['old_label']!r}")
        return cls(
            text=d["text"],
            old_label=d.get("old_label"),
            old_reason=d.get("old_reason"),
            new_label=new_label,
            new_reason=d.get("new_reason"),
            case_code=str(d.get("case_code") or ""),
        )


@dataclass(frozen=True)
class Suggestion:
    reason: str
    label: str
    term: str
    score: float
    support: int
    case_codes: tuple[str, ...]
    texts: tuple[str, ...]
    conflicts_with: str | None = None
    items: tuple[dict[str, str], ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "label": self.label,
            "term": self.term,
            "score": round(self.score, 4),
            "support": self.support,
            "conflicts_with": self.conflicts_with,
            "items": [{"case_code": c, "text": t} for c, t in zip(self.case_codes, self.texts, strict=True)],
        }


def _idf() -> tuple[dict[str, float], float]:
    if "idf" not in _IDF_CACHE:
        try:
            import jieba.analyse  # deferred: loads jieba's IDF table (~0.3 s)

            tfidf = jieba.analyse.default_tfidf
            _IDF_CACHE["idf"] = (tfidf.idf_freq, tfidf.median_idf)
        except Exception:  # pragma: no cover - jieba is a declared dependency
            _IDF_CACHE["idf"] = ({}, 10.0)
    return _IDF_CACHE["idf"]


def _known_terms(rules: Rules) -> dict[str, str]:
    known: dict[str, str] = {}
    for rname, rr in rules.reasons.items():
        for t in rr.terms:
            known[t] = rname
        for c in rr.combos:
            for w in c.objects | c.faults:
                known.setdefault(w, rname)
    return known


def _is_candidate(w: str) -> bool:
    if len(w) < 2 or w in _STOP:
        return False
    if not any("\u4e00" <= ch <= "\u9fff" for ch in w) and not w.isalpha():
        return False
    return not any(ch.isdigit() or ch in "，。！？、,.!?;；:：“”\"'()（） \n*-" for ch in w)


def suggest_terms(corrections: Iterable[Correction], rules: Rules, *, tokenizer: Any = None,
                  min_support: int = 2, top_k: int = 10) -> list[Suggestion]:
    """Propose new terms per reason from corrected items (highest score first within a reason)."""
    if tokenizer is None:
        from .engine import _ensure_words, _tokenizer

        tokenizer = _tokenizer()
        _ensure_words(tokenizer, rules.all_words())
    items = list(corrections)
    if not items:
        return []
    idf, median = _idf()
    known = _known_terms(rules)

    # candidates per item: words and adjacent word pairs
    docs: list[set[str]] = []
    for c in items:
        norm = normalize(c.text)
        toks = [t for t in tokenizer.lcut(norm[: analysis_end(norm)]) if t.strip()]
        cands = {t for t in toks if _is_candidate(t)}
        for a, b in itertools.pairwise(toks):
            pair = a + b
            if (_is_candidate(a) or _is_candidate(b)) and len(pair) <= 6 and _is_candidate(pair):
                cands.add(pair)
        docs.append(cands)

    df_all: dict[str, int] = {}
    for d in docs:
        for w in d:
            df_all[w] = df_all.get(w, 0) + 1

    groups: dict[str, list[int]] = {}
    for i, c in enumerate(items):
        target = c.new_reason
        if target is None or REASONS.get(target) != c.new_label:
            continue  # a suggestion needs a reason to attach the term to
        groups.setdefault(target, []).append(i)

    out: list[Suggestion] = []
    for reason, idxs in sorted(groups.items()):
        df_g: dict[str, list[int]] = {}
        for i in idxs:
            for w in docs[i]:
                df_g.setdefault(w, []).append(i)
        scored = []
        for w, where in df_g.items():
            if len(where) < min_support or known.get(w) == reason:
                continue
            w_idf = idf.get(w, median)
            specificity = len(where) / df_all[w]
            score = (len(where) / len(idxs)) * w_idf * specificity
            scored.append((score, w, where))
        scored.sort(key=lambda x: (-x[0], -len(x[1]), x[1]))
        chosen: list[tuple[float, str, list[int]]] = []
        for score, w, where in scored:
            # prefer the longer phrase when a shorter candidate is part of it with the same items
            if any(w in cw and set(where) == set(cwhere) for _, cw, cwhere in chosen):
                continue
            chosen.append((score, w, where))
            if len(chosen) >= top_k:
                break
        for score, w, where in chosen:
            out.append(Suggestion(
                reason=reason,
                label=REASONS[reason],
                term=w,
                score=score,
                support=len(where),
                case_codes=tuple(items[i].case_code for i in where),
                texts=tuple(items[i].text for i in where),
                conflicts_with=known.get(w) if known.get(w) not in (None, reason) else None,
            ))
    return out


def format_suggestions(sugs: list[Suggestion]) -> str:
    if not sugs:
        return "No suggestions (not enough corrections share a new term)."
    lines = ["# Proposed terms: copy the ones you accept into the rules file, then run check-rules."]
    current = None
    for s in sugs:
        if s.reason != current:
            current = s.reason
            lines += ["", f"[reasons.{s.reason}.terms]   # label {s.label}"]
        weight = 1.0 if s.support < 4 else 1.5
        note = f"  # score {s.score:.2f}, {s.support} items"
        if s.conflicts_with:
            note += f"; NOW LISTED UNDER {s.conflicts_with} (move it, do not duplicate)"
        lines.append(f'"{s.term}" = {weight}{note}')
        for code, text in zip(s.case_codes, s.texts, strict=True):
            snippet = text.replace("\n", " ")
            lines.append(f"#   {code or '-'}: {snippet[:80]}{'…' if len(snippet) > 80 else ''}")
    return "\n".join(lines)
