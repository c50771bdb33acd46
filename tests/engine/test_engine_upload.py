"""``uploader.upload`` end to end against the emulator over HTTP: both modes, reruns, faults."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from engine_helpers import (
    Expected,
    assert_applied_once,
    assert_server_holds_exactly,
    client_config,
    write_contacts,
)

from uploader import upload
from uploader.client import SyllableClient
from uploader.config import ReadOptions, UploadOptions
from uploader.errors import AuthError, ConfigError, ConflictError, LockHeldError
from uploader.journal import load_outcomes


def run(emulator: Any, path: Path, journal: Path, *, mode: str = "upload", **options: Any) -> Any:
    opts = UploadOptions(
        campaign_id=7,
        mode=mode,  # type: ignore[arg-type]
        batch_size=options.pop("batch_size", 2000),
        concurrency=options.pop("concurrency", 16),
        journal_path=journal,
        confirmed=True,
        **options,
    )
    return upload(path, ReadOptions(), opts, client_config(emulator.url, emulator.api_key))


def check_outcomes(result: Any, expected: Expected) -> None:
    assert {n: o.status for n, o in result.outcomes.items()} == expected.status
    for ref, row in expected.row_of.items():
        outcome = result.outcomes[row]
        assert outcome.reference_id == ref
        assert outcome.target_e164 == expected.requests[ref][0]
        assert outcome.batch_id in {b.batch_id for b in result.batches}


def batches_active_on_server(emulator: Any, batch_ids: list[str]) -> None:
    with SyllableClient(client_config(emulator.url, emulator.api_key)) as api:
        for batch_id in batch_ids:
            found = api.get_batch(batch_id)
            assert found["paused"] is False
            assert found["campaign_id"] == 7


@pytest.mark.parametrize(
    ("mode", "rows"),
    [
        ("upload", 5000),
        ("add", 600),
        pytest.param("add", 5000, marks=pytest.mark.slow),
    ],
)
def test_end_to_end_every_row_lands_once(
    emulator: Any, tmp_path: Path, mode: str, rows: int
) -> None:
    expected = write_contacts(tmp_path / "contacts.csv", rows, invalid_every=97, blank_every=211)
    result = run(emulator, tmp_path / "contacts.csv", tmp_path / "j.sqlite3", mode=mode)
    check_outcomes(result, expected)
    batch_ids = [b.batch_id for b in result.batches]
    assert len(batch_ids) == -(-len(expected.requests) // 2000)
    assert all(b.state == "active" and not b.error for b in result.batches)
    assert_server_holds_exactly(emulator.url, emulator.api_key, batch_ids, expected)
    assert_applied_once(emulator.stats(), expected)
    batches_active_on_server(emulator, batch_ids)
    assert result.exit_code == 1  # some rows were refused
    assert result.counts["accepted"] == len(expected.requests)

    again = run(emulator, tmp_path / "contacts.csv", tmp_path / "j.sqlite3", mode=mode)
    assert again.requests_sent == 0
    assert again.summary() == result.summary()
    assert_applied_once(emulator.stats(), expected)

    ids, outcomes = load_outcomes(tmp_path / "j.sqlite3")
    assert ids == batch_ids and outcomes == result.outcomes


def test_a_clean_file_exits_0_and_keep_paused_leaves_batches_paused(
    emulator: Any, tmp_path: Path
) -> None:
    expected = write_contacts(tmp_path / "clean.csv", 50)
    result = run(emulator, tmp_path / "clean.csv", tmp_path / "j.sqlite3", keep_paused=True)
    assert result.exit_code == 0
    assert [b.state for b in result.batches] == ["verified"]
    with SyllableClient(client_config(emulator.url, emulator.api_key)) as api:
        assert api.get_batch(result.batches[0].batch_id)["paused"] is True
    # the same command without --keep-paused activates what the first run left paused
    again = run(emulator, tmp_path / "clean.csv", tmp_path / "j.sqlite3")
    assert [b.state for b in again.batches] == ["active"]
    batches_active_on_server(emulator, [again.batches[0].batch_id])
    assert_applied_once(emulator.stats(), expected)


def test_add_mode_appends_to_an_existing_batch(emulator: Any, tmp_path: Path) -> None:
    with SyllableClient(client_config(emulator.url, emulator.api_key)) as api:
        api.create_batch("standing", 7, paused=False)
        api.add_request("standing", _request("OLD1"))
    expected = write_contacts(tmp_path / "more.csv", 40)
    result = run(
        emulator, tmp_path / "more.csv", tmp_path / "j.sqlite3", mode="add", batch_id="standing"
    )
    assert result.exit_code == 0
    assert [(b.batch_id, b.preexisting, b.state) for b in result.batches] == [
        ("standing", True, "active")
    ]
    with SyllableClient(client_config(emulator.url, emulator.api_key)) as api:
        refs = {item["reference_id"] for item in api.results("standing")}
    assert refs == {"OLD1", *expected.requests}


def _request(ref: str) -> Any:
    from uploader.models import CommunicationRequest

    return CommunicationRequest(ref, "+15122000001", {})


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["upload", "add"])
def test_faults_still_exactly_once_even_run_twice(emulator: Any, tmp_path: Path, mode: str) -> None:
    """20% 5xx/429/timeouts + 5% ambiguous successes (seeded): every valid row exactly once,
    also when the same file is run again on the same journal and on a fresh one."""
    rows = 3000 if mode == "upload" else 1500
    expected = write_contacts(tmp_path / "contacts.csv", rows, invalid_every=53)
    emulator.set_faults(
        error_rate=0.12,
        rate_429=0.04,
        retry_after_s=0,
        hang_rate=0.04,
        hang_seconds=1.5,
        ambiguous_rate=0.05,
    )
    opts = {"mode": mode, "batch_size": 500}
    cfg = client_config(emulator.url, emulator.api_key, timeout=0.75)
    journal = tmp_path / "j.sqlite3"

    def go(journal_path: Path) -> Any:
        options = UploadOptions(
            campaign_id=7, journal_path=journal_path, confirmed=True, concurrency=16, **opts
        )
        return upload(tmp_path / "contacts.csv", ReadOptions(), options, cfg)

    first = go(journal)
    stats = emulator.stats()
    assert sum(stats["faults"].get(k, 0) for k in ("500", "502", "503", "504")) > 0
    assert stats["faults"].get("ambiguous", 0) > 0 and stats["faults"].get("hang", 0) > 0
    check_outcomes(first, expected)
    assert all(b.state == "active" for b in first.batches)
    assert_applied_once(stats, expected)

    second = go(journal)  # the same command again, by mistake
    assert second.requests_sent == 0 and second.summary() == first.summary()
    third = go(tmp_path / "other-journal.sqlite3")  # ... even on another journal
    check_outcomes(third, expected)
    emulator.clear_faults()
    batch_ids = [b.batch_id for b in first.batches]
    assert [b.batch_id for b in third.batches] == batch_ids
    assert_applied_once(emulator.stats(), expected)
    assert_server_holds_exactly(emulator.url, emulator.api_key, batch_ids, expected)


@pytest.mark.slow
def test_two_runs_racing_for_one_journal(emulator: Any, tmp_path: Path) -> None:
    expected = write_contacts(tmp_path / "contacts.csv", 400)
    emulator.set_faults(latency_ms=20)
    barrier = threading.Barrier(2)
    results: list[Any] = []
    errors: list[BaseException] = []

    def go() -> None:
        barrier.wait()
        try:
            results.append(
                run(
                    emulator,
                    tmp_path / "contacts.csv",
                    tmp_path / "j.sqlite3",
                    mode="add",
                    concurrency=4,
                )
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1 and len(errors) == 1
    assert isinstance(errors[0], LockHeldError) and errors[0].exit_code == 3
    assert results[0].exit_code == 0
    assert_applied_once(emulator.stats(), expected)


def test_a_bad_key_is_fatal_and_sends_nothing(emulator: Any, tmp_path: Path) -> None:
    write_contacts(tmp_path / "contacts.csv", 20)
    opts = UploadOptions(campaign_id=7, journal_path=tmp_path / "j.sqlite3")
    with pytest.raises(AuthError) as info:
        upload(
            tmp_path / "contacts.csv",
            ReadOptions(),
            opts,
            client_config(emulator.url, "not-the-key-0123456789"),
        )
    assert info.value.exit_code == 2
    assert "not-the-key" not in str(info.value)
    assert emulator.stats()["creates_applied"] == 0
    # the journal keeps the plan: a rerun with the right key resumes
    result = upload(
        tmp_path / "contacts.csv",
        ReadOptions(),
        opts,
        client_config(emulator.url, emulator.api_key),
    )
    assert result.exit_code == 0


def test_an_unfinished_run_blocks_other_settings_on_the_same_journal(
    emulator: Any, tmp_path: Path
) -> None:
    write_contacts(tmp_path / "contacts.csv", 30)
    journal = tmp_path / "j.sqlite3"
    with pytest.raises(AuthError):  # leaves a planned, unfinished run behind
        upload(
            tmp_path / "contacts.csv",
            ReadOptions(),
            UploadOptions(campaign_id=7, journal_path=journal),
            client_config(emulator.url, "wrong-key-0123456789"),
        )
    with pytest.raises(ConfigError, match="unfinished run of this file with other settings"):
        run(emulator, tmp_path / "contacts.csv", journal, batch_size=10)
    assert emulator.stats()["creates_applied"] == 0


def test_a_batch_id_taken_by_another_campaign_is_a_conflict(emulator: Any, tmp_path: Path) -> None:
    with SyllableClient(client_config(emulator.url, emulator.api_key)) as api:
        api.create_batch("taken", 99)
    write_contacts(tmp_path / "contacts.csv", 10)
    with pytest.raises(ConflictError, match="campaign 99"):
        run(emulator, tmp_path / "contacts.csv", tmp_path / "j.sqlite3", mode="add",
            batch_id="taken")  # fmt: skip
    with SyllableClient(client_config(emulator.url, emulator.api_key)) as api:
        assert api.results("taken") == []
