"""The triage engine: jieba segmentation + data-driven keyword rules.

Pipeline for one text:

1. ``normalize`` (traditional -> simplified, full-width -> half-width,
   lower-case ASCII; length preserving, so offsets stay valid);
2. cut quoted replies, signatures and disclaimers (``analysis_end``);
3. segment with a shared jieba tokenizer that knows every rule word;
4. one pass over the tokens: term look-up in a dict, negation scope,
   "hypothetical / past" scope (``以前要跑好几趟``), intensifiers,
   object + fault combos per clause; then the regex patterns (``patterns.py``);
5. sum evidence per reason and label; apply precedence (each label's strongest
   problem), compute confidence;
6. with ``[learned]`` on, a linear model over character n-grams, words and the
   rules' decision (``triage.linear``) makes the final decision with a
   calibrated confidence, shown as the n-grams and words that weighed most.
"""

from __future__ import annotations

import bisect
import logging
import math
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate
from pathlib import Path
from typing import Any

from .normalize import analysis_end, normalize
from .patterns import PatternSet
from .result import REASONS, MatchedTerm, TriageResult
from .rules import Rules, RulesError, load_rules
from .segment import Segmenter

log = logging.getLogger(__name__)

COMPLAINT_LABELS = ("immediate", "time_limited", "coordinated")
#: the rubric's precedence: coordinated over time_limited over immediate; no rectification lowest
_PRECEDENCE = {"none": 0, "immediate": 1, "time_limited": 2, "coordinated": 3}
NONE_REASONS = ("spam", "inquiry", "suggestion", "praise")

# Clause breakers that are always present, independent of the rules file.
_PUNCT = frozenset("，,。.!！?？;；:：、\n …~～()（）[]【】\"'“”‘’《》<>/|-—_*#@=+")
_SENTENCE_END = frozenset("。.!！?？;；\n")
_MEANINGFUL = re.compile(r"[\u4e00-\u9fff]{2,}|[a-z]{4,}|[\u4e00-\u9fff].*[\u4e00-\u9fff]")
_LATIN_WORD = re.compile(r"[a-z]{3,}")
# Personal data in a text: an e-mail address, or a run of 7 or more digits (a phone number, an ID
# number, spaces and hyphens allowed between the digits).  The learned model's evidence never shows
# a piece of one: the terms are stored with the case and shown on staff pages and ``hcp cases show``.
_PERSONAL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}|\d(?:[\s-]?\d){6,}[Xx]?")
_NOFLAG: tuple[int, tuple[()]] = (0, ())
F_PUNCT, F_SENT, F_BREAK, F_NEG, F_INT, F_HYP, F_HYPEND, F_POST, F_CLAUSE = (1 << k for k in range(9))

_tok_lock = threading.Lock()
_shared_tokenizer: Any = None
_shared_segmenter: Segmenter | None = None
_added_words: set[str] = set()


def _tokenizer() -> Any:
    """The one jieba tokenizer shared by all triagers (its dictionary costs ~60 MB)."""
    global _shared_tokenizer
    with _tok_lock:
        if _shared_tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tmp = os.path.join(tempfile.gettempdir(), f"hcp-triage-jieba-{os.getuid()}")
            os.makedirs(tmp, exist_ok=True)
            tok.tmp_dir = tmp
            tok.initialize()
            _shared_tokenizer = tok
        return _shared_tokenizer


def _segmenter() -> Segmenter:
    """The fast ``lcut(HMM=False)`` over the shared tokenizer (``triage.segment``)."""
    global _shared_segmenter
    tok = _tokenizer()
    with _tok_lock:
        if _shared_segmenter is None:
            _shared_segmenter = Segmenter(tok)
        return _shared_segmenter


def _ensure_words(tok: Any, words: set[str]) -> None:
    with _tok_lock:
        new = sorted(words - _added_words)
        for w in new:
            # A generous frequency keeps rule words whole even next to common words.
            tok.add_word(w, max(tok.suggest_freq(w, False), 50) * 2)
        _added_words.update(new)


@dataclass(frozen=True)
class _Compiled:
    rules: Rules
    lex: dict[str, tuple[tuple[str, str, float, int], ...]]
    patterns: PatternSet
    #: token -> (flags, lexicon entries): one dict look-up per token
    table: dict[str, tuple[int, tuple[tuple[str, str, float, int], ...]]]
    combo_reason: tuple[str, ...]
    combo_weight: tuple[float, ...]


def _frequency(tok: Any) -> Any:
    """How common a string is, from jieba's word counts (a non-word: its rarest character / 100)."""
    freq = tok.FREQ

    def f(s: str) -> float:
        n = freq.get(s)
        if n:
            return float(n)
        return min((freq.get(ch) or 1 for ch in s), default=1) / 100

    return f


def _compile(rules: Rules, frequency: Any = None) -> _Compiled:
    lex: dict[str, list[tuple[str, str, float, int]]] = {}
    for rname, rr in rules.reasons.items():
        for term, w in rr.terms.items():
            lex.setdefault(term, []).append(("term", rname, w, -1))
    combo_reason: list[str] = []
    combo_weight: list[float] = []
    for rname, rr in rules.reasons.items():
        for combo in rr.combos:
            idx = len(combo_reason)
            combo_reason.append(rname)
            combo_weight.append(combo.weight)
            for o in combo.objects:
                lex.setdefault(o, []).append(("obj", rname, combo.weight, idx))
            for f in combo.faults:
                lex.setdefault(f, []).append(("fault", rname, combo.weight, idx))
    pats: list[tuple[str, tuple[str, float]]] = []
    for rname, rr in rules.reasons.items():
        for pat, w in rr.patterns.items():
            pats.append((pat, (rname, w)))
    flags: dict[str, int] = {}

    def flag(words: Iterable[str], bit: int) -> None:
        for w in words:
            flags[w] = flags.get(w, 0) | bit

    flag(_PUNCT, F_PUNCT)
    flag(_SENTENCE_END, F_SENT)
    flag(rules.scope_breakers, F_BREAK)
    # object + fault clauses end at punctuation and at clause breakers ("机器又罢工" stays one clause)
    flag(_PUNCT, F_CLAUSE)
    flag(rules.scope_breakers if rules.clause_breakers is None else rules.clause_breakers, F_CLAUSE)
    flag(rules.negation_cues, F_NEG)
    flag(rules.intensifiers, F_INT)
    flag(rules.hypothetical_cues, F_HYP)
    flag(rules.hypothetical_ends, F_HYPEND)
    flag(rules.post_negation_cues, F_POST)
    table = {w: (flags.get(w, 0), tuple(lex.get(w, ()))) for w in set(flags) | set(lex)}
    return _Compiled(rules, {k: tuple(v) for k, v in lex.items()}, PatternSet(pats, frequency),
                     table, tuple(combo_reason), tuple(combo_weight))

class Triager:
    """Classifies feedback texts with a rules file; see module docstring.

    ``model`` replaces the rules file's learned model (cross-validation trains one
    per fold); otherwise the model named in ``[learned]`` loads on first use."""

    def __init__(self, rules: Rules, model: Any = None):
        self._tok = _tokenizer()
        self._seg = _segmenter()
        _ensure_words(self._tok, rules.all_words())
        self._c = _compile(rules, _frequency(self._tok))
        self._lock = threading.Lock()
        self._model_override = model
        #: (rules digest, model or None) once loaded
        self._model: tuple[str, Any] | None = None

    # -- construction / rules --------------------------------------------------
    @classmethod
    def from_rules_file(cls, path: str | os.PathLike[str] | None = None) -> Triager:
        """Load rules from ``path`` (``None``: the packaged default under ``triage/data/``)."""
        return cls(load_rules(path))

    @property
    def rules(self) -> Rules:
        return self._c.rules

    def reload(self, path: str | os.PathLike[str] | Path | None = None) -> Rules:
        """Swap to the rules in ``path`` if they validate.

        On any error :class:`~triage.rules.RulesError` is raised and the current
        (last good) rules stay active, so a running gateway never loses its rules.
        """
        new_rules = load_rules(path)  # raises RulesError; nothing changed yet
        model = None
        lr = new_rules.learned
        if lr is not None and lr.enabled and self._model_override is None:
            from .linear import LinearModel, ModelError

            try:  # a broken model file fails the reload too, before anything changes
                model = LinearModel.load(lr.model_path)
            except ModelError as exc:
                raise RulesError([str(exc)]) from exc
        _ensure_words(self._tok, new_rules.all_words())
        compiled = _compile(new_rules, _frequency(self._tok))
        with self._lock:
            self._c = compiled
            self._model = (new_rules.digest, model) if model is not None else None
        return new_rules

    def learned_model(self) -> Any:
        """The learned model in use (``triage.linear``), loaded on first call; None when off or unusable.

        A model file that fails to load is logged once and the triage runs on
        rules alone (classification never fails because of the model)."""
        lr = self._c.rules.learned
        if lr is None or not lr.enabled:
            return None
        if self._model_override is not None:
            return self._model_override
        digest = self._c.rules.digest
        cached = self._model
        if cached is not None and cached[0] == digest:
            return cached[1]
        from .linear import LinearModel, ModelError

        with self._lock:
            if self._model is not None and self._model[0] == digest:
                return self._model[1]
            try:
                model = LinearModel.load(lr.model_path)
            except ModelError as exc:
                log.warning("triage: learned model not used: %s", exc)
                model = None
            self._model = (digest, model)
            return model

    # -- classification -----------------------------------------------------------
    def segment(self, text: str) -> list[str]:
        return self._seg.lcut(normalize(text))

    def tokens(self, text: str) -> list[str]:
        """The words the rules and the learned model see: normalised text without quoted
        replies and footers, cut by the shared tokenizer (used to train the model)."""
        norm = normalize(text or "")
        return self._seg.lcut(norm[: analysis_end(norm)])

    def classify(self, text: str, *, channel: str | None = None, rating: str | None = None,
                 reasons: Sequence[str] = ()) -> TriageResult:
        return self.classify_many([(text, channel, rating, reasons)])[0]

    def classify_many(self, items: Sequence[tuple[str, str | None, str | None, Sequence[str]]]) -> list[TriageResult]:
        """:meth:`classify` for several (text, channel, rating, reasons) at once: the same results.

        Why: the learned stage's numpy work has a fixed cost per call that, on short texts, was
        as large as the rules' own work; the worker process and ``hcp triage eval`` pass batches
        and pay it once per batch (``benchmarks/triage.py`` measures both).  One text alone costs
        a little more than before batches existed (~30 µs; the in-line web form path)."""
        runs = [self._run(text, rating, reasons) for text, _channel, rating, reasons in items]
        results = [res for _body, _tokens, res in runs]
        # empty or meaningless text (no words): the rules' spam/praise decision stands
        todo = [i for i, (_body, tokens, _res) in enumerate(runs) if tokens]
        model = self.learned_model() if todo else None
        if model is not None:
            preds = model.predict_many([runs[i][0] for i in todo], [runs[i][1] for i in todo],
                                       [runs[i][2] for i in todo])
            for i, pred in zip(todo, preds, strict=True):
                body, tokens, res = runs[i]
                results[i] = self._learned_decision(model, pred, body, tokens, res)
        return [self._check_ticked(res, item[3]) for res, item in zip(results, items, strict=True)]

    def _check_ticked(self, res: TriageResult, reason_codes: Sequence[str]) -> TriageResult:
        """A person looks when the citizen ticked a problem that outranks the decision.

        Why: the ticked reasons (slip, web form, 一次一评 pads) weigh little against the text, which is
        right when the text shows a problem of higher precedence (absent staff *and* half an hour's
        wait is 限时整改); but a decision below what the citizen ticked (部门推诿 ticked, the text read
        as 立整立改, or as no problem at all) contradicts the citizen's own words and must not be
        auto-routed."""
        codes = self._c.rules.reason_codes
        ticked = {REASONS[codes[c][0]] for c in reason_codes if c in codes}
        if res.needs_review or not ticked or max(_PRECEDENCE[lab] for lab in ticked) <= _PRECEDENCE[res.label]:
            return res
        return replace(res, needs_review=True)

    def analyse(self, text: str, *, channel: str | None = None, rating: str | None = None,
                reasons: Sequence[str] = ()) -> tuple[str, list[str], TriageResult]:
        """(analysed body, its words, the rules' result without any learned model): what the
        learned stage is trained on (``triage.train``)."""
        return self._run(text, rating, reasons)

    def _learned_decision(self, model: Any, pred: Any, body: str, tokens: Sequence[str],
                          res: TriageResult) -> TriageResult:
        """The learned stage decides (label, reason, calibrated confidence); the evidence shown is
        the rules' terms plus the n-grams and words that weighed most for the model's choice, each
        with its weight and position, and the rules' own decision when it weighed (``[rules:…]``)."""
        lr = self._c.rules.learned
        assert lr is not None
        terms = list(res.terms)
        personal = [m.span() for m in _PERSONAL.finditer(body)]
        for feat, a, b, w in model.contributions(pred, body, tokens, lr.top_terms):
            if feat.startswith("r:"):
                terms.append(MatchedTerm(f"[rules:{feat.split(':', 2)[2]}]", 0, 0, pred.reason, w, False, "model"))
            elif feat == "w:#":  # "a number": which one is not the evidence, and it may be a phone
                terms.append(MatchedTerm("[number]", 0, 0, pred.reason, w, False, "model"))
            elif not any(a < pe and ps < b for ps, pe in personal):
                terms.append(MatchedTerm(body[a:b], a, b, pred.reason, w, False, "model"))
        scores = dict(res.scores)
        scores["model_probability"] = pred.probability
        return TriageResult(label=pred.label, reason=pred.reason, confidence=pred.confidence,
                            terms=tuple(sorted(terms, key=lambda t: (t.start, t.end))),
                            needs_review=pred.confidence < lr.review_below, scores=scores)

    def _run(self, text: str, rating: str | None, reasons: Sequence[str]) -> tuple[str, list[str], TriageResult]:
        c = self._c
        rules = c.rules
        text = text or ""
        norm = normalize(text)
        end = analysis_end(norm)
        body = norm[:end]

        # evidence: [term, start, end, reason, weight, negated]
        ev: list[list[Any]] = []
        meaningful = bool(_MEANINGFUL.search(body))
        tokens: list[str] = self._seg.lcut(body) if meaningful else []
        table = c.table
        intens = rules.intensifiers
        scope = rules.negation_scope

        pos = 0
        last_neg = -100
        last_break = -1
        last_int = -100
        int_w = 1.0
        hyp = False
        hyp_spans: list[tuple[int, int]] = []
        hyp_from = 0
        clause_start_ev = 0
        clause_obj: dict[int, list[Any]] = {}
        clause_fault: dict[int, list[Any]] = {}
        i = -1
        for w in tokens:
            i += 1
            start = pos
            pos += len(w)
            info = table.get(w)
            if info is None:
                continue
            flags, entries = info
            if flags & (F_PUNCT | F_BREAK):
                if flags & F_CLAUSE:
                    if clause_obj and clause_fault:
                        self._close_clause(clause_obj, clause_fault, ev, c)
                    clause_obj = {}
                    clause_fault = {}
                last_break = i
                clause_start_ev = len(ev)
                if flags & F_PUNCT:
                    if hyp and flags & F_SENT:
                        hyp = False
                        hyp_spans.append((hyp_from, start))
                    continue
            if hyp and flags & F_HYPEND:
                hyp = False
                hyp_spans.append((hyp_from, start))
            if entries:
                negated = hyp or (last_neg > last_break and i - last_neg <= scope)
                boost = int_w if (last_int > last_break and i - last_int <= 2) else 1.0
                for kind, rname, weight, idx in entries:
                    if kind == "term":
                        ev.append([w, start, pos, rname, weight * boost, negated])
                    elif kind == "obj":
                        clause_obj.setdefault(idx, [w, start, pos])
                    else:
                        prev = clause_fault.get(idx)
                        if prev is None or (prev[3] and not negated):
                            clause_fault[idx] = [w, start, pos, negated, boost]
            if not flags:
                continue
            if flags & F_NEG:
                last_neg = i
            if flags & F_INT:
                last_int = i
                int_w = intens[w]
            if flags & F_HYP and not hyp:
                hyp = True
                hyp_from = start
            if flags & F_POST:
                for e in ev[clause_start_ev:]:
                    e[5] = True
                for f in clause_fault.values():
                    f[3] = True
        if clause_obj and clause_fault:
            self._close_clause(clause_obj, clause_fault, ev, c)
        if hyp:
            hyp_spans.append((hyp_from, len(body)))

        if meaningful and len(c.patterns):
            starts: list[int] | None = None
            for m, (rname, weight) in c.patterns.findall(body):
                if starts is None:
                    starts = list(accumulate(map(len, tokens), initial=0))
                k = bisect.bisect_right(starts, m.start()) - 1
                negated = any(a <= m.start() < b for a, b in hyp_spans)
                if not negated:
                    for j in range(k - 1, max(-1, k - 1 - scope), -1):
                        tf = table.get(tokens[j], _NOFLAG)[0]
                        if tf & (F_PUNCT | F_BREAK):
                            break
                        if tf & F_NEG:
                            negated = True
                            break
                ev.append([m.group(), m.start(), m.end(), rname, weight, negated])

        return body, tokens, self._decide(text, body, meaningful, ev, rating, reasons)

    @staticmethod
    def _close_clause(objs: dict[int, list[Any]], faults: dict[int, list[Any]], ev: list[list[Any]],
                      c: _Compiled) -> None:
        for idx, o in objs.items():
            f = faults.get(idx)
            if f is None:
                continue
            rname = c.combo_reason[idx]
            w = c.combo_weight[idx] * f[4]
            ev.append([o[0], o[1], o[2], rname, w / 2, f[3]])
            ev.append([f[0], f[1], f[2], rname, w / 2, f[3]])

    def _decide(self, text: str, body: str, meaningful: bool, ev: list[list[Any]],
                rating: str | None, reason_codes: Sequence[str]) -> TriageResult:
        rules = self._c.rules
        rscore: dict[str, float] = {}
        rmax: dict[str, float] = {}
        terms: list[MatchedTerm] = []
        by_reason: dict[str, list[tuple[int, int, float, str]]] = {}
        for term, start, end, rname, weight, negated in ev:
            terms.append(MatchedTerm(term, start, end, rname, weight, negated))
            if not negated:
                by_reason.setdefault(rname, []).append((start, end, weight, term))
        for rname, items in by_reason.items():
            # Overlapping matches of one reason (a term and a pattern on the same
            # words) count once, at their strongest; a repeated word counts once.
            items.sort()
            total = 0.0
            seen_terms: set[str] = set()
            grp_end = -1
            grp_w = 0.0
            best = 0.0
            for start, end, weight, term in items:
                if start < grp_end:
                    grp_w = max(grp_w, weight)
                    grp_end = max(grp_end, end)
                    continue
                total += grp_w
                grp_w = 0.0 if term in seen_terms else weight
                seen_terms.add(term)
                grp_end = end
                best = max(best, weight)
            total += grp_w
            best = max(best, grp_w)
            rscore[rname] = total
            rmax[rname] = best

        # Non-text evidence: the citizen's rating and ticked reason codes.
        dissatisfied = rating in ("dissatisfied", "very_dissatisfied")
        if rating and rating in rules.ratings:
            rname, w = rules.ratings[rating]
            rscore[rname] = rscore.get(rname, 0.0) + w
            terms.append(MatchedTerm(f"[rating:{rating}]", 0, 0, rname, w, False))
        for code in dict.fromkeys(reason_codes):
            if code in rules.reason_codes:
                rname, w = rules.reason_codes[code]
                if dissatisfied:
                    w *= 2
                rscore[rname] = rscore.get(rname, 0.0) + w
                terms.append(MatchedTerm(f"[reason:{code}]", 0, 0, rname, w, False))

        if not meaningful and not any(rscore.get(r, 0) for r in REASONS if REASONS[r] != "none"):
            spam = MatchedTerm("[empty or meaningless text]", 0, len(text), "spam", 1.0, False)
            if rscore.get("praise", 0) > 0:
                return self._result("none", "praise", 0.5 + 0.1 * min(rscore["praise"], 3), terms, rscore)
            return self._result("none", "spam", 0.3, (*terms, spam), rscore)

        label_score = {lab: 0.0 for lab in COMPLAINT_LABELS}
        label_max = {lab: 0.0 for lab in COMPLAINT_LABELS}
        for rname, sc in rscore.items():
            lab = REASONS[rname]
            if lab != "none":
                label_score[lab] += sc
                label_max[lab] = max(label_max[lab], rmax.get(rname, sc))
        none_score = {r: rscore.get(r, 0.0) for r in NONE_REASONS}
        top_comp = max(label_score.values())
        top_none = max(none_score.values())
        min_score = rules.min_score
        # A label qualifies with enough evidence that rests on at least one clear
        # term (or plenty of weak ones); precedence then picks among qualifying
        # labels, but weak evidence for a higher label does not override a much
        # stronger complaint of another kind.
        qualified = [lab for lab in COMPLAINT_LABELS
                     if label_score[lab] >= min_score
                     and (label_max[lab] >= min_score or label_score[lab] >= 1.5 * min_score)]

        if qualified:
            # Precedence compares the strongest single problem of each label, so several small
            # complaints of one kind do not outweigh one clear complaint of a higher kind.
            top_reason = {lab: max((v for r, v in rscore.items() if REASONS[r] == lab), default=0.0)
                          for lab in qualified}
            top_q = max(top_reason.values())
            label = next(lab for lab in rules.precedence
                         if lab in qualified and top_reason[lab] >= rules.precedence_ratio * top_q)
            s = label_score[label]
            reason = max((r for r in rscore if REASONS[r] == label), key=lambda r: rscore[r])
            conf = 1.0 - math.exp(-s / 1.3)
            # Evidence of other complaint labels that lost only through precedence.
            strongest_other = max((v for k, v in label_score.items() if k != label), default=0.0)
            if strongest_other > s:
                conf *= (s / strongest_other) ** 0.5
            # Within-label split between reasons does not change the label.
            if top_none > 0:
                conf *= s / (s + 0.25 * top_none)
            if rating in ("very_satisfied", "satisfied"):
                conf *= 0.9
            return self._result(label, reason, conf, terms, {**label_score, "none": top_none})

        if top_none > 0 and top_none >= top_comp:
            reason = max(NONE_REASONS, key=lambda r: (none_score[r], -NONE_REASONS.index(r)))
            conf = 1.0 - math.exp(-top_none / 1.3)
            if top_comp > 0:
                conf *= top_none / (top_none + top_comp)
            if dissatisfied and reason == "praise":
                conf *= 0.5
            return self._result("none", reason, conf, terms, {**label_score, "none": top_none})

        if top_comp > 0:
            label = max(COMPLAINT_LABELS, key=lambda lab: label_score[lab])
            reason = max((r for r in rscore if REASONS[r] == label), key=lambda r: rscore[r])
            # no clear term: at most 0.5, so with a review threshold above that it goes to review
            conf = 0.5 * min(top_comp / min_score, 1.0)
            return self._result(label, reason, conf, terms, {**label_score, "none": top_none})

        # Meaningful text with no evidence at all.
        return self._result("none", None, 0.3 if not dissatisfied else 0.2, terms,
                            {**label_score, "none": 0.0})

    def _result(self, label: str, reason: str | None, conf: float, terms: Sequence[MatchedTerm],
                scores: dict[str, float]) -> TriageResult:
        conf = max(0.0, min(1.0, conf))
        return TriageResult(
            label=label,
            reason=reason,
            confidence=conf,
            terms=tuple(sorted(terms, key=lambda t: (t.start, t.end))),
            needs_review=conf < self._c.rules.review_threshold,
            scores=scores,
        )


_default: Triager | None = None
_default_lock = threading.Lock()


def default_triager() -> Triager:
    """The shared Triager with the packaged rules, created on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Triager.from_rules_file(None)
        return _default


def classify(text: str, **kw: Any) -> TriageResult:
    """Classify with the shared default :class:`Triager`."""
    return default_triager().classify(text, **kw)
