"""The gateway's triage: worker processes, a dead worker, rules reloaded while running."""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway.app import create_app
from gateway.core.services import Services
from gateway.core.settings import Settings
from gateway.core.triage_service import TriageService, resolve_processes
from tests.helpers import MINIMAL_RULES, make_intake
from tests.staff import make_staff, signed_in
from triage import Triager

TEXTS = ["大厅里排队排了两个小时，工作人员态度也不好", "工作人员很热情，点赞！", "需要多个部门盖章，跑了好几趟",
         "窗口人员一直在玩手机，不理人", "", "请问办理居住证需要带什么材料？", "态度不差，就是慢了点"]

# ``{extra}``: more terms of the ``attitude`` reason, written in by each test.
RULES = MINIMAL_RULES.replace('"甩脸子" = 2\n', '"甩脸子" = 2\n{extra}')
BAD = '"乱停车" = oops\n'
BAD_LINE = RULES.format(extra=BAD).splitlines().index(BAD.strip()) + 1


@pytest.fixture(scope="module")
def triager() -> Triager:
    return Triager.from_rules_file(None)


def _same(a: object, b: object) -> bool:
    return a.to_dict() == b.to_dict()  # type: ignore[attr-defined]


def _write_rules(path: Path, text: str, *, bump: int) -> None:
    path.write_text(text, encoding="utf-8")
    stamp = path.stat().st_mtime_ns + bump * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))  # a visible change even within one clock tick


def test_auto_means_one_worker_where_there_is_a_second_core() -> None:
    assert resolve_processes(0) == 0
    assert resolve_processes(3) == 3
    assert resolve_processes(-1) == (1 if (os.cpu_count() or 1) > 1 else 0)


async def test_a_worker_process_classifies_as_this_process_would(triager: Triager) -> None:
    service = TriageService(None, processes=1, inline_below=0)  # every item to the worker
    try:
        await service.start()
        assert service.digest == triager.rules.digest
        # Many at once: they travel in batches, and each caller gets its own item's result.
        texts = TEXTS * 5
        results = await asyncio.gather(*(service.classify_async(t, channel="email") for t in texts))
        for text, result in zip(texts, results, strict=True):
            assert _same(result, triager.classify(text, channel="email")), text
        result = await service.classify_async("很满意", channel="web", rating="非常满意", reasons=())
        assert _same(result, triager.classify("很满意", channel="web", rating="非常满意"))
        assert service.fallbacks == 0 and service.sent == len(texts) + 1
        assert service._local is None  # jieba never loaded in this process
    finally:
        service.close()


async def test_a_short_lone_item_stays_here_long_ones_and_bursts_go_to_the_worker(triager: Triager) -> None:
    service = TriageService(None, processes=1, inline_below=60)
    try:
        await service.start()
        assert service._local is not None  # loaded beside the worker, for the short ones
        assert _same(await service.classify_async(TEXTS[0]), triager.classify(TEXTS[0]))
        assert service.sent == 0
        long_text = "，".join(TEXTS) * 3
        assert len(long_text) >= 60
        assert _same(await service.classify_async(long_text), triager.classify(long_text))
        assert service.sent == 1
        # Items of one turn of the loop: a few short ones stay here; many go to the worker together.
        # Either way each caller gets its own item's result.
        results = await asyncio.gather(*(service.classify_async(t) for t in TEXTS[:3]))
        assert [r.to_dict() for r in results] == [triager.classify(t).to_dict() for t in TEXTS[:3]]
        assert service.sent == 1
        many = TEXTS * 3
        assert sum(map(len, TEXTS[:3])) < 60 <= sum(map(len, many))
        results = await asyncio.gather(*(service.classify_async(t) for t in many))
        assert [r.to_dict() for r in results] == [triager.classify(t).to_dict() for t in many]
        assert service.sent == 1 + len(many)
    finally:
        service.close()


def test_one_failing_item_does_not_fail_its_batch(triager: Triager, monkeypatch: pytest.MonkeyPatch) -> None:
    from triage import worker

    monkeypatch.setattr(worker, "_triager", triager)  # this process plays the worker
    (ok, first), (failed, error) = worker.classify_many([(TEXTS[0], "web", None, ()), (b"bytes", "web", None, ())])
    assert ok and _same(first, triager.classify(TEXTS[0], channel="web"))
    assert not failed and isinstance(error, Exception)


async def test_text_that_is_not_str_is_refused_before_it_joins_a_batch() -> None:
    service = TriageService(None, processes=1)
    with pytest.raises(TypeError, match="must be str"):
        await service.classify_async(b"bytes")  # type: ignore[arg-type]
    assert service._pending == [] and service._pool is None
    service.close()


async def test_a_dead_worker_loses_no_item(triager: Triager) -> None:
    service = TriageService(None, processes=1, inline_below=0)
    try:
        await service.start()
        pool = service._pool
        assert pool is not None
        (victim,) = list(pool._processes)  # type: ignore[attr-defined]
        os.kill(victim, signal.SIGKILL)
        await asyncio.sleep(0.5)
        result = await service.classify_async(TEXTS[0], channel="web")
        assert _same(result, triager.classify(TEXTS[0], channel="web"))
        assert service.fallbacks == 1
        # The next item goes to a fresh worker.
        result = await service.classify_async(TEXTS[3], channel="web")
        assert _same(result, triager.classify(TEXTS[3], channel="web"))
        assert service._pool is not None and service._pool is not pool
        assert victim not in service._pool._processes  # type: ignore[attr-defined]
    finally:
        service.close()


async def test_workers_that_cannot_start_leave_the_triage_in_this_process(triager: Triager,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from triage import worker

    monkeypatch.setattr(worker, "start", int)  # the child runs int(None) as its initializer: it fails
    service = TriageService(None, processes=1, inline_below=0)
    try:
        await service.start()
        assert service.processes == 0 and service._pool is None and service._local is not None
        result = await service.classify_async(TEXTS[0], channel="web")
        assert _same(result, triager.classify(TEXTS[0], channel="web"))
        assert service.sent == 0
    finally:
        service.close()


@pytest.mark.parametrize("processes", [0, 1])
async def test_a_changed_rules_file_is_picked_up_and_a_broken_one_is_not(tmp_path: Path, processes: int) -> None:
    path = tmp_path / "rules.toml"
    _write_rules(path, RULES.format(extra=""), bump=0)
    service = TriageService(path, processes=processes, check_every=3600)
    try:
        await service.start()
        first = service.digest
        assert (await service.classify_async("排长队排到中午")).label == "time_limited"
        assert (await service.classify_async("门口乱停车")).label == "none"

        _write_rules(path, RULES.format(extra='"乱停车" = 2\n'), bump=1)
        status = await service.check_rules()
        assert status["error"] is None and status["digest"] != first
        assert (await service.classify_async("门口乱停车")).label == "immediate"
        good = status["digest"]

        _write_rules(path, RULES.format(extra=BAD), bump=2)
        status = await service.check_rules()
        assert status["digest"] == good
        assert status["error"] and f":{BAD_LINE}:" in status["error"]  # the line of the bad weight
        assert (await service.classify_async("门口乱停车")).label == "immediate"  # the last good rules

        # Found without asking, on the next item after ``check_every``.
        service.check_every = service._next_check = 0
        _write_rules(path, RULES.format(extra=""), bump=3)
        before = service._reloading
        await service.classify_async("触发检查")
        assert service._reloading is not None and service._reloading is not before
        await service._reloading
        assert service.last_error is None and service.digest == first
        assert (await service.classify_async("门口乱停车")).label == "none"
    finally:
        service.close()


async def test_the_gateway_ingests_through_the_worker(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "var", database_url=database_url, run_workers=False,
                        triage_processes=1, _env_file=None)  # type: ignore[call-arg]
    services = Services.create(settings)
    try:
        await services.prepare_database()
        await services.start_triage()
        assert isinstance(services.classifier, TriageService) and services.classifier.processes == 1
        text = "窗口人员一直在玩手机，叫了好几声都不理人。" * 30  # long: it goes to the worker
        result = await services.ingestor.ingest(make_intake(text=text, source_ref="worker-1"))
        assert result.created
        async with services.store.read() as session:
            from gateway.core.db.models import Case

            case = await session.get(Case, result.case_id)
            assert case is not None and case.category == "immediate"
        assert services.classifier.sent == 1
    finally:
        await services.close()


async def test_the_triage_page_shows_a_rules_file_that_does_not_load(tmp_path: Path, database_url: str) -> None:
    path = tmp_path / "rules.toml"
    _write_rules(path, RULES.format(extra=""), bump=0)
    settings = Settings(data_dir=tmp_path / "var", database_url=database_url, run_workers=False,
                        triage_processes=0, triage_rules=path, _env_file=None)  # type: ignore[call-arg]
    services = Services.create(settings)
    try:
        await services.prepare_database()
        await services.start_triage()
        await make_staff(services, "triager", ["triage"])
        app = create_app(services=services, run_workers=False)
        async with signed_in(app, "triager") as client:
            page = await client.get("/triage")
            assert page.status_code == 200 and 'id="rules-error"' not in page.text
            assert "本县自定义规则" in page.text and str(tmp_path) not in page.text  # no server folders
            assert 'id="model-status"' not in page.text  # these rules have no learned model
            _write_rules(path, RULES.format(extra=BAD), bump=1)
            page = await client.get("/triage")
            assert 'id="rules-error"' in page.text and "仍在使用上一版有效规则" in page.text
            error = page.text.split('id="rules-error"')[1].split("</p>")[0]
            assert f"rules.toml:{BAD_LINE}:" in error, "the file's name and the line of the fault"
            assert str(tmp_path) not in page.text and str(tmp_path) not in services.classifier.status()["error"]
    finally:
        await services.close()


def test_loader_errors_name_the_file_not_the_servers_folders() -> None:
    from gateway.core.triage_service import without_directories

    assert without_directories("/srv/hcp/rules/model.npz: cannot read model: No such file or directory") \
        == "model.npz: cannot read model: No such file or directory"
    assert without_directories("/etc/hcp/rules.toml:12: user dictionary '/etc/hcp/dict/县名.txt' cannot be read") \
        == "rules.toml:12: user dictionary '县名.txt' cannot be read"
    plain = "reasons.attitude: weight must be a number"
    assert without_directories(plain) == plain


def status_model(status: dict) -> dict:
    assert status["model"] is not None
    return status["model"]


async def test_a_retrained_model_is_picked_up_without_a_rules_change(tmp_path: Path) -> None:
    """``hcp triage train`` rewrites the learned model; the running gateway reloads for that too."""
    import shutil

    from triage.rules import DEFAULT_RULES_PATH

    for source in DEFAULT_RULES_PATH.parent.iterdir():
        shutil.copy(source, tmp_path / source.name)
    service = TriageService(tmp_path / DEFAULT_RULES_PATH.name, processes=0, check_every=3600)
    try:
        await service.start()
        before = (await service.check_rules())["loaded_at"]
        assert (await service.check_rules())["loaded_at"] == before  # nothing changed, nothing reloaded
        model = tmp_path / "model.npz"
        assert status_model(await service.check_rules())["items"] >= 700
        os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns + 10**9))  # retrained
        status = await service.check_rules()
        assert status["error"] is None and status["loaded_at"] != before
        model.write_text("{not a model", encoding="utf-8")
        status = await service.check_rules()
        assert status["error"] and "model.npz" in status["error"]
        assert "not a triage model file" in status_model(status)["error"]
        assert (await service.classify_async("窗口人员一直在玩手机")).label == "immediate"  # last good
    finally:
        service.close()


async def test_the_triage_page_shows_the_model_in_use(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "var", database_url=database_url, run_workers=False,
                        triage_processes=0, _env_file=None)  # type: ignore[call-arg]
    services = Services.create(settings)
    try:
        await services.prepare_database()
        await services.start_triage()
        await make_staff(services, "model_watcher", ["triage"])
        app = create_app(services=services, run_workers=False)
        async with signed_in(app, "model_watcher") as client:
            page = await client.get("/triage")
        assert page.status_code == 200 and 'id="model-status"' in page.text
        from triage.linear import read_meta
        from triage.rules import DEFAULT_RULES_PATH

        meta = read_meta(DEFAULT_RULES_PATH.parent / "model.npz")
        status = page.text.split('id="model-status"')[1].split("</p>")[0]
        # Issue #19's figures in a clerk's words; the fold count and digits stay in the tooltip.
        trained = datetime.fromisoformat(meta["trained_at"]).astimezone(ZoneInfo("Asia/Shanghai"))
        shown = status.split(">", 1)[1]
        expected = f"当前模型：系统内置，{trained:%Y年%m月%d日}训练，用 {meta['items']} 条已标注意见；"
        assert shown.startswith(expected), shown
        # The cross-validated macro-F1 named by what it is to a clerk, not by the statistician's term.
        assert f"交叉验证得分 {meta['cv']['macro_f1'] * 100:.1f}%（按四个分类各自计分后取平均）" in shown
        rules_line = page.text.split('id="rules-status"')[1].split(">", 1)[1].split("</p>")[0]
        assert "折" not in shown and "版本" not in rules_line
        title = status.split(">", 1)[0]
        assert "F1" not in status and "宏平均" not in status, "neither on the line nor in its title"
        exact = f"按四个分类各自计分（兼顾分得准与分得全）后取平均 {meta['cv']['macro_f1']:.3f}"
        assert exact in title, "the exact figure"
        assert f"所有意见中分对的比例 {meta['cv']['accuracy']:.3f}" in title
        assert f"{meta['cv']['k']} 折交叉验证（已标注意见分成 {meta['cv']['k']} 份，轮流留出 1 份检验）" in title
    finally:
        await services.close()
