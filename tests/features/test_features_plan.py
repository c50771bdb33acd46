"""plan / upload --plan-file against the emulator: exact row lists, exact effect, stale plans."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.features.conftest import CONTACT_HEADER, phone, received, write_contacts, write_csv
from tests.helpers import RunCli
from uploader.client import SyllableClient
from uploader.config import ApiKey, ClientConfig
from uploader.emulator import EmulatorHandle
from uploader.models import CommunicationRequest

BATCH = "spring-recall"
ADD_TO_BATCH = ["--campaign-id", 3, "--batch-id", BATCH, "--mode", "add"]


def _client(emulator: EmulatorHandle) -> SyllableClient:
    return SyllableClient(ClientConfig(server_url=emulator.url, api_key=ApiKey(emulator.api_key)))


@pytest.fixture
def loaded(tmp_path: Path, run_cli: RunCli, server_args: list[str]) -> dict[str, Path]:
    """Batch BATCH already holds r1..r4; full.csv has 2 identical, 2 changed, 3 new, 2 bad."""
    part = write_contacts(tmp_path / "part.csv", range(1, 5))
    code, out, err = run_cli("upload", part, *server_args, *ADD_TO_BATCH)
    assert code == 0, out + err
    full = write_csv(
        tmp_path / "full.csv",
        CONTACT_HEADER,
        [
            ["r1", phone(1), "Name1"],  # row 2: identical
            ["r2", phone(2), "Name2"],  # row 3: identical
            ["r3", phone(33), "Name3"],  # row 4: other target -> conflict
            ["r4", phone(4), "Changed"],  # row 5: other variable -> conflict
            ["r5", phone(5), "Name5"],  # rows 6-8: new
            ["r6", phone(6), "Name6"],
            ["r7", phone(7), "Name7"],
            ["r8", "12", "Name8"],  # row 9: refused (phone)
            ["", phone(9), "Name9"],  # row 10: refused (no reference id)
            ["", "", ""],  # row 11: blank
        ],
    )
    return {"part": part, "full": full}


@dataclass
class Plans:
    """``plan`` and ``upload --plan-file`` of the loaded batch, into ``path``."""

    run_cli: RunCli
    server_args: list[str]
    loaded: dict[str, Path]
    path: Path

    def make(self) -> dict:
        code, stdout, err = self.run_cli(
            "plan", self.loaded["full"], *self.server_args, *ADD_TO_BATCH,
            "--out", self.path, "--json",
        )  # fmt: skip
        assert code == 1, stdout + err  # conflicts and refused rows need a look
        return json.loads(stdout)

    def apply(self, file: str = "full") -> tuple[int, str]:
        code, out, err = self.run_cli(
            "upload", self.loaded[file], *self.server_args, *ADD_TO_BATCH,
            "--plan-file", self.path,
        )  # fmt: skip
        return code, out + err


@pytest.fixture
def plans(
    loaded: dict[str, Path], run_cli: RunCli, server_args: list[str], tmp_path: Path
) -> Plans:
    return Plans(run_cli, server_args, loaded, tmp_path / "p.json")


def test_plan_lists_rows_exactly_and_changes_nothing(
    plans: Plans, emulator: EmulatorHandle
) -> None:
    before = received(emulator)
    data = plans.make()
    assert received(emulator) == before  # reading only
    assert data["counts"] == {"new": 3, "identical": 2, "conflict": 2, "refused": 2, "blank": 1}
    assert [(c["row_number"], c["reference_id"]) for c in data["conflicts"]] == [
        (4, "r3"),
        (5, "r4"),
    ]
    assert "different target" in data["conflicts"][0]["message"]
    assert "different variables" in data["conflicts"][1]["message"]
    assert [r["row_number"] for r in data["refused"]] == [9, 10]
    assert data["batches"] == [
        {
            "batch_id": BATCH,
            "exists": True,
            "held": 4,
            "campaign_id": 3,
            "new": 3,
            "identical": 2,
            "conflict": 2,
        }
    ]
    written = json.loads(plans.path.read_text(encoding="utf-8"))
    by_row = {r["row_number"]: r["action"] for r in written["rows"]}
    assert by_row == {
        2: "identical", 3: "identical", 4: "conflict", 5: "conflict",
        6: "new", 7: "new", 8: "new", 9: "refused", 10: "refused",
    }  # fmt: skip
    # the plan file keeps full values (it is the reviewed record); the screen does not
    conflict = next(r for r in written["rows"] if r["row_number"] == 4)
    assert conflict["target"] == phone(33) and conflict["server_target"] == phone(3)


def test_applying_a_plan_sends_exactly_the_new_rows(plans: Plans, emulator: EmulatorHandle) -> None:
    plans.make()
    before = received(emulator, BATCH)
    code, text = plans.apply()
    assert code == 1, text  # conflicts are rejected, refused rows stay refused
    after = received(emulator, BATCH)
    changed = {ref for ref in after if after[ref] != before.get(ref)}
    assert changed == {"r5", "r6", "r7"}
    assert all(after[ref] == {"received": 1, "applied": 1} for ref in changed)
    with _client(emulator) as api:
        held = {r["reference_id"]: r for r in api.results(BATCH)}
    assert sorted(held) == ["r1", "r2", "r3", "r4", "r5", "r6", "r7"]
    assert held["r3"]["target"] == phone(3)  # the conflict was not overwritten
    assert held["r4"]["request_variables"]["first_name"] == "Name4"
    assert "accepted 5" in text and "rejected 2" in text and "refused 2" in text


def test_a_stale_plan_is_refused_and_nothing_is_sent(
    plans: Plans, emulator: EmulatorHandle
) -> None:
    plans.make()
    with _client(emulator) as api:  # someone else adds one of "our" new rows meanwhile
        api.add_request(BATCH, CommunicationRequest("r6", phone(66), {"first_name": "Other"}))
    before = received(emulator)
    code, text = plans.apply()
    assert code == 4, text
    assert "changed since the plan was made" in text and BATCH in text
    assert received(emulator) == before


def test_a_plan_for_another_file_or_settings_is_refused(
    plans: Plans, run_cli: RunCli, server_args: list[str], emulator: EmulatorHandle
) -> None:
    plans.make()
    before = received(emulator)
    code, text = plans.apply("part")
    assert code == 4 and "changed since the plan was made" in text
    code, _out, err = run_cli(
        "upload", plans.loaded["full"], *server_args, "--campaign-id", 3, "--batch-id", "other",
        "--mode", "add", "--plan-file", plans.path,
    )  # fmt: skip
    assert code == 4 and "batch_id" in err
    data = json.loads(plans.path.read_text(encoding="utf-8"))
    data["rows"][0]["action"] = "new"  # hand-edited
    plans.path.write_text(json.dumps(data), encoding="utf-8")
    code, text = plans.apply()
    assert code == 4 and "edited" in text
    assert received(emulator) == before


def test_calls_moving_on_do_not_make_a_plan_stale(plans: Plans, emulator: EmulatorHandle) -> None:
    emulator.configure(time_scale=100_000)
    plans.make()
    time.sleep(0.2)
    with _client(emulator) as api:
        statuses = {r["request_status"] for r in api.results(BATCH)}
    assert statuses - {"PENDING"}  # the calls moved on
    code, text = plans.apply()
    assert code == 1 and "accepted 5" in text, text


def test_plan_screen_output_is_masked(plans: Plans, run_cli: RunCli) -> None:
    args = ["plan", plans.loaded["full"], *plans.server_args, *ADD_TO_BATCH, "--out", plans.path]
    code, out, err = run_cli(*args)
    assert code == 1
    assert "conflict          2" in out and "row 4  'r3'" in out
    assert phone(33) not in out + err and "+1512•••2033" in out
    code, out, err = run_cli(*args, "--show-pii")
    assert phone(33) in out and phone(3) in out


def test_plan_into_new_batches_applied_in_upload_mode(
    tmp_path: Path, run_cli: RunCli, server_args: list[str], emulator: EmulatorHandle
) -> None:
    file = write_csv(
        tmp_path / "new.csv", CONTACT_HEADER, [[f"n{i}", phone(i), "X"] for i in range(7)]
    )
    plan = tmp_path / "p.json"
    common = [*server_args, "--campaign-id", 4, "--batch-size", 3]
    code, out, err = run_cli("plan", file, *common, "--out", plan, "--json")
    assert code == 0, out + err
    data = json.loads(out)
    assert data["counts"]["new"] == 7
    assert [(b["exists"], b["new"]) for b in data["batches"]] == [
        (False, 3),
        (False, 3),
        (False, 1),
    ]
    assert received(emulator) == {} and emulator.stats()["requests"] == {}
    code, out, err = run_cli("upload", file, *common, "--plan-file", plan, "--json")
    assert code == 0, out + err
    batches = [b["batch_id"] for b in json.loads(out)["batches"]]
    assert batches == [b["batch_id"] for b in data["batches"]]
    assert len(received(emulator)) == 7
    code, out, err = run_cli("plan", file, *common, "--json", "--out", tmp_path / "again.json")
    assert json.loads(out)["counts"]["identical"] == 7  # a second look finds everything there
