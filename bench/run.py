"""Benchmark harness: gunicorn under bench.settings, loaded with wrk, compared to the floor.

Every benchmark is a ratio against the framework floor (bench/floor: a constant string through the
full middleware stack) measured in the same run, so that results depend little on the machine.
Rounds of the target and of the floor are interleaved and each side takes the median of its rounds,
so that a slow spell (another process, CPU throttling) hits both sides instead of one.

Usage: .venv/bin/python bench/run.py [--only B0] [--rounds 5] [--duration 3]
"""

import argparse
import json
import operator
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS_FILE = ROOT / "bench" / "results.json"
FLOOR_PATH = "/bench/floor"
WARMUP_SECONDS = 1.0
STARTUP_TIMEOUT = 60.0

Op = Literal[">=", ">", "<=", "<"]
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


class BenchError(Exception):
    """Something that makes a figure meaningless (as opposed to a target that is missed)."""


@dataclass
class Outcome:
    """What a benchmark function returns; the harness judges the ratio against the target."""

    ratio: float
    summary: str = ""  # printed as "<ID> <summary>" before the result line
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Benchmark:
    id: str
    name: str
    op: Op
    value: float
    func: "Callable[[Context], Outcome]"


REGISTRY: dict[str, Benchmark] = {}


def benchmark(
    bench_id: str, name: str, *, target: tuple[Op, float]
) -> "Callable[[Callable[[Context], Outcome]], Callable[[Context], Outcome]]":
    """Registers a benchmark; they run in the order they are defined."""
    op, value = target
    if op not in _OPS:
        raise ValueError(f"{bench_id}: unknown target operator {op!r}")

    def register(func: "Callable[[Context], Outcome]") -> "Callable[[Context], Outcome]":
        if bench_id in REGISTRY:
            raise ValueError(f"benchmark {bench_id} is defined twice")
        REGISTRY[bench_id] = Benchmark(bench_id, name, op, float(value), func)
        return func

    return register


# --- wrk ---------------------------------------------------------------------------------------


@dataclass
class WrkRun:
    label: str
    path: str
    rps: float
    requests: int
    duration_s: float
    latency_ms: dict[str, float]
    socket_errors: dict[str, int]
    non_2xx_3xx: int


_UNITS_S = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL_RE = re.compile(r"(\d+) requests in ([\d.]+)(us|ms|s|m|h),")
_NON2XX_RE = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_RE = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_PERCENTILE_RE = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)


def parse_wrk(output: str, label: str, path: str) -> WrkRun:
    rps = _RPS_RE.search(output)
    total = _TOTAL_RE.search(output)
    if not rps or not total:
        raise BenchError(f"cannot read wrk's output for {path}:\n{output}")
    non2xx = _NON2XX_RE.search(output)
    sockets = _SOCKET_RE.search(output)
    errors = [int(n) for n in sockets.groups()] if sockets else [0, 0, 0, 0]
    return WrkRun(
        label=label,
        path=path,
        rps=float(rps.group(1)),
        requests=int(total.group(1)),
        duration_s=round(float(total.group(2)) * _UNITS_S[total.group(3)], 3),
        latency_ms={
            f"p{pct}": round(float(num) * _UNITS_S[unit] * 1000, 3)
            for pct, num, unit in _PERCENTILE_RE.findall(output)
        },
        socket_errors=dict(zip(("connect", "read", "write", "timeout"), errors, strict=True)),
        non_2xx_3xx=int(non2xx.group(1)) if non2xx else 0,
    )


def _lua_string(text: str) -> str:
    # Decimal escapes for anything unusual: valid in every Lua wrk may be built with (5.1/LuaJIT).
    def escape(byte: int) -> str:
        return chr(byte) if 32 <= byte < 127 and byte not in (34, 92) else f"\\{byte:03d}"

    return '"' + "".join(escape(byte) for byte in text.encode()) + '"'


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is not installed; installing it with apt-get", file=sys.stderr, flush=True)
        quiet = {"stdout": subprocess.DEVNULL}
        # A fresh container has no package lists yet, so the first attempt may need an update.
        if subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, **quiet).returncode:
            subprocess.run(["apt-get", "update"], check=False, **quiet)
            subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, **quiet)
        wrk = shutil.which("wrk")
        if wrk:
            return wrk
    raise SystemExit(
        "error: the benchmarks need wrk (an HTTP load generator), which is not on PATH.\n"
        "  Debian/Ubuntu: sudo apt-get install wrk\n"
        "  macOS:         brew install wrk\n"
        "  other:         build it from https://github.com/wg/wrk and put it on PATH"
    )


# --- gunicorn ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect while starting means a misconfiguration (https, login); following it would hide it.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Server:
    """gunicorn serving coworking.wsgi under bench.settings; as a context manager, always stops."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> "Server":
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "bench.settings"}
        # Kept out of the terminal (startup warnings would break the one-line-per-benchmark output)
        # but shown when something fails.
        self._log = tempfile.TemporaryFile()
        cmd = [
            sys.executable,
            "-m",
            "gunicorn",
            "coworking.wsgi:application",
            f"--bind=127.0.0.1:{self.port}",
            f"--workers={self.workers}",
            "--worker-class=sync",
            f"--chdir={ROOT}",
            "--log-level=warning",
            "--error-logfile=-",
        ]
        # Its own session: Ctrl-C then reaches only this script, which stops gunicorn in order.
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_ready(self) -> None:
        opener = urllib.request.build_opener(_NoRedirect)
        url = self.base_url + FLOOR_PATH
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            self.check()
            try:
                with opener.open(url, timeout=2) as response:
                    body = response.read()
            except urllib.error.HTTPError as exc:
                raise BenchError(
                    f"{url} answered {exc.code} instead of 200 'ok'\n{self.log_tail()}"
                ) from None
            except (urllib.error.URLError, OSError):
                time.sleep(0.2)
                continue
            if body != b"ok":
                raise BenchError(f"{url} answered {body[:200]!r} instead of 'ok'")
            return
        raise BenchError(
            f"gunicorn did not answer within {STARTUP_TIMEOUT:.0f} s\n{self.log_tail()}",
        )

    def check(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            raise BenchError(f"gunicorn is not running (exit code {code})\n{self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        tail = self._log.read().decode(errors="replace").splitlines()[-lines:]
        return "--- gunicorn log (last lines) ---\n" + "\n".join(tail) if tail else ""

    def stop(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()  # SIGTERM: graceful stop of the master and its workers
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                # The session holds the workers too, so none survives a stuck master.
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


# --- context given to benchmarks ---------------------------------------------------------------


class Context:
    """What a benchmark function can use: URLs, wrk measurements and the floor."""

    floor_path = FLOOR_PATH

    def __init__(self, server: Server, wrk: str, args: argparse.Namespace) -> None:
        self.server = server
        self.wrk = wrk
        self.rounds: int = args.rounds
        self.duration: float = args.duration
        self.threads: int = args.threads
        self.connections: int = args.connections
        self.runs: list[WrkRun] = []  # every measured wrk run of the current benchmark

    def url(self, path: str) -> str:
        return self.server.base_url + path

    def measure(
        self,
        path: str,
        *,
        label: str = "",
        method: str = "GET",
        body: str | None = None,
        headers: dict[str, str] | None = None,
        lua: str | None = None,
        duration: float | None = None,
        record: bool = True,
    ) -> float:
        """One wrk run against path; returns requests/s. Any non-2xx/3xx answer is an error.

        lua is extra wrk script text for what method/body/headers cannot express (varying bodies).
        """
        self.server.check()
        seconds = self.duration if duration is None else duration
        cmd = [
            self.wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{seconds:g}s",
            "--timeout=10s",
            "--latency",
        ]
        for name, value in (headers or {}).items():
            cmd += ["-H", f"{name}: {value}"]
        script = []
        if method != "GET":
            script.append(f"wrk.method = {_lua_string(method)}")
        if body is not None:
            script.append(f"wrk.body = {_lua_string(body)}")
        if lua:
            script.append(lua)
        with tempfile.NamedTemporaryFile("w", suffix=".lua") as script_file:
            if script:
                script_file.write("\n".join(script) + "\n")
                script_file.flush()
                cmd += ["-s", script_file.name]
            cmd.append(self.url(path))
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            raise BenchError(
                f"wrk failed on {path} (exit {done.returncode}): {done.stderr.strip()}",
            )
        run = parse_wrk(done.stdout, label or path, path)
        if run.non_2xx_3xx:
            raise BenchError(
                f"{path}: {run.non_2xx_3xx} of {run.requests} responses were not 2xx/3xx\n"
                + self.server.log_tail()
            )
        if run.requests == 0:
            raise BenchError(f"{path}: no request completed\n{self.server.log_tail()}")
        if run.socket_errors["connect"] or run.socket_errors["timeout"]:
            # Failed requests are missing from requests/s, which would then flatter the target.
            raise BenchError(f"{path}: socket errors {run.socket_errors}")
        if record:
            self.runs.append(run)
        return run.rps

    def floor(self) -> float:
        return self.measure(FLOOR_PATH, label="floor")

    def warm_up(self, *paths: str) -> None:
        # The first requests of each worker import modules and fill caches: not what is measured.
        for path in paths:
            self.measure(path, duration=WARMUP_SECONDS, record=False)

    def interleave(self, series: dict[str, Callable[[], float]]) -> dict[str, list[float]]:
        """Runs each series once per round, in order (A, B, A, B...); returns req/s per round."""
        results: dict[str, list[float]] = {name: [] for name in series}
        for _ in range(self.rounds):
            for name, measure in series.items():
                results[name].append(measure())
        return results

    def versus_floor(self, path: str, **measure_kwargs: Any) -> Outcome:
        """The usual benchmark: ratio = median over rounds of (req/s of path / req/s of the floor in the
        same round). Pairing each measurement with the floor run next to it cancels most of the load
        that other processes put on this shared machine; the ratio of medians is kept in the JSON."""
        self.warm_up(FLOOR_PATH)
        self.measure(path, duration=WARMUP_SECONDS, record=False, **measure_kwargs)
        per_round = self.interleave(
            {
                "floor": self.floor,
                "target": lambda: self.measure(path, label="target", **measure_kwargs),
            }
        )
        floor = statistics.median(per_round["floor"])
        target = statistics.median(per_round["target"])
        medians = f"medians of {self.rounds} rounds"
        paired = _paired(per_round["target"], per_round["floor"])
        return Outcome(
            ratio=paired["ratio_per_round_median"],
            summary=f"{path}: {target:.0f} req/s, floor: {floor:.0f} req/s ({medians})",
            raw={
                "path": path,
                "rps_per_round": per_round,
                "rps_median": _medians(per_round),
                "ratio_of_medians": round(target / floor, 4),
                **paired,
            },
        )


def _medians(per_round: dict[str, list[float]]) -> dict[str, float]:
    return {name: round(statistics.median(values), 1) for name, values in per_round.items()}


def _paired(numerators: list[float], denominators: list[float]) -> dict[str, Any]:
    # Adjacent runs share the machine's load, so a ratio within one round is far steadier than a ratio
    # of medians taken from different rounds.
    ratios = [n / d for n, d in zip(numerators, denominators, strict=True)]
    return {
        "ratio_per_round": [round(r, 4) for r in ratios],
        "ratio_per_round_median": round(statistics.median(ratios), 4),
    }


# --- benchmarks --------------------------------------------------------------------------------


@benchmark("B0", "floor/noise", target=(">=", 0.8))
def floor_noise(ctx: Context) -> Outcome:
    # The floor against itself: far from 1 means noise under which no other ratio can be trusted.
    ctx.warm_up(FLOOR_PATH)
    per_round = ctx.interleave(
        {
            "a": lambda: ctx.measure(FLOOR_PATH, label="a"),
            "b": lambda: ctx.measure(FLOOR_PATH, label="b"),
        }
    )
    a, b = statistics.median(per_round["a"]), statistics.median(per_round["b"])
    paired = _paired(per_round["b"], per_round["a"])
    return Outcome(
        ratio=paired["ratio_per_round_median"],
        summary=f"floor: {a:.0f} req/s (median of {ctx.rounds} rounds)",
        raw={
            "path": FLOOR_PATH,
            "rps_per_round": per_round,
            "rps_median": _medians(per_round),
            "ratio_of_medians": round(b / a, 4),
            **paired,
        },
    )


# --- driver ------------------------------------------------------------------------------------


def format_ratio(ratio: float, op: Op, value: float) -> str:
    text = f"{ratio:.2f}"
    # At the boundary two decimals could read as the opposite verdict (0.7996 shown as 0.80).
    if _OPS[op](float(text), value) != _OPS[op](ratio, value):
        text = f"{ratio:.4f}"
    return text


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _config(args: argparse.Namespace) -> dict[str, Any]:
    database = os.environ.get("DATABASE_URL", "")
    return {
        "rounds": args.rounds,
        "duration_s": args.duration,
        "wrk": {"threads": args.threads, "connections": args.connections},
        "gunicorn_workers": args.workers,
        # Only the scheme: the URL may carry a password.
        "database": urlsplit(database).scheme if database else "sqlite (default)",
        "redis": bool(os.environ.get("REDIS_URL")),
        "debug": _env_flag("DEBUG"),
        "cpus": os.cpu_count(),
    }


def load_results() -> dict[str, Any]:
    # Earlier figures of benchmarks not run this time are kept, so `--only` does not erase them.
    try:
        existing = json.loads(RESULTS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(existing, dict):
        return {}
    return {key: value for key, value in existing.items() if key in REGISTRY}


def save_results(results: dict[str, Any]) -> None:
    ordered = {key: results[key] for key in REGISTRY if key in results}
    tmp = RESULTS_FILE.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(ordered, indent=2) + "\n", encoding="utf-8")
    tmp.replace(RESULTS_FILE)


def run_one(bench: Benchmark, ctx: Context, config: dict[str, Any]) -> dict[str, Any]:
    ctx.runs = []
    measured_at = datetime.now(UTC).isoformat(timespec="seconds")
    outcome = bench.func(ctx)
    met = _OPS[bench.op](outcome.ratio, bench.value)
    if outcome.summary:
        print(f"{bench.id} {outcome.summary}", flush=True)
    print(
        f"{bench.id} {bench.name} ratio={format_ratio(outcome.ratio, bench.op, bench.value)} "
        f"target{bench.op}{bench.value:g} {'MET' if met else 'MISSED'}",
        flush=True,
    )
    return {
        "name": bench.name,
        "ratio": round(outcome.ratio, 4),
        "target": {"op": bench.op, "value": bench.value},
        "met": met,
        "summary": outcome.summary,
        **outcome.raw,
        "runs": [asdict(run) for run in ctx.runs],
        "measured_at": measured_at,
        "config": config,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", action="append", metavar="ID", help="run only these (B0, or B0,B1; repeatable)"
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument(
        "--duration",
        type=float,
        default=3.0,
        help="seconds per wrk run (default 3)",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.duration <= 0:
        parser.error("--rounds must be at least 1 and --duration positive")
    return args


def select(only: list[str] | None) -> list[Benchmark]:
    if not only:
        return list(REGISTRY.values())
    wanted = [item.strip().upper() for arg in only for item in arg.split(",") if item.strip()]
    unknown = [item for item in wanted if item not in REGISTRY]
    if unknown:
        raise SystemExit(
            f"error: unknown benchmark {', '.join(unknown)}; known: {', '.join(REGISTRY)}",
        )
    return [bench for bench in REGISTRY.values() if bench.id in wanted]


def _raise_interrupt(signum: int, frame: object) -> None:
    # SIGTERM (a CI timeout, `kill`) takes the same path as Ctrl-C, so gunicorn is stopped too.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for bench in REGISTRY.values():
            print(f"{bench.id} {bench.name} target{bench.op}{bench.value:g}")
        return 0
    selected = select(args.only)
    wrk = find_wrk()
    if _env_flag("DEBUG"):
        print(
            "warning: DEBUG is on in the environment; figures are not representative",
            file=sys.stderr,
        )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    config = _config(args)
    results = load_results()
    failures = 0
    try:
        with Server(args.workers) as server:
            ctx = Context(server, wrk, args)
            for bench in selected:
                print(f"running {bench.id} {bench.name}...", file=sys.stderr, flush=True)
                try:
                    results[bench.id] = run_one(bench, ctx, config)
                except BenchError as exc:
                    failures += 1
                    print(f"{bench.id} {bench.name} ERROR", flush=True)
                    print(f"error: {bench.id}: {exc}", file=sys.stderr, flush=True)
                    results.pop(bench.id, None)
                except Exception:
                    failures += 1
                    print(f"{bench.id} {bench.name} ERROR", flush=True)
                    traceback.print_exc()
                    results.pop(bench.id, None)
                save_results(results)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; gunicorn stopped", file=sys.stderr)
        return 130
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
