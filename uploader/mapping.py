"""Which column is the phone number, which the reference id, and which become request variables.

Headers are matched to the two fields by aliases that ignore case, spaces and punctuation
(``Phone Number``, ``phone_number`` and ``PHONE-NUMBER`` are the same); ``column_map`` overrides.
Every other column becomes a request variable keyed by its header text (trimmed, otherwise
verbatim: prompts reference variables by that exact name). Near misses are reported, never
silently renamed. Settings can be saved in a TOML mapping file and merged into
:class:`~uploader.config.ReadOptions` with :func:`apply_mapping_file`.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import re
import tomllib
import unicodedata
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from uploader.config import ReadOptions
from uploader.errors import ConfigError, InputError
from uploader.models import ColumnMapping

__all__ = [
    "REFERENCE_ID_ALIASES",
    "TARGET_ALIASES",
    "apply_mapping",
    "apply_mapping_file",
    "column_indexes",
    "fold_header",
    "load_mapping_file",
    "resolve_columns",
]

log = logging.getLogger("uploader")

#: In priority order: when several headers match, the earlier alias wins.
TARGET_ALIASES = (
    "target",
    "phone",
    "phone number",
    "phone_number",
    "phone no",
    "mobile",
    "mobile number",
    "mobile phone",
    "cell",
    "cell phone",
    "cellphone",
    "cell number",
    "contact number",
    "contact_number",
    "contact phone",
    "telephone",
    "telephone number",
    "tel",
    "tel no",
    "msisdn",
    "phone e164",
    "e164",
    "to",
    "destination",
)
REFERENCE_ID_ALIASES = (
    "reference_id",
    "reference id",
    "reference",
    "ref",
    "ref id",
    "ref no",
    "id",
    "external id",
    "record id",
    "contact id",
    "customer id",
    "client id",
    "unique id",
    "uid",
)

_SETTING_KEYS: dict[str, type | tuple[type, ...]] = {
    "target": str,
    "reference_id": str,
    "exclude": list,
    "region": str,
    "sheet": (str, int),
    "header_row": int,
    "generate_reference_ids": bool,
    "dedupe_targets": bool,
    "require_vars": list,
    "max_value_length": int,
    "encoding": str,
    "delimiter": str,
}


def fold_header(text: str) -> str:
    """Header text reduced for alias matching: NFKC, casefolded, letters and digits only."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return re.sub(r"[\W_]+", "", text)


_TARGET_FOLDED = {fold_header(a): i for i, a in enumerate(TARGET_ALIASES)}
_REF_FOLDED = {fold_header(a): i for i, a in enumerate(REFERENCE_ID_ALIASES)}


# ------------------------------------------------------------------------------ mapping file


def load_mapping_file(path: Path) -> dict[str, Any]:
    """Read a TOML mapping file into checked settings (keys as in :data:`_SETTING_KEYS`).

    Accepts the keys at top level or under ``[mapping]``; ``[columns]`` may hold ``target`` and
    ``reference_id``. Unknown keys are an error (a typo must not be silently ignored).
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read mapping file: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML mapping file: {exc}") from exc
    settings: dict[str, Any] = {}
    for section in (raw, raw.get("mapping", {}), raw.get("columns", {}), raw.get("map", {})):
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [mapping], [columns] and [map] must be tables")
        for key, value in section.items():
            if key in ("mapping", "columns", "map") and section is raw:
                continue
            if key not in _SETTING_KEYS:
                close = difflib.get_close_matches(key, list(_SETTING_KEYS), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigError(
                    f"{path}: unknown setting {key!r}{hint}; known: {', '.join(_SETTING_KEYS)}"
                )
            expected = _SETTING_KEYS[key]
            if (expected is int and isinstance(value, bool)) or not isinstance(value, expected):
                raise ConfigError(f"{path}: setting {key!r} has the wrong type ({value!r})")
            if isinstance(value, list) and not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{path}: setting {key!r} must be a list of column names")
            settings[key] = value
    return settings


def apply_mapping(options: ReadOptions, settings: Mapping[str, Any]) -> ReadOptions:
    """Fill ``options`` from saved settings wherever ``options`` still holds the default.

    Explicit values already in ``options`` (from flags) win, so the order of application does
    not matter: flags > mapping file > defaults.
    """
    defaults = ReadOptions()
    changes: dict[str, Any] = {}
    column_map = dict(options.column_map)
    for field_name in ("target", "reference_id"):
        if field_name in settings:
            column_map.setdefault(field_name, str(settings[field_name]))
    if column_map != options.column_map:
        changes["column_map"] = column_map
    for key, value in settings.items():
        if key in ("target", "reference_id"):
            continue
        if key in ("exclude", "require_vars"):
            value = tuple(value)
        if getattr(options, key) == getattr(defaults, key):
            changes[key] = value
    return dataclasses.replace(options, **changes) if changes else options


def apply_mapping_file(options: ReadOptions, path: Path) -> ReadOptions:
    """:func:`load_mapping_file` + :func:`apply_mapping`."""
    return apply_mapping(options, load_mapping_file(path))


# ---------------------------------------------------------------------------- column mapping


def _find_column(headers: Sequence[str], wanted: str, field_name: str) -> int:
    """Index of the header the user named (exact, then trimmed, then case/space-insensitive)."""
    stripped = [h.strip() for h in headers]
    for candidates in (list(headers), stripped):
        if wanted in candidates:
            return candidates.index(wanted)
    if wanted.strip() in stripped:
        return stripped.index(wanted.strip())
    folded = [fold_header(h) for h in headers]
    hits = [i for i, f in enumerate(folded) if f and f == fold_header(wanted)]
    if len(hits) == 1:
        return hits[0]
    raise ConfigError(
        f"--map {field_name}={wanted!r}: no such column{_suggest(wanted, stripped)}; "
        f"the headers are: {_list_headers(headers)}"
    )


def _suggest(wanted: str, headers: Sequence[str]) -> str:
    close = difflib.get_close_matches(wanted, [h for h in headers if h], n=1, cutoff=0.6)
    if not close:
        lowered = {h.strip().casefold(): h for h in headers if h}
        close = difflib.get_close_matches(wanted.strip().casefold(), list(lowered), n=1)
        close = [lowered[c] for c in close]
    return f" (closest header: {close[0]!r})" if close else ""


def _list_headers(headers: Sequence[str]) -> str:
    shown = [repr(h) for h in headers if h.strip()]
    return ", ".join(shown) if shown else "(none)"


def _by_alias(headers: Sequence[str], aliases: Mapping[str, int], taken: set[int]) -> int | None:
    best: tuple[int, int] | None = None
    for i, header in enumerate(headers):
        if i in taken:
            continue
        rank = aliases.get(fold_header(header))
        if rank is not None and (best is None or rank < best[0]):
            best = (rank, i)
    return best[1] if best else None


def resolve_columns(headers: Sequence[str], options: ReadOptions) -> ColumnMapping:
    """Map headers to target / reference_id / variables, or raise a ConfigError saying why.

    The mapping holds the headers trimmed (request-variable keys are exactly these names);
    :func:`column_indexes` finds their positions. Headers that are equal once trimmed are an
    error, so the names are unambiguous.
    """
    headers = list(headers)
    stripped = [h.strip() for h in headers]
    excluded = _excluded(stripped, options.exclude)

    seen: dict[str, int] = {}
    for i, name in enumerate(stripped):
        if not name or i in excluded:
            continue
        if name in seen:
            from uploader.reader import column_letter

            raise InputError(
                f"the header {name!r} appears twice (columns {column_letter(seen[name])} and "
                f"{column_letter(i)}); rename one of them, or leave both out with --exclude",
                column=name,
            )
        seen[name] = i

    taken: set[int] = set()
    if "target" in options.column_map:
        target = _find_column(headers, options.column_map["target"], "target")
    else:
        found = _by_alias(headers, _TARGET_FOLDED, excluded)
        if found is None:
            raise ConfigError(
                "no phone-number column found (looked for headers like Phone, Mobile, "
                f"Phone Number, Target); the headers are: {_list_headers(headers)}. "
                "Name the column with --map target=COLUMN"
            )
        target = found
    taken.add(target)

    ref: int | None
    if "reference_id" in options.column_map:
        ref = _find_column(headers, options.column_map["reference_id"], "reference_id")
        if ref == target:
            raise ConfigError("target and reference_id cannot be the same column")
    else:
        ref = _by_alias(headers, _REF_FOLDED, excluded | taken)
        if ref is None and not options.generate_reference_ids:
            raise ConfigError(
                "no reference-id column found (looked for headers like reference_id, ID, Ref, "
                f"External ID); the headers are: {_list_headers(headers)}. Name it with "
                "--map reference_id=COLUMN, or use --generate-reference-ids"
            )
    if ref is not None:
        taken.add(ref)

    variables = tuple(
        name for i, name in enumerate(stripped) if name and i not in taken and i not in excluded
    )
    _check_required(options.require_vars, variables, stripped)
    return ColumnMapping(
        reference_id=stripped[ref] if ref is not None else None,
        target=stripped[target],
        variables=variables,
        generated_reference_ids=ref is None,
    )


def _excluded(stripped: Sequence[str], exclude: Sequence[str]) -> set[int]:
    out: set[int] = set()
    for name in exclude:
        hits = [i for i, h in enumerate(stripped) if h == name.strip()]
        if not hits:
            hits = [i for i, h in enumerate(stripped) if h.casefold() == name.strip().casefold()]
        if not hits:
            log.warning("--exclude %r: no such column%s", name, _suggest(name, stripped))
        out.update(hits)
    return out


def _check_required(
    required: Sequence[str], variables: Sequence[str], headers: Sequence[str]
) -> None:
    """Every required variable must be a header exactly; near misses are named, not fixed."""
    required = [name.strip() for name in required]
    for name in required:  # present, but a look-alike column may hold what the author meant
        if name in variables:
            for other in variables:
                if other != name and fold_header(other) == fold_header(name):
                    log.warning(
                        "column %r differs from the required variable %r only by case, spaces "
                        "or punctuation; both are sent as separate variables, nothing is renamed",
                        other,
                        name,
                    )
    missing = [name for name in required if name not in variables]
    if not missing:
        return
    parts = []
    for name in missing:
        hint = ""
        near = [h for h in variables if h.casefold() == name.strip().casefold()]
        if name.strip() in headers:
            hint = " (that column is the target or reference id, or excluded)"
        elif near:
            hint = f" (closest header: {near[0]!r}; names must match exactly)"
        else:
            hint = _suggest(name, variables)
        parts.append(f"{name!r}{hint}")
    raise ConfigError(
        "required variable"
        + ("s " if len(parts) > 1 else " ")
        + ", ".join(parts)
        + f" not among the columns; the headers are: {_list_headers(list(headers))}"
    )


def column_indexes(headers: Sequence[str], mapping: ColumnMapping) -> dict[str, Any]:
    """Positions of the mapped columns (target, reference_id or None, variables) in ``headers``."""
    stripped = [h.strip() for h in headers]
    return {
        "target": stripped.index(mapping.target.strip()),
        "reference_id": (
            stripped.index(mapping.reference_id.strip())
            if mapping.reference_id is not None
            else None
        ),
        "variables": [stripped.index(v.strip()) for v in mapping.variables],
    }
