"""triage.segment must return exactly jieba's ``lcut(HMM=False)`` words."""

from __future__ import annotations

import random
from pathlib import Path

import jieba
import pytest

from triage import Triager
from triage.evaluate import read_jsonl
from triage.normalize import normalize
from triage.segment import Segmenter


@pytest.fixture(scope="module")
def tok(triager: Triager):
    return triager._tok  # the shared tokenizer, with every rule word added


@pytest.fixture(scope="module")
def seg(tok) -> Segmenter:
    return Segmenter(tok)


def _texts(data_dir: Path) -> list[str]:
    return [r["text"] for path in sorted(data_dir.glob("*.jsonl")) for r in read_jsonl(path, required=("text",))]


def test_same_words_as_jieba_on_every_labelled_text(tok, seg, data_dir: Path) -> None:
    texts = _texts(data_dir)
    assert len(texts) > 400
    for raw in texts:
        for text in (raw, normalize(raw)):
            assert seg.lcut(text) == tok.lcut(text, HMM=False), text


@pytest.mark.parametrize("text", [
    "",
    " ",
    "\r\n\r\n",
    "abc",
    "a b c",
    "ABC123def",
    "办事大厅排队2小时ok",
    "网址 www.example.com/a_b-c 100% #话题 & C++",
    "不动产登记来回跑了3趟，踢皮球！！！",
    "為民服務大廳",  # traditional characters: their own dictionary words
    "😀找茬窗口😀\t\u3000窗口",
    "1-2-3-abc-def_x.y",
    "ｆｕｌｌ ｗｉｄｔｈ ＡＢＣ",
])
def test_same_words_as_jieba_on_edge_cases(tok, seg, text: str) -> None:
    assert seg.lcut(text) == tok.lcut(text, HMM=False)


def test_same_words_as_jieba_on_random_text(tok, seg) -> None:
    rng = random.Random(20261128)
    alphabet = ("的一是不了人我在有这中大来上个到说们为和地出道也时年得就要下以会着去过家对可"
                "里后小么心多天而能好都然没日起还发成事只作当想看开手用行方又前所本见经面同已老从动"
                "长知样现分外但身些与高意进把法实回理点月明种全工己话儿者向情部正定问力机给等几很最间"
                "新打便位因重被走电第门相次东政口使再平真听气信少关并内加化由却代产入先水万市眼体别处总"
                "才场师比住员通报立马命活难数件安表原车白应路期叫常提感金何更反合做系计或利受王果及今务"
                "制解各任至物台象记边共风干接许特觉直服题建度统色字请交爱让认算论百吃义科怎元社术结功指"
                "思非流每管连远资队跑趟窗口办大厅排队态度差abcXYZ019 ，。！\n\t-_.%#&+")
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        assert seg.lcut(text) == tok.lcut(text, HMM=False), text


def test_follows_words_added_after_it_was_built() -> None:
    """add_word changes the counts; the segmenter must see the new word at once."""
    tok = jieba.Tokenizer()
    tok.initialize()
    seg = Segmenter(tok)
    text = "我们去了缙云某某路办事"
    before = seg.lcut(text)
    assert before == tok.lcut(text, HMM=False)
    assert "缙云某某路" not in before
    tok.add_word("缙云某某路", 100000)
    after = seg.lcut(text)
    assert "缙云某某路" in after
    assert after == tok.lcut(text, HMM=False)
    tok.del_word("缙云某某路")  # a count of 0: the total does not move, so say so
    seg.refresh()
    assert seg.lcut(text) == tok.lcut(text, HMM=False) == before
