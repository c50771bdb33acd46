"""``syllable-upload emulator``: serve the local Syllable outbound-batches emulator."""

from __future__ import annotations

from pathlib import Path

import click

from uploader.emulator.settings import DEMO_API_KEY, EmulatorSettings

__all__ = ["emulator", "register"]


def _rate() -> click.FloatRange:
    return click.FloatRange(0.0, 1.0)


@click.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port; the ready line shows which).",
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    metavar="KEY",
    help=f"A key to accept (repeatable). Default: the demo key {DEMO_API_KEY!r}.",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keep state in this SQLite file (survives restarts, even kill -9).",
)
@click.option("--latency-ms", type=click.FloatRange(min=0), default=0.0, help="Added latency.")
@click.option(
    "--latency-jitter-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    help="Extra random latency, uniform in [0, N] ms.",
)
@click.option("--error-rate", type=_rate(), default=0.0, help="Fraction answered 5xx.")
@click.option("--rate-429", type=_rate(), default=0.0, help="Fraction answered 429 + Retry-After.")
@click.option(
    "--drop-rate",
    type=_rate(),
    default=0.0,
    help="Fraction whose connection is dropped before anything is applied.",
)
@click.option(
    "--ambiguous-rate",
    type=_rate(),
    default=0.0,
    help="Fraction applied, then dropped before the response (ambiguous success).",
)
@click.option(
    "--hang-rate",
    type=_rate(),
    default=0.0,
    help="Fraction held without an answer (the client times out), then dropped unapplied.",
)
@click.option(
    "--rate-limit",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="N_PER_S",
    help="Per-key token bucket (429 beyond it); 0 = unlimited.",
)
@click.option(
    "--time-scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Simulated seconds per real second for the simulated calls.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random draw.")
def emulator(
    host: str,
    port: int,
    api_keys: tuple[str, ...],
    db_path: Path | None,
    latency_ms: float,
    latency_jitter_ms: float,
    error_rate: float,
    rate_429: float,
    drop_rate: float,
    ambiguous_rate: float,
    hang_rate: float,
    rate_limit: float,
    time_scale: float,
    seed: int,
) -> None:
    """Serve a local emulator of the Syllable outbound-batches API (with optional faults).

    Prints one line when ready, e.g. ``emulator ready at http://127.0.0.1:8000``. The admin
    API (faults, stats, reset) lives under /_emulator. Stop with Ctrl-C.

    \b
    Example:
      syllable-upload emulator --port 8000
      syllable-upload emulator --port 8000 --error-rate 0.1 --rate-429 0.05 --db state.sqlite
    """
    try:
        settings = EmulatorSettings.make(
            host=host,
            port=port,
            api_keys=api_keys or (DEMO_API_KEY,),
            db_path=db_path,
            time_scale=time_scale,
            seed=seed,
            latency_ms=latency_ms,
            latency_jitter_ms=latency_jitter_ms,
            error_rate=error_rate,
            rate_429=rate_429,
            drop_rate=drop_rate,
            ambiguous_rate=ambiguous_rate,
            hang_rate=hang_rate,
            rate_limit=rate_limit,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    keys = "the demo key" if not api_keys else f"{len(api_keys)} key(s)"

    def ready(url: str) -> None:
        where = f", state in {db_path}" if db_path else ""
        click.echo(f"emulator ready at {url} (accepting {keys}{where})")

    from uploader.emulator.server import serve  # FastAPI/uvicorn only for this command

    try:
        serve(settings, on_ready=ready)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    except KeyboardInterrupt:
        pass


def register(group: click.Group) -> None:
    group.add_command(emulator)
