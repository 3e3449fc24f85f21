"""`tot`: the command-line entry point."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import math
import socket
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from routing import RoutingError
from services.road_network import load_road_graph, open_router
from storage.osm_pbf import OsmFileError
from tot.settings import Settings


def _lat_lon(text: str) -> tuple[float, float]:
    parts = text.replace(" ", "").split(",")
    if len(parts) != 2:
        raise argparse.ArgumentTypeError(f"expected LAT,LON, got {text!r}")
    try:
        return float(parts[0]), float(parts[1])
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected two numbers LAT,LON, got {text!r}") from None


def _json_point(point: tuple[float, float]) -> list[float | None]:
    # JSON has no NaN or infinity: a non-finite coordinate is printed as null.
    return [v if math.isfinite(v) else None for v in point]


class _TerminalProgress:
    """A graph build's progress as one status line on a terminal, rewritten in place.

    Called with each stage's name (a ProgressFactory); the stage's callback takes a
    running count. On close, the line gives way to a short summary of the build.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.started = time.perf_counter()
        self.used = False

    def __call__(self, stage: str) -> Callable[[int], None]:
        def update(count: int) -> None:
            shown = f": {count:,}" if count else ""
            elapsed = time.perf_counter() - self.started
            self._write(f"\r\033[K[tot] building the road graph ({elapsed:.0f} s): {stage}{shown}")

        update(0)
        return update

    def close(self) -> None:
        if self.used:
            elapsed = time.perf_counter() - self.started
            self._write(
                f"\r\033[K[tot] road graph built in {elapsed:.1f} s; later runs load it from "
                "the cache\n"
            )

    def _write(self, text: str) -> None:
        self.used = True
        self.stream.write(text)
        self.stream.flush()


@contextlib.contextmanager
def _progress() -> Iterator[_TerminalProgress | None]:
    """Progress for a graph build, shown by default when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    progress = _TerminalProgress(sys.stderr)
    try:
        yield progress
    finally:
        progress.close()


def _add_osm_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--osm",
        type=Path,
        help=(
            "OpenStreetMap extract (.osm.pbf); default: $TOT_OSM_PATH or the bundled map of "
            "central Nizhny Novgorod"
        ),
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        help="graph cache folder; default: $TOT_GRAPH_CACHE_DIR or ~/.cache/tot/graphs",
    )


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, object] = {}
    if args.osm is not None:
        overrides["osm_path"] = args.osm
    if args.cache_dir is not None:
        overrides["graph_cache_dir"] = args.cache_dir
    return Settings(**overrides)  # type: ignore[arg-type]


def cmd_graph_build(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _progress() as progress:
        loaded = load_road_graph(
            settings.osm_path,
            settings.graph_cache_dir,
            force_rebuild=args.force,
            progress=progress,
        )
    if loaded.cache_error is not None:
        print(
            f"tot: error: the graph was built but not cached: {loaded.cache_error}", file=sys.stderr
        )
        return 2
    g = loaded.graph
    summary = {
        "osm": str(settings.osm_path),
        "cache": str(loaded.cache_path),
        "cache_hit": loaded.cache_hit,
        "seconds": round(loaded.seconds, 3),
        "nodes": g.node_count,
        "edges": g.edge_count,
        **{k: v for k, v in g.meta.items() if k != "source"},
    }
    if args.json:
        print(json.dumps(summary))
    else:
        verb = "loaded from cache" if loaded.cache_hit else "built"
        print(
            f"{verb} {settings.osm_path.name}: {g.node_count} nodes, {g.edge_count} edges "
            f"in {loaded.seconds:.2f} s"
        )
        print(f"cache: {loaded.cache_path}")
    return 0


def cmd_route(args: argparse.Namespace) -> int:
    settings = _settings(args)
    with _progress() as progress:
        router, _ = open_router(
            settings.osm_path,
            settings.graph_cache_dir,
            max_snap_distance_m=settings.max_snap_distance_m,
            progress=progress,
        )
    target: tuple[float, float] = args.to
    origins: list[tuple[float, float]] = args.origins
    if len(origins) == 1:
        route = router.route(origins[0], target)
        out = {
            "from": list(origins[0]),
            "to": list(target),
            "eta_s": round(route.eta_s, 1),
            "distance_m": round(route.distance_m, 1),
            "snap_from_m": round(route.origin.distance_m, 1),
            "snap_to_m": round(route.destination.distance_m, 1),
            "points": len(route.path),
        }
        if args.geometry:
            out["path"] = [[round(p.lat, 6), round(p.lon, 6)] for p in route.path]
        if args.json:
            print(json.dumps(out))
        else:
            print(
                f"{route.eta_s / 60:.1f} min, {route.distance_m / 1000:.2f} km by road "
                f"({len(route.path)} points; snapped {route.origin.distance_m:.0f} m / "
                f"{route.destination.distance_m:.0f} m)"
            )
            if args.geometry:
                for p in route.path:
                    print(f"{p.lat:.6f},{p.lon:.6f}")
        return 0
    results = router.etas_to(origins, target)
    if args.json:
        rows = [
            {
                "from": _json_point(o),
                "status": r.status.value,
                "eta_s": None if r.eta_s is None else round(r.eta_s, 1),
                "detail": r.detail,
            }
            for o, r in zip(origins, results, strict=True)
        ]
        print(json.dumps({"to": list(target), "etas": rows}, allow_nan=False))
    else:
        ranked = sorted(
            zip(origins, results, strict=True),
            key=lambda pair: (pair[1].eta_s is None, pair[1].eta_s or 0.0),
        )
        for o, r in ranked:
            eta = "-" if r.eta_s is None else f"{r.eta_s / 60:6.1f} min"
            print(f"{o[0]:.6f},{o[1]:.6f}  {eta}  {r.status.value} {r.detail}")
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from services.database import upgrade

    url = args.database_url or Settings().database_url
    if url:
        upgrade(url)
        print("database schema is up to date")
        return 0
    from storage.sqlite import SqliteBookingStore

    path = Settings().sqlite_path
    path.parent.mkdir(parents=True, exist_ok=True)
    SqliteBookingStore(path)._close()  # creates or upgrades the embedded schema
    from storage.sqlite_accounts import SqliteAccountStore

    asyncio.run(SqliteAccountStore(path).close())
    from storage.sqlite_payments import SqlitePaymentStore

    asyncio.run(SqlitePaymentStore(path).close())
    print(f"embedded database {path} is up to date")
    return 0


def cmd_payments_reconcile(args: argparse.Namespace) -> int:
    """Compare one day's payments with the provider's list; exit 1 on any mismatch."""
    from datetime import date

    from services.payments import reconcile_day
    from services.runtime import open_payment_provider, open_payment_store
    from tot.server import runtime_config

    try:
        day = date.fromisoformat(args.date)
    except ValueError:
        raise ValueError(f"--date {args.date!r} is not a date (YYYY-MM-DD)") from None
    config = runtime_config(Settings())

    async def run() -> Any:
        store = await open_payment_store(config)
        provider = open_payment_provider(config)
        try:
            return await reconcile_day(store, provider, day)
        finally:
            await provider.close()
            await store.close()

    report = asyncio.run(run())
    if args.json:
        print(json.dumps({
            "day": report.day.isoformat(), "ours": report.ours, "theirs": report.theirs,
            "mismatches": [
                {"kind": m.kind.value, "payment_id": m.payment_id,
                 "provider_payment_id": m.provider_payment_id, "ours": m.ours,
                 "theirs": m.theirs}
                for m in report.mismatches
            ],
        }, ensure_ascii=False))  # fmt: skip
    else:
        print(
            f"{report.day}: {report.ours} payments here, {report.theirs} at the provider, "
            f"{len(report.mismatches)} mismatches"
        )
        for m in report.mismatches:
            print(f"  {m.kind.value}: {m.payment_id or m.provider_payment_id}: "
                  f"ours {m.ours or '-'}, provider {m.theirs or '-'}")  # fmt: skip
    return 1 if report.mismatches else 0


def _cannot_listen(host: str, port: int) -> str | None:
    """Why a server could not listen on host:port now, or None when it could.

    Binds a probe socket the way the servers do (SO_REUSEADDR, so a port that only has
    closed connections lingering is not taken) on every address the host resolves to.
    """
    if port == 0:  # the system picks a free one
        return None
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"on a host that does not resolve ({exc.strerror})"
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return "taken (another tot demo or server, or another program, listens there)"
                if exc.errno == errno.EACCES:
                    return "not open to this user (ports below 1024 need privileges)"
                return f"not available ({exc.strerror})"
    return None


def _require_free_ports(settings: Settings) -> None:
    """Refuse to start, with one line, when the HTTP or the WebSocket port is not free."""
    for port, what, change in (
        (settings.port, "HTTP", "--port or TOT_PORT"),
        (settings.ws_port, "WebSocket", "--ws-port or TOT_WS_PORT"),
    ):
        problem = _cannot_listen(settings.host, port)
        if problem is not None:
            raise ValueError(
                f"the {what} port {port} on {settings.host} is {problem}; "
                f"choose another with {change}"
            )


def _server_environment(args: argparse.Namespace) -> None:
    """The server builds its settings from the environment: pass the flags through it."""
    import os

    if args.osm is not None:
        os.environ["TOT_OSM_PATH"] = str(args.osm)
    if args.cache_dir is not None:
        os.environ["TOT_GRAPH_CACHE_DIR"] = str(args.cache_dir)
    if getattr(args, "host", None) is not None:
        os.environ["TOT_HOST"] = args.host
    if args.port is not None:
        os.environ["TOT_PORT"] = str(args.port)
    if args.ws_port is not None:
        os.environ["TOT_WS_PORT"] = str(args.ws_port)


def _prepare_server(settings: Settings) -> None:
    """Before the server starts: its ports free, its road graph built (with progress on a
    terminal) and cached, so that what can go wrong is said in one line, not a traceback."""
    _require_free_ports(settings)
    with _progress() as progress:
        load_road_graph(settings.osm_path, settings.graph_cache_dir, progress=progress)


def cmd_serve(args: argparse.Namespace) -> int:
    from tot.server import serve

    _server_environment(args)
    settings = Settings()
    _prepare_server(settings)
    serve(settings)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import os

    from tot.server import serve

    if not 1 <= args.doctors <= 10_000:
        raise ValueError("--doctors must be 1-10000")
    if args.calls_per_hour is not None and not 0 < args.calls_per_hour <= 36_000:
        raise ValueError("--calls-per-hour must be within (0, 36000]")
    if not 0.1 <= args.speed <= 3:
        raise ValueError("--speed must be within [0.1, 3] (faster would break the 250 km/h check)")
    if not 0 <= args.emergency_share <= 1:
        raise ValueError("--emergency-share must be within [0, 1]")
    values = {
        "TOT_DEMO_DOCTORS": args.doctors,
        "TOT_DEMO_CALLS_PER_HOUR": "" if args.calls_per_hour is None else args.calls_per_hour,
        "TOT_DEMO_SPEED": args.speed, "TOT_DEMO_SEED": args.seed,
        "TOT_DEMO_EMERGENCY_SHARE": args.emergency_share,
    }  # fmt: skip
    os.environ.update({k: str(v) for k, v in values.items()})
    settings = Settings()
    if settings.env == "production" or settings.database_url:
        raise ValueError(
            "tot demo makes accounts with published passwords: it runs only on the embedded "
            "store, with TOT_ENV unset (unset DATABASE_URL; use `tot serve` for real work)"
        )
    # Its own file, so demo accounts never land in the store `tot serve` uses.
    os.environ.setdefault("TOT_SQLITE_PATH", str(settings.sqlite_path.with_name("demo.sqlite3")))
    _server_environment(args)
    os.environ.setdefault("TOT_ADMIN_EMAIL", "admin@tot.example.org")
    os.environ.setdefault("TOT_ADMIN_PASSWORD", "change-me-now-please")
    settings = Settings()
    _prepare_server(settings)
    serve(settings, demo=True)
    return 0


def cmd_gateway(args: argparse.Namespace) -> int:
    import os

    import uvloop

    from tot.server import run_gateway

    if args.port is not None:
        os.environ["TOT_WS_PORT"] = str(args.port)
    if args.host is not None:
        os.environ["TOT_HOST"] = args.host
    logging.getLogger().setLevel(logging.WARNING)
    uvloop.run(run_gateway(Settings()))
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    import time

    from simulation import Policy, SimConfig
    from tot.simulate import default_workers, simulate_command

    started = time.perf_counter()
    settings = _settings(args)
    # Given values are checked here, at once; left open, they are scaled to the map.
    config = SimConfig(
        doctors=150 if args.doctors is None else args.doctors,
        calls_per_hour=120.0 if args.calls_per_hour is None else args.calls_per_hour,
        hours=args.hours,
        warmup_s=args.warmup_min * 60.0,
        visit_min_s=args.visit_min * 60.0,
        visit_max_s=args.visit_max * 60.0,
        emergency_share=args.emergency_share,
        hotspot_share=args.hotspot_share,
        batch_window_s=args.batch_window,
        aging_s_per_s=args.aging,
        max_wait_s=args.max_wait_min * 60.0,
        accept_delay_s=args.accept_delay,
        decline_share=args.decline_share,
        ignore_share=args.ignore_share,
    )
    if args.seeds < 1:
        raise ValueError("--seeds must be at least 1")
    with _progress() as progress:
        table, headline = simulate_command(
            osm_path=settings.osm_path,
            graph_cache_dir=settings.graph_cache_dir,
            max_snap_distance_m=settings.max_snap_distance_m,
            config=config,
            doctors=args.doctors,
            calls_per_hour=args.calls_per_hour,
            policy=Policy(args.policy),
            extra=[Policy(p) for p in args.compare or ()],
            seeds=range(args.first_seed, args.first_seed + args.seeds),
            out_dir=args.out,
            workers=args.workers or default_workers(),
            started=started,
            progress=progress,
        )
    print(table)
    print(f"report: {args.out / 'report.md'}")
    print(json.dumps(headline, allow_nan=False))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tot",
        description="TOT dispatch engine: sends doctors to patients' homes by real road travel time.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    route = sub.add_parser(
        "route",
        help="road travel time and route between points",
        description=(
            "Fastest drivable route from --from to --to on the road graph, with its ETA and "
            "length. Give --from several times for a many-to-one ETA table (how the "
            "dispatcher ranks doctors). Points are LAT,LON; write negative values as "
            "--from=-33.92,18.42."
        ),
    )
    route.add_argument(
        "--from",
        dest="origins",
        type=_lat_lon,
        action="append",
        required=True,
        metavar="LAT,LON",
        help="start point (repeatable)",
    )
    route.add_argument("--to", type=_lat_lon, required=True, metavar="LAT,LON", help="destination")
    route.add_argument("--geometry", action="store_true", help="also print the route's points")
    route.add_argument("--json", action="store_true", help="print one JSON object")
    _add_osm_options(route)
    route.set_defaults(func=cmd_route)

    graph = sub.add_parser(
        "graph", help="road graph management", description="Road graph management."
    )
    graph_sub = graph.add_subparsers(dest="graph_command", required=True)
    build = graph_sub.add_parser(
        "build",
        help="compile an .osm.pbf into the cached routing graph",
        description=(
            "Read the extract, keep drivable roads (one-way and access rules honoured), "
            "compile a compact graph with its contraction order and cache it, keyed by the "
            "file's content and the build rules. Later starts load it in well under a second."
        ),
    )
    build.add_argument(
        "--force", action="store_true", help="rebuild even when the cache is current"
    )
    build.add_argument("--json", action="store_true", help="print one JSON object")
    _add_osm_options(build)
    build.set_defaults(func=cmd_graph_build)

    db = sub.add_parser("db", help="database management", description="Database management.")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser(
        "upgrade",
        help="create or migrate the database schema to this version",
        description=(
            "Apply the schema migrations (alembic) to the PostGIS database in DATABASE_URL, "
            "or create the embedded SQLite store when DATABASE_URL is unset. The engine "
            "refuses to start on a PostGIS database that is behind."
        ),
    )
    up.add_argument("--database-url", help="postgresql://... (default: $DATABASE_URL)")
    up.set_defaults(func=cmd_db_upgrade)

    pay = sub.add_parser("payments", help="payments", description="Payments.")
    pay_sub = pay.add_subparsers(dest="payments_command", required=True)
    rec = pay_sub.add_parser(
        "reconcile",
        help="compare a day's payments with the provider's",
        description=(
            "Compare our payments created on DATE (UTC) with the provider's list of that "
            "day (TOT_PAYMENTS_PROVIDER) and print every mismatch; exit 1 when there is "
            "one. The server runs the same every night for the day before."
        ),
    )
    rec.add_argument("--date", required=True, help="YYYY-MM-DD (UTC)")
    rec.add_argument("--json", action="store_true", help="print one JSON object")
    rec.set_defaults(func=cmd_payments_reconcile)

    srv = sub.add_parser(
        "serve",
        help="run the API server",
        description=(
            "Serve the HTTP API (uvicorn, uvloop) on the embedded store, or on PostGIS "
            "and Redis when DATABASE_URL / REDIS_URL are set. Settings: see the README."
        ),
    )
    srv.add_argument("--host", help="default: $TOT_HOST or 127.0.0.1")
    srv.add_argument("--port", type=int, help="HTTP port (default: $TOT_PORT or 8000)")
    srv.add_argument("--ws-port", type=int, help="WebSocket port (default: $TOT_WS_PORT or 8001)")
    _add_osm_options(srv)
    srv.set_defaults(func=cmd_serve)

    demo = sub.add_parser(
        "demo",
        help="run the engine with a simulated city (doctors driving real roads, patients calling)",
        description=(
            "Serve the engine (API, WebSockets, pages) on the embedded defaults with simulated "
            "doctors and patients, printing live figures. Ctrl-C stops it."
        ),
    )
    demo.add_argument("--doctors", type=int, default=30, help="simulated doctors (default 30)")
    demo.add_argument(
        "--calls-per-hour",
        type=float,
        help="Poisson rate (default: scaled to the map, to keep about 60 %% of the doctors busy)",
    )
    demo.add_argument("--emergency-share", type=float, default=0.05, help="default 0.05")
    demo.add_argument("--speed", type=float, default=1.0, help="driving and visits sped up (<= 3)")
    demo.add_argument("--seed", type=int, default=1)
    demo.add_argument("--port", type=int, help="HTTP port (default: $TOT_PORT or 8000)")
    demo.add_argument("--ws-port", type=int, help="WebSocket port (default: $TOT_WS_PORT or 8001)")
    _add_osm_options(demo)
    demo.set_defaults(func=cmd_demo)

    gw = sub.add_parser(
        "gateway",
        help="run an extra WebSocket gateway process (needs REDIS_URL and DATABASE_URL)",
        description=(
            "Serve WebSockets for doctors and patients beside the engine (`tot serve`), "
            "reaching it through Redis; any number of these may run."
        ),
    )
    gw.add_argument("--host", help="default: $TOT_HOST or 127.0.0.1")
    gw.add_argument("--port", type=int, help="default: $TOT_WS_PORT or 8001")
    gw.set_defaults(func=cmd_gateway)

    policies = ["greedy", "road", "batch", "default"]
    sim = sub.add_parser(
        "simulate",
        help="simulated days through the dispatch core: policies compared, a report and plots",
        description=(
            "Run simulated days faster than real time, without the server, through the "
            "engine's dispatch core, matcher and router: doctors drive real road routes, "
            "calls arrive at random on the road network. Every policy sees the same fleet "
            "and calls on a seed (paired days); the straight-line greedy baseline always "
            "runs too. Writes report.md, results.json and PNG plots to --out; prints a "
            "table, then one JSON line."
        ),
    )
    sim.add_argument(
        "--doctors",
        type=int,
        help=(
            "fleet size (default: scaled to the map; 150 on Porto, else Porto's doctors per "
            "km of road, at least 10)"
        ),
    )
    sim.add_argument(
        "--calls-per-hour",
        type=float,
        help="Poisson call rate (default: 0.8 per doctor, as 120 for 150 on Porto)",
    )
    sim.add_argument(
        "--hours", type=float, default=2.0, help="measured hours, after the warm-up (default 2)"
    )
    sim.add_argument("--warmup-min", type=float, default=30.0, help="unmeasured warm-up (30)")
    sim.add_argument("--seeds", type=int, default=20, help="paired days (default 20)")
    sim.add_argument("--first-seed", type=int, default=0, help="seeds run from here (0)")
    sim.add_argument(
        "--policy",
        choices=policies,
        default="default",
        help=(
            "greedy: straight-line nearest, first-come queue (the baseline); road: nearest "
            "by road ETA, first-come queue; batch: min-cost assignment every --batch-window "
            "seconds; default: the engine (road ETA and the offer cascade; min-cost with "
            "aging when two or more calls wait)"
        ),
    )
    sim.add_argument(
        "--compare",
        choices=policies,
        action="append",
        help="also run this policy on the same seeds (repeatable)",
    )
    sim.add_argument("--out", type=Path, default=Path("simulation-report"), help="report folder")
    sim.add_argument("--batch-window", type=float, default=10.0, help="batch policy: W s (10)")
    sim.add_argument(
        "--aging",
        type=float,
        default=0.5,
        help="default policy: seconds of ETA a waited second is worth in a queue (0.5)",
    )
    sim.add_argument("--visit-min", type=float, default=20.0, help="shortest visit, min (20)")
    sim.add_argument("--visit-max", type=float, default=40.0, help="longest visit, min (40)")
    sim.add_argument("--emergency-share", type=float, default=0.05, help="(default 0.05)")
    sim.add_argument(
        "--hotspot-share",
        type=float,
        default=0.0,
        help="share of calls clustered around a few hotspots (default 0: uniform on the roads)",
    )
    sim.add_argument(
        "--max-wait-min", type=float, default=60.0, help="a call is given up after (60 min)"
    )
    sim.add_argument(
        "--accept-delay", type=float, default=0.0, help="doctors answer offers after (0 s)"
    )
    sim.add_argument("--decline-share", type=float, default=0.0, help="offers declined (0)")
    sim.add_argument("--ignore-share", type=float, default=0.0, help="offers left to expire (0)")
    sim.add_argument(
        "--workers", type=int, default=0, help="worker processes (default: one per core)"
    )
    _add_osm_options(sim)
    sim.set_defaults(func=cmd_simulate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except (RoutingError, OsmFileError) as exc:
        print(f"tot: error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:
        print(f"tot: invalid setting: {exc}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError) as exc:  # a bad DATABASE_URL, a database that is behind
        print(f"tot: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # unreadable files, a cache folder that is a file, a full disk
        print(f"tot: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
