"""Settings: a TOML config file with named profiles, resolved once, at the edge, into typed configs.

Precedence, highest first::

    command-line flags  >  environment  >  drop-folder settings.toml  >  profile  >  defaults

:func:`resolve` is the one place this happens. It takes the environment as an explicit mapping
(the CLI passes ``os.environ``; library code never reads it) and returns :class:`ResolvedSettings`
holding a :class:`~uploader.config.ClientConfig`, :class:`~uploader.config.ReadOptions` and
:class:`~uploader.config.UploadOptions`, plus where every value came from (``config show``).

The config file (default ``<user config dir>/syllable-bulk-uploader/config.toml``)::

    default_profile = "production"

    [profiles.production]
    server_url = "https://api.syllable.cloud"
    api_key_env = "SYLLABLE_PROD_KEY"     # name of the environment variable holding the key
    # api_key_file = "~/.config/syllable-bulk-uploader/prod.key"
    campaign_id = 42
    batch_size = 10000
    mode = "upload"
    mapping = "contacts-mapping.toml"     # relative paths are relative to this file

The API key itself is never stored in the config file: only the name of the variable or file that
holds it, so the file can be shared and committed.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs

from uploader.config import ApiKey, ClientConfig, ReadOptions, RetryConfig, UploadOptions
from uploader.errors import ConfigError

__all__ = [
    "APP_NAME",
    "ENV_VARS",
    "SETTINGS",
    "ResolvedSettings",
    "Setting",
    "default_config_path",
    "default_state_dir",
    "load_config_file",
    "load_settings_file",
    "resolve",
]

APP_NAME = "syllable-bulk-uploader"

#: Environment variables read (by the CLI, through :func:`resolve`), and what they set.
ENV_VARS: dict[str, str] = {
    "SYLLABLE_SERVER_URL": "server_url",
    "SYLLABLE_API_KEY": "api_key",
    "SYLLABLE_API_KEY_FILE": "api_key_file",
    "SYLLABLE_CAMPAIGN_ID": "campaign_id",
    "SYLLABLE_TIMEOUT": "timeout",
    "SYLLABLE_JOURNAL": "journal",
}


def default_config_path() -> Path:
    """The config file unless ``--config`` / ``SYLLABLE_UPLOAD_CONFIG`` name another."""
    return platformdirs.user_config_path(APP_NAME) / "config.toml"


def default_state_dir() -> Path:
    """Where journals live by default (per user, survives reboots)."""
    return platformdirs.user_state_path(APP_NAME)


# --------------------------------------------------------------------------- the settings table


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise ValueError("expected a whole number")


def _to_positive_int(value: Any) -> int:
    number = _to_int(value)
    if number < 1:
        raise ValueError("expected a number of at least 1")
    return number


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number") from None
    if number <= 0:
        raise ValueError("expected a number above 0")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _to_str(value: Any) -> str:
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError("expected text")
    return str(value).strip()


def _to_path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a file path")
    return Path(value.strip())


def _to_mode(value: Any) -> str:
    text = _to_str(value).lower()
    if text not in {"upload", "add"}:
        raise ValueError("expected 'upload' or 'add'")
    return text


def _to_sheet(value: Any) -> str | int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = _to_str(value)
    return int(text) if text.isdigit() else text


def _to_names(value: Any) -> tuple[str, ...]:
    """``"a,b"``, ``["a", "b"]`` or ``("a",)`` -> ``("a", "b")``."""
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = [str(v) for v in value]
    else:
        raise ValueError("expected a list of names")
    return tuple(item.strip() for item in items if item.strip())


def _to_column_map(value: Any) -> dict[str, str]:
    """``{"target": "Mobile"}`` or ``("target=Mobile",)`` -> ``{"target": "Mobile"}``."""
    pairs: dict[str, str] = {}
    if isinstance(value, Mapping):
        items = [(str(k), str(v)) for k, v in value.items()]
    elif isinstance(value, list | tuple):
        items = []
        for item in value:
            key, sep, column = str(item).partition("=")
            if not sep:
                raise ValueError(f"{item!r}: expected FIELD=COLUMN")
            items.append((key, column))
    else:
        raise ValueError("expected a table like {target = 'Mobile'}")
    for key, column in items:
        key = key.strip().lower()
        if key not in {"target", "reference_id"} or not column.strip():
            raise ValueError(f"{key!r}: only target and reference_id can be mapped to a column")
        pairs[key] = column.strip()
    return pairs


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(_to_str(value))
    except ValueError:
        raise ValueError("expected an ISO date-time like 2026-12-31T18:00:00") from None


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting: its name (in flags and the config file), parser, and where it lands."""

    name: str
    parse: Callable[[Any], Any]
    target: str  # "client", "retry", "read", "upload", "meta"
    field: str  # attribute of the target dataclass
    help: str
    in_files: bool = True  # may be set in a profile / settings.toml


SETTINGS: tuple[Setting, ...] = (
    Setting("server_url", _to_str, "client", "server_url", "API base URL"),
    Setting("timeout", _to_float, "client", "timeout", "per-request timeout, seconds"),
    Setting("verify_tls", _to_bool, "client", "verify_tls", "check TLS certificates"),
    Setting("max_attempts", _to_positive_int, "retry", "max_attempts", "tries per API call"),
    Setting("max_retry_seconds", _to_float, "retry", "max_elapsed", "retry budget per call"),
    Setting("campaign_id", _to_int, "upload", "campaign_id", "campaign new batches call for"),
    Setting("mode", _to_mode, "upload", "mode", "upload (one file per batch) or add (per row)"),
    Setting("batch_size", _to_positive_int, "upload", "batch_size", "rows per batch"),
    Setting("concurrency", _to_positive_int, "upload", "concurrency", "requests in flight (add)"),
    Setting("batch_id", _to_str, "upload", "batch_id", "explicit batch id", in_files=False),
    Setting("batch_id_template", _to_str, "upload", "batch_id_template", "batch id template"),
    Setting("keep_paused", _to_bool, "upload", "keep_paused", "leave batches paused"),
    Setting("expires_on", _to_datetime, "upload", "expires_on", "batch expiry"),
    Setting("call_rate", _to_positive_int, "upload", "call_rate", "calls per hour"),
    Setting("auto_call_rate", _to_bool, "upload", "auto_call_rate", "let the server pick rate"),
    Setting("journal", _to_path, "upload", "journal_path", "journal SQLite file"),
    Setting("sample", _to_positive_int, "upload", "sample", "trial run size", in_files=False),
    Setting("plan_file", _to_path, "upload", "plan_file", "reviewed plan", in_files=False),
    Setting("failed", _to_path, "upload", "failed_path", "fix-and-resend file", in_files=False),
    Setting(
        "large_send_threshold",
        _to_positive_int,
        "upload",
        "large_send_threshold",
        "rows above which a send needs confirmation",
    ),
    Setting("assume_yes", _to_bool, "upload", "confirmed", "confirm large sends (--yes)"),
    Setting("wait_timeout", _to_float, "upload", "wait_timeout", "seconds to wait per batch"),
    Setting("sheet", _to_sheet, "read", "sheet", "sheet name or 0-based index"),
    Setting("header_row", _to_positive_int, "read", "header_row", "row holding the header"),
    Setting("column_map", _to_column_map, "read", "column_map", "target/reference_id columns"),
    Setting("exclude", _to_names, "read", "exclude", "columns left out of the variables"),
    Setting("region", _to_str, "read", "region", "default phone region"),
    Setting(
        "generate_reference_ids",
        _to_bool,
        "read",
        "generate_reference_ids",
        "make stable ids when there is no id column",
    ),
    Setting("dedupe_targets", _to_bool, "read", "dedupe_targets", "refuse repeated numbers"),
    Setting("require_vars", _to_names, "read", "require_vars", "variables every row needs"),
    Setting("max_value_length", _to_positive_int, "read", "max_value_length", "longest value"),
    Setting("encoding", _to_str, "read", "encoding", "CSV text encoding"),
    Setting("delimiter", _to_str, "read", "delimiter", "CSV delimiter"),
    Setting("mapping", _to_path, "meta", "mapping_file", "TOML mapping file"),
)
_BY_NAME = {s.name: s for s in SETTINGS}

#: Other spellings accepted in ``flags`` (click parameter names) and files.
_ALIASES = {
    "yes": "assume_yes",
    "mapping_file": "mapping",
    "journal_path": "journal",
    "failed_path": "failed",
    "map": "column_map",
}
#: Keys a profile may hold besides :data:`SETTINGS` (how to find the key; never the key itself).
_KEY_SOURCES = ("api_key_env", "api_key_file")
_PATH_SETTINGS = {"journal", "mapping", "plan_file", "failed"}

_TARGETS: dict[str, type] = {
    "client": ClientConfig,
    "retry": RetryConfig,
    "read": ReadOptions,
    "upload": UploadOptions,
}


# --------------------------------------------------------------------------- files


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{what} {path} is not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"{what} {path} cannot be read: {exc.strerror or exc}") from exc


def load_config_file(path: Path) -> dict[str, Any]:
    """Parse the config file: ``{"default_profile": ..., "profiles": {name: {...}}}``, checked."""
    data = _read_toml(path, "config file")
    unknown = sorted(set(data) - {"default_profile", "profiles"})
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown top-level key {unknown[0]!r}; "
            "put settings under [profiles.NAME] and choose one with default_profile = 'NAME'"
        )
    profiles = data.get("profiles", {})
    if not isinstance(profiles, dict) or not all(isinstance(v, dict) for v in profiles.values()):
        raise ConfigError(f"config file {path}: [profiles.NAME] must be tables of settings")
    for name, values in profiles.items():
        _check_keys(values, f"config file {path}, profile {name!r}")
    default = data.get("default_profile")
    if default is not None and default not in profiles:
        raise ConfigError(
            f"config file {path}: default_profile {default!r} has no [profiles.{default}] table"
        )
    return data


def load_settings_file(path: Path) -> dict[str, Any]:
    """Parse a drop folder's ``settings.toml`` (the same keys a profile takes), checked."""
    data = _read_toml(path, "settings file")
    _check_keys(data, f"settings file {path}")
    return data


def _check_keys(values: Mapping[str, Any], where: str) -> None:
    allowed = {s.name for s in SETTINGS if s.in_files} | set(_KEY_SOURCES) | {"map"}
    for key in values:
        if key in {"api_key", "key"}:
            raise ConfigError(
                f"{where}: the API key itself does not belong in a settings file; use "
                "api_key_env = 'NAME_OF_ENV_VAR' or api_key_file = 'path/to/key'"
            )
        if key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: unknown setting {key!r}{hint}")


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True, slots=True)
class ResolvedSettings:
    """The effective settings of one run, and where each value came from."""

    client: ClientConfig
    read: ReadOptions
    upload: UploadOptions
    mapping_file: Path | None
    profile: str | None
    config_path: Path
    config_found: bool
    sources: dict[str, str] = field(default_factory=dict)  # setting -> "flag", "env X", ...
    api_key_note: str = ""  # why there is no key, when there is none

    def describe(self) -> list[dict[str, str]]:
        """Every setting with its effective value (key masked) and source, for ``config show``."""
        rows = [
            {
                "setting": "api_key",
                "value": self.client.api_key.masked() if self.client.api_key else "(not set)",
                "source": self.sources.get("api_key", self.api_key_note or "not set"),
            }
        ]
        objects: dict[str, Any] = {
            "client": self.client,
            "retry": self.client.retry,
            "read": self.read,
            "upload": self.upload,
        }
        for setting in SETTINGS:
            if not setting.in_files and setting.name not in self.sources:
                continue  # per-run flags (--sample, --batch-id...) only when given
            if setting.target == "meta":
                value: Any = self.mapping_file
            else:
                value = getattr(objects[setting.target], setting.field)
            rows.append(
                {
                    "setting": setting.name,
                    "value": _display(value),
                    "source": self.sources.get(setting.name, "default"),
                }
            )
        return rows

    def require_api_key(self) -> ApiKey:
        """The key, or a :class:`ConfigError` that says where it was looked for."""
        if self.client.api_key:
            return self.client.api_key
        raise ConfigError(
            "no API key: set SYLLABLE_API_KEY, pass --api-key-file, or name one in the profile "
            f"(api_key_env / api_key_file){'; ' + self.api_key_note if self.api_key_note else ''}"
        )


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@dataclass(slots=True)
class _Layer:
    label: str  # "profile prod (/path/config.toml)"
    values: dict[str, Any]
    base_dir: Path | None  # relative paths in this layer resolve against it


def _parse(setting: Setting, value: Any, label: str) -> Any:
    try:
        parsed = setting.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{label}: {setting.name} = {value!r}: {exc}") from None
    return parsed


def _canonical(values: Mapping[str, Any]) -> dict[str, Any]:
    return {_ALIASES.get(key, key): value for key, value in values.items()}


def _read_key_file(path: Path, label: str) -> ApiKey:
    try:
        text = path.expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{label}: API key file {path} cannot be read: {exc.strerror or exc}"
        ) from None
    key = ApiKey(text)
    if not key:
        raise ConfigError(f"{label}: API key file {path} is empty")
    return key


def _relative(path: Path, base: Path | None) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() or base is None else base / path


def resolve(
    *,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_path: Path | None = None,
    profile: str | None = None,
    folder_settings: Mapping[str, Any] | None = None,
    folder_label: str = "folder settings",
    folder_dir: Path | None = None,
) -> ResolvedSettings:
    """Merge defaults < profile < folder settings < environment < flags into typed configs.

    ``flags`` uses click's parameter names (``server_url``, ``campaign_id``, ``yes``, ``map``...);
    ``None`` (and ``False`` for on/off flags) means "not given". Keys that are not settings are
    ignored, so a command can pass its parameters as they are. ``environ`` is the environment to
    read (the CLI passes ``os.environ``; ``None`` reads nothing). ``config_path=None`` uses
    :func:`default_config_path`, which may be absent; an explicit path must exist.
    """
    environ = environ or {}
    explicit_config = config_path is not None
    path = config_path if config_path is not None else default_config_path()
    config: dict[str, Any] = {}
    found = path.is_file()
    if found:
        config = load_config_file(path)
    elif explicit_config:
        raise ConfigError(f"config file {path} does not exist")
    profiles: dict[str, dict[str, Any]] = config.get("profiles", {})
    chosen = profile or config.get("default_profile")
    if chosen is None and "default" in profiles:
        chosen = "default"
    if chosen is not None and chosen not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        where = f"config file {path}" if found else f"no config file at {path}"
        raise ConfigError(f"profile {chosen!r} not found ({where}; profiles: {known})")

    layers: list[_Layer] = []  # lowest precedence first
    if chosen is not None:
        layers.append(_Layer(f"profile {chosen} ({path})", dict(profiles[chosen]), path.parent))
    if folder_settings:
        _check_keys(folder_settings, folder_label)
        layers.append(_Layer(folder_label, dict(folder_settings), folder_dir))
    env_values = {ENV_VARS[k]: v for k, v in environ.items() if k in ENV_VARS and v.strip()}
    env_labels = {ENV_VARS[k]: f"env {k}" for k in environ if k in ENV_VARS}
    flag_values = {
        k: v
        for k, v in _canonical(flags or {}).items()
        if v is not None and v is not False and v != () and v != {}
    }
    if "insecure" in flag_values:
        flag_values["verify_tls"] = False

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in layers:
        for key, raw in _canonical(layer.values).items():
            if key in _BY_NAME:
                value = _parse(_BY_NAME[key], raw, layer.label)
                if key in _PATH_SETTINGS:
                    value = _relative(value, layer.base_dir)
                values[key], sources[key] = value, layer.label
    for key, raw in env_values.items():
        if key in _BY_NAME:
            values[key] = _parse(_BY_NAME[key], raw, env_labels[key])
            sources[key] = env_labels[key]
    for key, raw in flag_values.items():
        if key in _BY_NAME:
            values[key] = _parse(_BY_NAME[key], raw, f"--{key.replace('_', '-')}")
            sources[key] = "flag"

    api_key, key_source, key_note = _resolve_key(
        flag_values, env_values, env_labels, layers, environ
    )
    if api_key is not None:
        sources["api_key"] = key_source

    built: dict[str, dict[str, Any]] = {"client": {}, "retry": {}, "read": {}, "upload": {}}
    for key, value in values.items():
        setting = _BY_NAME[key]
        if setting.target != "meta":
            built[setting.target][setting.field] = value
    if "server_url" in built["client"]:
        built["client"]["server_url"] = built["client"]["server_url"].rstrip("/")
    retry = replace(RetryConfig(), **built["retry"])
    client = replace(ClientConfig(), **built["client"], retry=retry, api_key=api_key)
    read = replace(ReadOptions(), **built["read"])
    mapping_file = values.get("mapping")
    if mapping_file is not None:
        from uploader.mapping import apply_mapping_file  # the reader's own format and checks

        read = apply_mapping_file(read, mapping_file)
    upload = replace(UploadOptions(), **built["upload"])
    return ResolvedSettings(
        client=client,
        read=read,
        upload=upload,
        mapping_file=mapping_file,
        profile=chosen,
        config_path=path,
        config_found=found,
        sources=sources,
        api_key_note=key_note,
    )


def _resolve_key(
    flag_values: Mapping[str, Any],
    env_values: Mapping[str, str],
    env_labels: Mapping[str, str],
    layers: list[_Layer],
    environ: Mapping[str, str],
) -> tuple[ApiKey | None, str, str]:
    """(key, where it came from, why there is none): flag file > env > folder > profile."""
    if flag_values.get("api_key_file"):
        file = Path(flag_values["api_key_file"])
        return _read_key_file(file, "--api-key-file"), f"flag --api-key-file {file}", ""
    if env_values.get("api_key"):
        return ApiKey(env_values["api_key"]), env_labels["api_key"], ""
    if env_values.get("api_key_file"):
        file = Path(env_values["api_key_file"])
        label = env_labels["api_key_file"]
        return _read_key_file(file, label), f"{label} ({file})", ""
    note = ""
    for layer in reversed(layers):  # highest precedence first
        var = layer.values.get("api_key_env")
        if var:
            value = environ.get(str(var), "").strip()
            if value:
                return ApiKey(value), f"{layer.label}: env {var}", ""
            note = note or f"{layer.label} names env {var}, which is not set"
        file_value = layer.values.get("api_key_file")
        if file_value:
            file = _relative(_to_path(file_value), layer.base_dir)
            return _read_key_file(file, layer.label), f"{layer.label}: file {file}", ""
    return None, "", note


def _field_names(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


# The table above must only name real fields; fail at import rather than at a user's run.
for _s in SETTINGS:
    if _s.target != "meta":
        assert _s.field in _field_names(_TARGETS[_s.target]), _s
