"""BulkOperations through a real LoopClient and the sandbox: a multipart JSONL upload, the wait
for a final status, and the jobs read page by page (the line format is the ASSUMPTION that
engine.loop.bulk documents)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from engine.errors import LoadError, PermanentLoadError
from engine.loop.bulk import BulkOperations, Line
from engine.loop.client import LoopClient
from engine.sandbox.server import SandboxHandle, running_sandbox


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    with running_sandbox(rate_limit="0/min") as handle:
        yield handle


@pytest.fixture
def loop(sandbox: SandboxHandle) -> Iterator[LoopClient]:
    with LoopClient(sandbox.base_url, "sandbox", rate_limit="0/min") as client:
        yield client


def _customers(count: int) -> list[Line]:
    return [Line.of("PUT", "/customers", {"external_id": f"c{i}"}) for i in range(count)]


def test_run_uploads_one_file_and_reads_every_job_page_by_page(
    sandbox: SandboxHandle, loop: LoopClient
) -> None:
    operation, jobs = BulkOperations(loop).run(_customers(300))

    assert operation["status"] == "completed" and operation["succeeded"] == 300
    assert sorted(jobs) == list(range(1, 301))
    stored = {c["external_id"]: c["id"] for c in sandbox.admin.records("customer")}
    assert all(jobs[i + 1]["id"] == stored[f"c{i}"] for i in range(300))
    sent = [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in sandbox.admin.requests()]
    assert sent == [("POST", "bulk-operations"), ("GET", "jobs"), ("GET", "jobs")]  # 250 + 50
    upload = sandbox.admin.requests()[0]
    assert upload["headers"]["content-type"].startswith("multipart/form-data")


def test_wait_polls_until_the_status_is_final(sandbox: SandboxHandle, loop: LoopClient) -> None:
    slept: list[float] = []
    operations = BulkOperations(loop, poll_s=2.5, sleep=slept.append)
    submitted = operations.submit(_customers(2))

    done = operations.wait({**submitted, "status": "running"})  # as a busy Loop would answer

    assert done == submitted and slept == [2.5]
    assert BulkOperations(loop, sleep=slept.append).wait(done) == done and slept == [2.5]


def test_wait_gives_up_after_wait_s(loop: LoopClient) -> None:
    operations = BulkOperations(loop, wait_s=-1, sleep=lambda s: None)
    with pytest.raises(LoadError, match="still not done"):
        operations.wait({"id": 1, "status": "running"})


def test_an_upload_loop_refuses_is_a_permanent_error(
    sandbox: SandboxHandle, loop: LoopClient
) -> None:
    with pytest.raises(PermanentLoadError, match="file"):
        loop.request("POST", "/bulk-operations", json={"lines": []})
    assert BulkOperations(loop).run([])[0]["lines"] == 0
