"""The exception tree maps to the documented exit codes, and only there."""

import pytest

from uploader import errors


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.InputError("bad", path="a.csv", row=3, column="Phone"), 2),
        (errors.ConfigError("bad"), 2),
        (errors.LockHeldError("held"), 3),
        (errors.PlanError("stale"), 4),
        (errors.ConfirmationRequired("say yes"), 5),
        (errors.RetriesExhausted("gone", status_code=503), 2),
        (errors.AuthError("no", status_code=401), 2),
        (KeyboardInterrupt(), 130),
        (RuntimeError("surprise"), 2),
    ],
)
def test_exit_codes(exc: BaseException, code: int) -> None:
    assert errors.exit_code_for(exc) == code


def test_input_error_names_file_row_and_column() -> None:
    exc = errors.InputError("not a phone number", path="people.xlsx", row=7, column="Mobile")
    assert str(exc) == "people.xlsx, row 7, column 'Mobile': not a phone number"
    assert (exc.path, exc.row, exc.column) == ("people.xlsx", 7, "Mobile")


def test_api_errors_are_split_transient_and_permanent() -> None:
    assert issubclass(errors.RetriesExhausted, errors.TransientApiError)
    for cls in (
        errors.AuthError,
        errors.NotFoundError,
        errors.ConflictError,
        errors.RequestValidationError,
    ):
        assert issubclass(cls, errors.PermanentApiError)
        assert not issubclass(cls, errors.TransientApiError)
