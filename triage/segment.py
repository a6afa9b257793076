"""jieba's precise mode without the HMM, in one pass per block.

Why this exists: segmentation is most of the triage's cost, and jieba's
``lcut(text, HMM=False)`` spends much of its time on bookkeeping around its
algorithm: a generator per layer, a DAG dict built in one pass and walked in
a second (slicing every candidate word twice and taking its logarithm each
time), and a regular expression per word to glue single Latin letters.

``Segmenter`` runs the same algorithm over the same tokenizer's dictionary
(including every word added later with ``add_word``) and returns the same
words; ``tests/triage/test_segment.py`` checks that word for word against
jieba on the labelled data and on random text.  What changes is only the
bookkeeping: the DAG and the best route are found in one backward pass over
each block, a word's log-probability is computed once and kept, and the
Latin-letter glue is a set look-up.

Ties are broken as jieba breaks them (``max`` over ``(score, end)`` tuples: on
an equal score the longer word wins), and scores are summed in the same order,
so even floating-point ties come out the same.
"""

from __future__ import annotations

from math import log
from typing import Any

_MISS: Any = object()
_ASCII_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


class Segmenter:
    """Fast ``lcut(text, HMM=False)`` over one ``jieba.Tokenizer``'s dictionary."""

    def __init__(self, tokenizer: Any) -> None:
        # jieba's own block and whitespace patterns, so that blocks split alike
        # (imported here: importing ``triage`` must not load jieba).
        from jieba import re_han_default, re_skip_default

        tokenizer.check_initialized()
        self._re_han = re_han_default
        self._re_skip = re_skip_default
        self._tok = tokenizer
        self._freq: dict[str, int] = tokenizer.FREQ
        # word -> log(freq / total), None for a prefix that is not a word; filled
        # on first use.  Valid while the counts do not change, which ``add_word``
        # is the only way to do: see ``_scores``.
        self._logf: dict[str, float | None] = {}
        self._logf_key: tuple[int, int] = (-1, -1)

    def refresh(self) -> None:
        """Forget the cached scores.  Needed only after ``del_word`` (or ``add_word``
        with a count of 0), the one change that leaves the total and the size alone."""
        self._logf_key = (-1, -1)

    def _scores(self) -> tuple[dict[str, float | None], float]:
        tok = self._tok
        # add_word raises the total and may change a word's count; a changed
        # (total, size) pair drops the cached logarithms.
        key = (tok.total, len(self._freq))
        if key != self._logf_key:
            self._logf = {}
            self._logf_key = key
        return self._logf, log(tok.total)

    def lcut(self, sentence: str) -> list[str]:
        """The words of ``sentence``, exactly as ``tokenizer.lcut(sentence, HMM=False)``."""
        out: list[str] = []
        if not sentence:
            return out
        logf, logtotal = self._scores()
        re_han, re_skip = self._re_han, self._re_skip
        for blk in re_han.split(sentence):
            if not blk:
                continue
            if re_han.match(blk):
                self._cut_block(blk, out, logf, logtotal)
            else:
                for x in re_skip.split(blk):
                    if re_skip.match(x):
                        out.append(x)
                    else:
                        out.extend(x)
        return out

    def _cut_block(self, s: str, out: list[str], cache: dict[str, float | None], logtotal: float) -> None:
        freq = self._freq
        miss = _MISS
        n = len(s)
        score = [0.0] * (n + 1)
        end = list(range(1, n + 2))  # end[k]: one past the best word starting at k
        # jieba's fallback when no word starts at k: the single character, scored
        # as a count of 1 (log 1 == 0) whether or not the dictionary lists it.
        fallback = 0.0 - logtotal
        for k in range(n - 1, -1, -1):
            best: float | None = None
            best_end = k + 1
            i = k + 1
            frag = s[k]
            while True:
                lp = cache.get(frag, miss)
                if lp is miss:
                    f = freq.get(frag)
                    if f is None:
                        break  # not a word, nor the start of one
                    lp = cache[frag] = (log(f) - logtotal) if f else None
                if lp is not None:
                    v = lp + score[i]
                    if best is None or v >= best:
                        best = v
                        best_end = i
                if i >= n:
                    break
                i += 1
                frag = s[k:i]
            if best is None:
                best = fallback + score[k + 1]
            score[k] = best
            end[k] = best_end
        # Walk the best route; runs of single ASCII letters or digits are glued.
        x = 0
        buf = ""
        while x < n:
            y = end[x]
            if y == x + 1 and s[x] in _ASCII_ALNUM:
                buf += s[x]
            else:
                if buf:
                    out.append(buf)
                    buf = ""
                out.append(s[x:y])
            x = y
        if buf:
            out.append(buf)
