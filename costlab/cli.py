"""The `costlab` command line: parse options, call one library function, render the result.

Known errors become a one-line message and an exit code, never a traceback: 2 for bad input (dates, formats, --db), 1 for failures while running.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

try:  # typer 0.2x vendors its own click; its exceptions live there
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover - older typer on plain click
    from click import exceptions as click_exc  # type: ignore[no-redef]

from costlab import redact
from costlab.errors import CostlabError, StoreError, UsageError

app = typer.Typer(
    help="costlab: who spent what on which GPUs, how much was idle, what a token costs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
collect_app = typer.Typer(help="Collect source data into the database.", no_args_is_help=True)
prices_app = typer.Typer(
    help="Manage price data (overrides, negotiated rates).", no_args_is_help=True
)
app.add_typer(collect_app, name="collect")
export_app = typer.Typer(
    help="Export the database for other engines and tools.", no_args_is_help=True
)
app.add_typer(prices_app, name="prices")
app.add_typer(export_app, name="export")

# Width of tables written to a pipe or file: rich would cut them to 80 columns; wider than this,
# rich shrinks and wraps columns instead of cutting them.
PIPE_WIDTH = 240


def _stdout_console() -> Console:
    """rich's console for stdout; not a terminal (and no COLUMNS): PIPE_WIDTH, not 80."""
    probe = Console()
    if probe.is_terminal or os.environ.get("COLUMNS", "").isdigit():
        return probe
    return Console(width=PIPE_WIDTH)


console = _stdout_console()
err_console = Console(stderr=True)


class State:
    db: Path = Path("costlab.duckdb")


state = State()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"costlab {version('costlab')}")
        except PackageNotFoundError:  # a source tree that was never installed
            typer.echo("costlab (not installed)")
        raise typer.Exit()


def _existing_db() -> Path:
    """--db for a read-only command: it must exist (opening would create an empty file)."""
    from costlab import store

    store.require_database(state.db)
    return state.db


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


class TableOrJson(StrEnum):
    table = "table"
    json = "json"


class Engine(StrEnum):
    duckdb = "duckdb"
    spark = "spark"


class IdlePolicy(StrEnum):
    separate = "separate"
    share = "share"


@app.callback()
def _global(
    ctx: typer.Context,
    db: Annotated[
        Path | None,
        typer.Option(
            "--db", help="DuckDB database file (env COSTLAB_DB, default ./costlab.duckdb)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")
    ] = False,
    init_foreign_db: Annotated[
        bool,
        typer.Option(
            "--init-foreign-db",
            help="Add costlab's tables to a DuckDB file of another application "
            "(env COSTLAB_INIT_FOREIGN_DB=1); refused without it.",
        ),
    ] = False,
    version: Annotated[  # noqa: ARG001 - handled eagerly by _version
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    global console
    from costlab import progress, store

    console = _stdout_console()  # stdout may have been swapped since import (tests, notebooks)
    progress.enable()
    ctx.call_on_close(lambda: progress.enable(False))  # in-process callers (tests) after us
    if init_foreign_db:
        store.allow_foreign()
        ctx.call_on_close(lambda: store.allow_foreign(False))
    state.db = db or Path(os.environ.get("COSTLAB_DB", "costlab.duckdb"))
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # The Prometheus client counts and reports its own retries; urllib3's per-retry warnings
    # would put a multi-line log in front of the one-line error.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.INFO if verbose else logging.ERROR)
    # A URL's password or token must not reach a log line, whoever logged it (urllib3 logs paths
    # with their query).
    redact.install_log_filter()


def _entry(module: str, function: str) -> Any:
    """A command's implementation, imported when the command runs (keeps `costlab --help` fast)."""
    return getattr(importlib.import_module(module), function)


def _show(result: Any) -> None:
    if result is None:
        return
    if isinstance(result, str):
        typer.echo(result)
    else:
        console.print(result)


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=1, max=90, help="Days of history to generate.")] = 7,
    seed: Annotated[
        int, typer.Option(help="Random seed: same seed, same fleet, same dollars.")
    ] = 42,
) -> None:
    """Generate a realistic demo fleet, load it through the collectors' loaders, allocate, summarise."""
    from costlab import pipeline

    _show(pipeline.run_demo(state.db, days=days, seed=seed, console=console))


PARQUET_HELP = (
    "After the run, publish the partitions it touched to this Parquet layout "
    "(folder or s3://bucket/prefix; docs/scaling.md)."
)


def _published(root: str | None, source: str, run: Any) -> Any:
    """Run a collector; with --parquet, then publish what it loaded to the Parquet layout."""
    if root is None:
        return run()
    from costlab.scale.publish import collect_and_publish

    return collect_and_publish(state.db, root, source, run)


@collect_app.command("prometheus")
def collect_prometheus(
    url: Annotated[
        str,
        typer.Option(help="Prometheus-compatible query endpoint (Prometheus, Thanos, Mimir, AMP)."),
    ],
    start: Annotated[
        str | None, typer.Option(help="ISO start; default: the stored watermark.")
    ] = None,
    end: Annotated[str | None, typer.Option(help="ISO end; default: now.")] = None,
    step: Annotated[
        str | None,
        typer.Option(
            help="Query resolution, e.g. 30s, 1m; default: `step` of costlab.toml's prometheus "
            "table or COSTLAB_PROM_STEP, else per group the detected scrape interval (at least "
            "15s). Never below a scrape interval: a shorter step is raised, with a warning."
        ),
    ] = None,
    cluster: Annotated[
        str | None, typer.Option(help="Cluster name to record (default: the `cluster` label).")
    ] = None,
    parquet: Annotated[str | None, typer.Option("--parquet", help=PARQUET_HELP)] = None,
    clusters: Annotated[
        list[str] | None,
        typer.Option(
            help="Shard by cluster: collect these (comma-separated or repeated), each with a "
            'cluster="NAME" matcher and its own watermarks (docs/collect-prometheus.md).'
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(min=1, help="Chunks fetched at once (default 2; at most this + 1 in memory)."),
    ] = None,
) -> None:
    """Collect DCGM, kube-state-metrics and Karpenter series from Prometheus."""
    fn = _entry("costlab.collect.prometheus.collector", "collect_from_cli")
    _show(
        _published(
            parquet,
            "prometheus",
            lambda: fn(
                state.db,
                url=url,
                start=start,
                end=end,
                step=step,
                cluster=cluster,
                console=console,
                clusters=clusters,
                concurrency=concurrency,
            ),
        )
    )


@collect_app.command("langfuse")
def collect_langfuse(
    host: Annotated[
        str,
        typer.Option(
            help="LangFuse base URL; keys from LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY."
        ),
    ],
    parquet: Annotated[str | None, typer.Option("--parquet", help=PARQUET_HELP)] = None,
) -> None:
    """Collect LangFuse GENERATION observations (tokens, model, latency, cost) incrementally."""
    fn = _entry("costlab.collect.langfuse.collector", "collect_from_cli")
    _show(_published(parquet, "langfuse", lambda: fn(state.db, host=host, console=console)))


@collect_app.command("prices")
def collect_prices(
    region: Annotated[
        list[str] | None, typer.Option(help="AWS region(s) to price; repeatable.")
    ] = None,
    snapshot: Annotated[
        Path | None, typer.Option(help="Load an offline price snapshot CSV instead of calling AWS.")
    ] = None,
) -> None:
    """Collect EC2 on-demand (Pricing API) and spot (price history) prices."""
    fn = _entry("costlab.collect.ec2.prices", "collect_from_cli")
    _show(fn(state.db, regions=region or [], snapshot=snapshot, console=console))


@prices_app.command("import")
def prices_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: instance_type,region,capacity_type,usd_per_hour[,zone,effective_from]"
        ),
    ],
) -> None:
    """Import price overrides (negotiated rates, Savings Plans, reserved) that win over list prices."""
    fn = _entry("costlab.collect.ec2.prices", "import_from_cli")
    _show(fn(state.db, file=file, console=console))


@app.command()
def allocate(
    start: Annotated[
        str | None, typer.Option(help="ISO start (default: start of recorded data).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="ISO end, exclusive (default: end of recorded data).")
    ] = None,
    by: Annotated[
        str, typer.Option(help="team | namespace | nodepool | cluster | model | label:KEY")
    ] = "team",
    idle: Annotated[
        IdlePolicy, typer.Option(help="Idle GPU cost: its own __idle__ row, or shared by cost.")
    ] = IdlePolicy.separate,
    fmt: Annotated[
        OutputFormat, typer.Option("--format", help="Output format.")
    ] = OutputFormat.table,
    engine: Annotated[
        Engine, typer.Option(help="Run the engine on DuckDB or on Spark.")
    ] = Engine.duckdb,
    input_root: Annotated[
        str | None,
        typer.Option(
            "--input", help="Read raw tables from a Parquet layout (costlab export parquet)."
        ),
    ] = None,
    spark_master: Annotated[
        str, typer.Option(help="Spark master URL for --engine spark.")
    ] = "local[2]",
) -> None:
    """Allocate node cost to GPU-hours and tenants; money is conserved to the micro-dollar."""
    from costlab import pipeline, render

    if input_root is not None and not input_root.strip():
        raise UsageError("--input: an empty path (give a Parquet layout folder or s3:// URI)")
    result = pipeline.allocate(
        state.db,
        start=start,
        end=end,
        by=by,
        idle=idle.value,
        engine=engine.value,
        input_root=input_root,
        spark_master=spark_master,
    )
    _show(render.allocation(result, fmt.value))


@export_app.command("parquet")
def export_parquet(
    out: Annotated[
        str,
        typer.Option(help="Folder or s3://bucket/prefix for the Hive-partitioned Parquet layout."),
    ],
) -> None:
    """Write the database's tables as Parquet (cluster=/date= partitions) for Spark or DuckDB in place."""
    from costlab import pipeline

    _show(pipeline.export_parquet(_existing_db(), out))


@app.command()
def tokens(
    start: Annotated[
        str | None, typer.Option(help="ISO start (default: start of recorded data).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="ISO end, exclusive (default: end of recorded data).")
    ] = None,
    by: Annotated[str, typer.Option(help="model | trace | session | user | tenant")] = "model",
    match: Annotated[
        str, typer.Option(help="Join GPU cost to LangFuse by pod label model or deployment.")
    ] = "model",
    limit: Annotated[
        int, typer.Option(min=1, help="Rows for trace/session/user/tenant, most expensive first.")
    ] = 50,
    fmt: Annotated[
        TableOrJson, typer.Option("--format", help="Output format.")
    ] = TableOrJson.table,
) -> None:
    """What a token really costs: GPU $ per 1M input/output tokens by model, or per trace/session/user/tenant."""
    from costlab import pipeline, render

    result = pipeline.tokens(_existing_db(), start=start, end=end, by=by, match=match, limit=limit)
    _show(render.tokens(result, fmt.value))


@app.command()
def simulate(
    strategy: Annotated[
        str,
        typer.Option(
            help="Strategy to replay on the recorded history: one of costlab.simulate's "
            "registered strategies (an unknown name lists them), or all."
        ),
    ] = "all",
    fmt: Annotated[
        TableOrJson, typer.Option("--format", help="Output format.")
    ] = TableOrJson.table,
) -> None:
    """Replay Karpenter strategies (spot, consolidation, schedule, rightsize) on recorded demand."""
    fn = _entry("costlab.simulate.runner", "simulate_from_cli")
    _show(fn(_existing_db(), strategy=strategy, fmt=fmt.value, console=console))


@app.command()
def recommend(
    out: Annotated[
        str,
        typer.Option(help="Folder for NodePool / EC2NodeClass / ScaledObject YAML and summary."),
    ],
    current: Annotated[
        str | None,
        typer.Option(help="Current NodePool YAML: also write a reviewable diff against it."),
    ] = None,
) -> None:
    """Write ready-to-apply NodePool and KEDA manifests from the simulation."""
    from costlab import paths

    folder = paths.output_folder(out)
    current_file = None if current is None else paths.input_file(current, "--current")
    fn = _entry("costlab.recommend.runner", "recommend_from_cli")
    _show(fn(_existing_db(), out=folder, current=current_file, console=console))


@app.command()
def rules(
    out: Annotated[str, typer.Option(help="File for the generated PrometheusRule YAML.")],
) -> None:
    """Generate PrometheusRules: $/hour recording rules, cost, idle and budget alerts."""
    from costlab import paths

    file = paths.output_file(out)
    fn = _entry("costlab.emit.prometheus_rules", "rules_from_cli")
    _show(fn(_existing_db(), out=file, console=console))


@app.command()
def exporter(
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port for the /metrics endpoint.")
    ] = 9108,
    address: Annotated[
        str | None,
        typer.Option(
            help="Address to listen on (default: COSTLAB_EXPORTER_HOST, else 127.0.0.1, this "
            "machine only); 0.0.0.0 for every interface."
        ),
    ] = None,
) -> None:
    """Serve costlab_instance_hourly_cost_usd and allocated $ per tenant as Prometheus metrics."""
    fn = _entry("costlab.emit.exporter", "serve_from_cli")
    _show(fn(_existing_db(), port=port, console=console, address=address))


@app.command()
def doctor(
    url: Annotated[
        str,
        typer.Option(help="Prometheus-compatible query endpoint (Prometheus, Thanos, Mimir, AMP)."),
    ],
    fmt: Annotated[
        TableOrJson, typer.Option("--format", help="Output format.")
    ] = TableOrJson.table,
    cluster: Annotated[
        str | None,
        typer.Option(help='Check only this cluster\'s series (a cluster="NAME" matcher).'),
    ] = None,
    at: Annotated[str | None, typer.Option(help="ISO time to check at; default: now.")] = None,
    lookback: Annotated[
        str, typer.Option(help="A series counts as present with a sample this recent.")
    ] = "1h",
) -> None:
    """Preflight: which series costlab reads are there, in which shape, and how to fix the rest."""
    fn = _entry("costlab.doctor", "doctor_from_cli")
    rendered, code = fn(url=url, fmt=fmt.value, cluster=cluster, at=at, lookback=lookback)
    if isinstance(rendered, str):
        typer.echo(rendered)
    else:
        # Piped or redirected, rich would fold the selectors and YAML fixes at 80 columns.
        (console if console.is_terminal else Console(width=max(console.width, 160))).print(rendered)
    if code:
        raise SystemExit(code)  # a finished report, not an error line: 1 = allocation cannot work


@app.command()
def report(
    out: Annotated[Path, typer.Option(help="Folder for the HTML report, CSV and FOCUS export.")],
    period: Annotated[
        str | None,
        typer.Option(help="YYYY-MM or YYYY-Www (default: last complete month in the data)."),
    ] = None,
) -> None:
    """Write a batch report (HTML, CSV, FOCUS) for a month or week."""
    fn = _entry("costlab.report.batch", "report_from_cli")
    _show(fn(_existing_db(), period=period, out=out, console=console))


@app.command()
def dashboard(
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port for the Streamlit server.")
    ] = 8501,
    tenant: Annotated[
        str | None, typer.Option(help="Tenant-scoped mode: only this tenant's rows are queried.")
    ] = None,
    address: Annotated[
        str,
        typer.Option(
            help="Address to listen on: 127.0.0.1 serves this machine only; 0.0.0.0 every "
            "interface (the dashboard shows every tenant's spend unless --tenant)."
        ),
    ] = "127.0.0.1",
) -> None:
    """Start the Streamlit FinOps dashboard on the database (read-only)."""
    from costlab import pipeline

    pipeline.run_dashboard(_existing_db(), port=port, tenant=tenant, address=address)


def _redacted_excepthook(kind: Any, exc: BaseException, tb: Any) -> None:
    """An unexpected error's traceback, with URL credentials masked like every other output."""
    import traceback

    sys.stderr.write(redact.redact_text("".join(traceback.format_exception(kind, exc, tb))))


def main(argv: list[str] | None = None) -> None:
    """Entry point: known errors become one line on stderr and an exit code, never a traceback."""
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _redacted_excepthook
    try:
        app(args=argv, prog_name="costlab", standalone_mode=False)
    except click_exc.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx else str(exc))
        sys.exit(0)
    except click_exc.UsageError as exc:
        _fail(exc.format_message().replace("\n", " "), 2)
    except typer.Abort:
        _fail("aborted", 130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (UsageError, StoreError) as exc:
        _fail(str(exc), 2)
    except CostlabError as exc:
        _fail(str(exc), 1)
    except Exception as exc:
        # a damaged block is only found when a query reads it, deep inside a command (DuckDB's
        # error, or pyarrow's wrapping of it, an OSError, when the rows stream through Arrow)
        from costlab import store

        damaged = store.damage_message(state.db, exc)
        if damaged is not None:
            _fail(damaged, 1)
        if not isinstance(exc, OSError):
            raise
        # The disk, not costlab: a full disk, a permission, a path that changed under us.
        where = f": {exc.filename}" if exc.filename else ""
        _fail(f"cannot read or write a file ({exc.strerror or exc}){where}", 1)


def _fail(message: str, code: int) -> None:
    from rich.markup import escape

    # escaped: a message naming a config section like [allocate] must not be read as markup
    message = escape(redact.redact_text(message))
    err_console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
