"""Benchmark harness: gunicorn under bench.settings, loaded with wrk, compared to the floor.

Every benchmark is a ratio against the framework floor (bench/floor: a constant string through the
full middleware stack) measured in the same run, so that results depend little on the machine.
Rounds of the target and of the floor are interleaved and each side takes the median of its rounds,
so that a slow spell (another process, CPU throttling) hits both sides instead of one.

Usage: .venv/bin/python bench/run.py [--only B0] [--rounds 5] [--duration 3]
"""

import argparse
import http.client
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
import threading
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from copy import copy
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for bench.seed (Django is set up only by benchmarks that need it)
RESULTS_FILE = ROOT / "bench" / "results.json"
FLOOR_PATH = "/bench/floor"
WARMUP_SECONDS = 1.0
STARTUP_TIMEOUT = 60.0
SERVER_ENV = {"DJANGO_SETTINGS_MODULE": "bench.settings", "DEBUG": "0"}

Op = Literal[">=", ">", "<=", "<"]
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


class BenchError(Exception):
    """Something that makes a figure meaningless (as opposed to a target that is missed).

    raw, if given, is kept in results.json next to the error (what was measured before it)."""

    def __init__(self, message: str, raw: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.raw = raw or {}


class BenchSkipped(Exception):
    """The benchmark cannot run here (a missing service); printed as "<ID> <name> SKIPPED (reason)"."""


@dataclass
class Outcome:
    """What a benchmark function returns; the harness judges the ratio against the target."""

    ratio: float
    summary: str = ""  # printed as "<ID> <summary>" before the result line
    raw: dict[str, Any] = field(default_factory=dict)
    # A condition of the target other than the ratio that failed (a sequential scan...): MISSED whatever
    # the ratio, and the reason is printed.
    veto: str = ""


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

    def __init__(self, workers: int, env: dict[str, str] | None = None, preload: bool = False) -> None:
        self.workers = workers
        self.env = dict(env or {})  # on top of the harness's environment (BENCH_COLD=1...)
        self.preload = preload  # import the application once, before forking: many workers start fast
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def __enter__(self) -> "Server":
        # `make bench` exports DEBUG=1 for manage.py migrate (coworking.settings); what is measured is
        # DEBUG off, whatever the environment says.
        env = {**os.environ, **SERVER_ENV, **self.env}
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
            *(["--preload"] if self.preload else []),
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


class _Shared:
    """State common to a Context and the contexts derived from it: bench data, sessions, CSRF token."""

    def __init__(self) -> None:
        self.data: Any = None  # bench.seed.BenchData, once seeded
        self.csrf_token = ""
        self.session_keys: dict[int, str] = {}  # user id -> session key, deleted at the end of the run
        self.cookie_names: tuple[str, str] = ("sessionid", "csrftoken")

    def cleanup(self) -> None:
        if self.session_keys:
            from bench import seed

            seed.delete_sessions(list(self.session_keys.values()))
            self.session_keys.clear()


class Context:
    """What a benchmark function can use: URLs, wrk measurements, the floor, servers with another
    environment, and the bench data (seeded on first use) with signed-in session cookies."""

    floor_path = FLOOR_PATH

    def __init__(self, server: Server, wrk: str, args: argparse.Namespace) -> None:
        self.server = server
        self.wrk = wrk
        self.rounds: int = args.rounds
        self.duration: float = args.duration
        self.threads: int = args.threads
        self.connections: int = args.connections
        self.workers: int = args.workers
        self.runs: list[WrkRun] = []  # every measured wrk run of the current benchmark
        self.last_output = ""  # wrk's stdout of the latest run (what a Lua done() printed, for one)
        self.shared = _Shared()

    def url(self, path: str) -> str:
        return self.server.base_url + path

    @contextmanager
    def server_with(
        self, *, env: dict[str, str] | None = None, workers: int | None = None, preload: bool = False
    ) -> Iterator["Context"]:
        """Another gunicorn for the duration of the block (extra environment, such as BENCH_COLD=1, or
        another number of workers), as a Context whose measurements, the floor's included, go to that
        server; its runs count in the current benchmark's."""
        with Server(workers or self.workers, env=env, preload=preload) as server:
            derived = copy(self)  # shares runs and shared
            derived.server = server
            yield derived

    # --- bench data and sessions

    def bench_data(self) -> Any:
        """bench.seed.BenchData: the space bench-300 and its members, seeded once per run."""
        if self.shared.data is None:
            from bench import seed

            self.shared.data = seed.seed()
            self.shared.csrf_token = seed.new_csrf_token()
            from django.conf import settings

            self.shared.cookie_names = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
        return self.shared.data

    def sign_in(self, user_ids: list[int]) -> None:
        """Creates a database session for each user that has none yet in this run."""
        from bench import seed

        missing = [pk for pk in dict.fromkeys(user_ids) if pk not in self.shared.session_keys]
        if missing:
            self.shared.session_keys.update(zip(missing, seed.create_sessions(missing), strict=True))

    def cookie(self, user_id: int | None) -> str:
        """The Cookie header of a browser that has visited before: the CSRF cookie, and the session of
        user_id when it is not None (signed in)."""
        self.bench_data()
        session_name, csrf_name = self.shared.cookie_names
        csrf = f"{csrf_name}={self.shared.csrf_token}"
        if user_id is None:
            return csrf
        self.sign_in([user_id])
        return f"{session_name}={self.shared.session_keys[user_id]}; {csrf}"

    @property
    def csrf_token(self) -> str:
        self.bench_data()
        return self.shared.csrf_token

    def fetch(
        self,
        path: str,
        *,
        method: str = "GET",
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request, redirects not followed: (status, headers, body)."""
        self.server.check()
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    # --- wrk

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
        self.last_output = done.stdout
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

    def versus_floor_variants(self, path: str, variants: dict[str, dict[str, Any]]) -> dict[str, list[float]]:
        """Several ways of requesting path (measure() keyword arguments per name: headers..., and "path"
        to request another one), each interleaved with the floor: per round floor, variant 1, variant 2...
        Returns req/s per round, the floor's under "floor"."""
        self.warm_up(FLOOR_PATH)
        series: dict[str, Callable[[], float]] = {"floor": self.floor}
        for name, options in variants.items():
            kwargs = dict(options)
            target = kwargs.pop("path", path)
            self.measure(target, duration=WARMUP_SECONDS, record=False, **kwargs)
            series[name] = lambda target=target, name=name, kwargs=kwargs: self.measure(
                target, label=name, **kwargs
            )
        return self.interleave(series)

    def versus_floor(self, path: str, **measure_kwargs: Any) -> Outcome:
        """The usual benchmark: ratio = median over rounds of (req/s of path / req/s of the floor in the
        same round). Pairing each measurement with the floor run next to it cancels most of the load
        that other processes put on this shared machine; the ratio of medians is kept in the JSON."""
        per_round = self.versus_floor_variants(path, {"target": measure_kwargs})
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


def _verdict(ratio: float, op: Op, value: float) -> str:
    return "MET" if _OPS[op](ratio, value) else "MISSED"


def _availability(
    ctx: Context, *, cache: str, target: tuple[Op, float], floor_signed_in: bool = False
) -> Outcome:
    """The availability page of bench-300 for a day with bookings, as a visitor sees it (the figure
    judged: the page whose cache the target is about) and signed in (reported beside it), each against
    the floor of the same server.

    Why the anonymous page is judged: a signed-in request must also load its user from the database
    (django.contrib.auth does on every request, and nothing of ours can skip it safely), which on these
    machines costs about as much as the whole floor; the signed-in figure is kept in results.json and in
    the summary, together with the floor carrying the same session cookie."""
    data = ctx.bench_data()
    path = f"/spaces/{data.slug}/availability/?date={data.page_day.isoformat()}"
    member = {"Cookie": ctx.cookie(data.member_ids[0])}  # holds a desk that day: a "yours" cell
    anonymous = {"Cookie": ctx.cookie(None)}  # a returning visitor: the CSRF cookie only
    page_bytes = {}
    for name, headers, marker in (
        ("signed_in", member, b'class="cell yours"'),
        ("anonymous", anonymous, b'class="cell taken"'),
    ):
        status, _, body = ctx.fetch(path, headers=headers)
        desks = body.count(b'<tr><th scope="row">')
        if status != 200 or marker not in body or desks < len(data.desk_ids):
            raise BenchError(
                f"{path} ({name}) answered {status} with {desks} desk rows and without {marker!r}: "
                "the page measured would not be the one intended"
            )
        if (name == "anonymous") == (b'class="cell yours"' in body):
            raise BenchError(f"{path}: the {name} page does not show the member's own booking as expected")
        page_bytes[name] = len(body)
    variants: dict[str, dict[str, Any]] = {
        "signed_in": {"headers": member},
        "anonymous": {"headers": anonymous},
    }
    if floor_signed_in:
        # The floor with the member's cookie: what loading the session and the user costs before any
        # view runs (RequestLogMiddleware reads request.user), the ceiling of the signed-in ratio.
        variants["floor_signed_in"] = {"headers": member, "path": FLOOR_PATH}
    per_round = ctx.versus_floor_variants(path, variants)
    signed_in = _paired(per_round["signed_in"], per_round["floor"])
    anon = _paired(per_round["anonymous"], per_round["floor"])
    medians = _medians(per_round)
    op, value = target
    anon_ratio = anon["ratio_per_round_median"]
    extra = {}
    if floor_signed_in:
        extra["floor_signed_in"] = {
            "ratio_to_floor": _paired(per_round["floor_signed_in"], per_round["floor"])[
                "ratio_per_round_median"
            ],
            "page_signed_in_ratio_to_it": _paired(per_round["signed_in"], per_round["floor_signed_in"])[
                "ratio_per_round_median"
            ],
        }
    signed_ratio = signed_in["ratio_per_round_median"]
    return Outcome(
        ratio=anon_ratio,
        summary=(
            f"{path} ({cache} page cache): anonymous {medians['anonymous']:.0f} req/s, signed in "
            f"{medians['signed_in']:.0f} req/s, floor {medians['floor']:.0f} req/s (medians of "
            f"{ctx.rounds} rounds); signed-in ratio={format_ratio(signed_ratio, op, value)} "
            f"{_verdict(signed_ratio, op, value)}"
            + (
                f"; the floor signed in: {medians['floor_signed_in']:.0f} req/s (ratio "
                f"{extra['floor_signed_in']['ratio_to_floor']:.2f}: the most a signed-in page can reach)"
                if extra
                else ""
            )
        ),
        raw={
            "path": path,
            "cache": cache,
            "desks": len(data.desk_ids),
            "page_bytes": page_bytes,
            "rps_per_round": per_round,
            "rps_median": medians,
            "ratio_of_medians": round(medians["anonymous"] / medians["floor"], 4),
            **anon,
            "signed_in": {
                "ratio": signed_ratio,
                "met": _OPS[op](signed_ratio, value),
                "ratio_of_medians": round(medians["signed_in"] / medians["floor"], 4),
                **signed_in,
            },
            **extra,
        },
    )


@benchmark("B1", "availability/floor", target=(">=", 0.5))
def availability_warm(ctx: Context) -> Outcome:
    # The warm-up requests fill the page cache; every measured request then finds it.
    return _availability(ctx, cache="warm", target=(">=", 0.5), floor_signed_in=True)


@benchmark("B1c", "availability-cold/floor", target=(">=", 0.15))
def availability_cold(ctx: Context) -> Outcome:
    # BENCH_COLD=1 makes bench.settings use the dummy cache and no per-process page cache: the page is
    # computed on every request.
    # The floor is measured on that same server (it touches no cache).
    with ctx.server_with(env={"BENCH_COLD": "1"}) as cold:
        return _availability(cold, cache="cold", target=(">=", 0.15))


@benchmark("B3", "availability-query/scaling", target=("<=", 1.5))
def query_scaling(ctx: Context) -> Outcome:
    # In its own process: Django there points at a scratch PostgreSQL database (bench/b3_query_scaling.py).
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "b3_query_scaling.py")],
        cwd=ROOT,
        env={**os.environ, **SERVER_ENV},
        stdout=subprocess.PIPE,
        text=True,
        check=False,
        timeout=1800,
    )
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise BenchError(f"bench/b3_query_scaling.py exited {done.returncode} without a result") from None
    if "skipped" in result:
        raise BenchSkipped(result["skipped"], result.get("detail", ""))
    if "error" in result:
        raise BenchError(f"bench/b3_query_scaling.py: {result['error']}")
    small, large = result["small"], result["large"]
    seq = result["seq_scan_on_bookings"]
    scan = _plan_digest(result["plan_relevant"]["1M"])
    return Outcome(
        ratio=result["ratio"],
        summary=(
            f"bookings query of availability_for_day: {small['query_ms_median']:.3f} ms at "
            f"{small['bookings']:,} bookings, {large['query_ms_median']:.3f} ms at {large['bookings']:,} "
            f"({large['rows_returned']} rows both times); whole selector {small['selector_ms_median']:.1f}"
            f" -> {large['selector_ms_median']:.1f} ms (x{result['selector_ratio']:.2f}); plan at 1M: {scan}"
        ),
        raw=result,
        veto=f"Seq Scan on bookings_booking at {' and '.join(seq)} bookings" if seq else "",
    )


def _plan_digest(lines: list[str]) -> str:
    """The scan nodes of a plan and the rows they throw away, on one line."""
    parts = []
    for line in lines:
        text = line.lstrip("-> ").split("  (")[0]
        if " on " in text:
            parts.append(text)
        elif text.startswith(("Index Cond:", "Rows Removed by Filter:")):
            parts[-1:] = [f"{parts[-1]} [{text}]"] if parts else [text]
    return " <- ".join(parts) or "?"


B4_MAX_ROUNDS = 3  # a round renews 100,000 passes twice (job and baseline): minutes, not seconds


@benchmark("B4", "renewals/raw-sql", target=("<=", 5.0))
def renewals(ctx: Context) -> Outcome:
    # In its own process (bench/b4_renewals.py): scratch databases, each side in a fresh subprocess.
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "b4_renewals.py"),
            "--rounds",
            str(min(ctx.rounds, B4_MAX_ROUNDS)),
        ],
        cwd=ROOT,
        env={**os.environ, **SERVER_ENV},
        stdout=subprocess.PIPE,
        text=True,
        check=False,
        timeout=7200,
    )
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise BenchError(f"bench/b4_renewals.py exited {done.returncode} without a result") from None
    if "skipped" in result:
        raise BenchSkipped(result["skipped"], result.get("detail", ""))
    if "error" in result:
        raise BenchError(f"bench/b4_renewals.py: {result['error']}")
    if result["problems"]:  # rows missing, numbers with gaps, or not the rows the baseline wrote
        raise BenchError("; ".join(result["problems"][:5]), result)
    peak, limit = result["peak_rss_mb"], result["rss_limit_mb"]
    return Outcome(
        ratio=result["ratio"],
        summary=(
            f"renewing {result['passes']:,} due passes on {result['database']}: job "
            f"{result['job_median_s']:.1f} s ({result['job_queries']:,} queries), set-based SQL "
            f"{result['baseline_median_s']:.2f} s (medians of {result['rounds']} rounds); job peak RSS "
            f"{peak:.0f} MB (+{result['rss_growth_mb']:.0f} MB over Django set-up; limit {limit} MB)"
        ),
        raw=result,
        veto=f"the job's peak RSS is {peak:.0f} MB, over {limit} MB" if peak > limit else "",
    )


# B5: every request of the booking load is a real attempt on a free desk-day: request i books desk
# i mod 300 on load day i div 300 for load member (desk + day) mod 300, so the 16 requests in flight
# never compete for a desk nor for a member (one desk at a time). The wrk threads take interleaved
# indices; done() prints where the next run must start, so that rounds never repeat an attempt.
_BOOKING_LUA = """
local path = {path}
local token = {token}
local offset = {offset}
local nthreads = {threads}
local desks = {{{desks}}}
local days = {{{days}}}
local cookies = {{{cookies}}}
local capacity = #desks * #days
local threads = {{}}
n = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function request()
  local i = offset + n * nthreads + tid
  n = n + 1
  local slot = i % capacity
  local d = math.floor(slot / #desks)
  local k = slot % #desks
  local body = "csrfmiddlewaretoken=" .. token .. "&date=" .. days[d + 1]
    .. "&choice=desk%3A" .. desks[k + 1] .. "%3Afull_day"
  local headers = {{}}
  headers["Cookie"] = cookies[((k + d) % #cookies) + 1]
  headers["Content-Type"] = "application/x-www-form-urlencoded"
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local top = 0
  for _, thread in ipairs(threads) do
    local sent = thread:get("n")
    if sent > top then top = sent end
  end
  io.write(string.format("BENCH_NEXT_INDEX %d\\n", offset + top * nthreads))
end
"""
_NEXT_INDEX_RE = re.compile(r"^BENCH_NEXT_INDEX (\d+)$", re.MULTILINE)
RACE_CLIENTS = 16
RACE_TRIALS = 3


def _concurrent_posts(ctx: Context, path: str, requests: list[tuple[str, str]]) -> list[int]:
    """POSTs (cookie, body) all at once from as many threads, connected before a common start."""
    barrier = threading.Barrier(len(requests))
    statuses: list[int] = [0] * len(requests)
    errors: list[str] = []

    def post(index: int, cookie: str, body: str) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", ctx.server.port, timeout=60)
        try:
            conn.connect()
            barrier.wait(timeout=30)
            conn.request(
                "POST",
                path,
                body=body,
                headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
            )
            response = conn.getresponse()
            response.read()
            statuses[index] = response.status
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    workers = [
        threading.Thread(target=post, args=(index, cookie, body))
        for index, (cookie, body) in enumerate(requests)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise BenchError(f"{path}: concurrent POSTs failed: {errors[:3]}")
    return statuses


def _purge_bench_queue() -> int | None:
    """Drops the confirmation e-mails B5's bookings queued (bench.settings routes them to a queue of
    their own, which no worker reads); None if the broker would not say."""
    from django.conf import settings

    from coworking.celery import app

    try:
        with app.connection_for_write() as conn:
            return conn.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)
    except Exception as exc:
        print(f"warning: could not purge the bench task queue: {exc}", file=sys.stderr)
        return None


@benchmark("B5", "booking-post/floor", target=(">=", 0.25))
def booking_post(ctx: Context) -> Outcome:
    from bench import seed

    data = ctx.bench_data()
    stale = seed.reset_load_bookings(data)
    members = data.load_member_ids
    if len(members) < len(data.desk_ids):
        raise BenchError("B5 needs at least one load member per desk")
    ctx.sign_in(members)
    cookies = [ctx.cookie(pk) for pk in members]
    book_path = f"/spaces/{data.slug}/book/"
    days = [day.isoformat() for day in data.load_days]
    capacity = len(days) * len(data.desk_ids)
    state = {"next": 0, "answered": 0}  # attempts sent (next index), attempts answered

    def lua(path: str, offset: int) -> str:
        return _BOOKING_LUA.format(
            path=_lua_string(path),
            token=_lua_string(ctx.csrf_token),
            offset=offset,
            threads=ctx.threads,
            desks=", ".join(str(pk) for pk in data.desk_ids),
            days=", ".join(_lua_string(day) for day in days),
            cookies=", ".join(_lua_string(cookie) for cookie in cookies),
        )

    def book(*, record: bool = True, duration: float | None = None) -> float:
        rps = ctx.measure(
            book_path, label="booking", lua=lua(book_path, state["next"]), record=record, duration=duration
        )
        found = _NEXT_INDEX_RE.search(ctx.last_output)
        if not found:
            raise BenchError(f"the booking script did not report its progress:\n{ctx.last_output}")
        state["next"] = int(found.group(1))
        state["answered"] += parse_wrk(ctx.last_output, "booking", book_path).requests
        return rps

    def floor(*, record: bool = True, duration: float | None = None) -> float:
        # The same POSTs (session and CSRF cookies, token, form body) to the floor: identical middleware.
        return ctx.measure(
            FLOOR_PATH, label="floor", lua=lua(FLOOR_PATH, 0), record=record, duration=duration
        )

    raw: dict[str, Any] = {"path": book_path, "stale_bookings_deleted": stale}
    try:
        ctx.warm_up(FLOOR_PATH)
        floor(record=False, duration=WARMUP_SECONDS)
        book(record=False, duration=WARMUP_SECONDS)
        if not seed.count_load_bookings(data):
            raise BenchError(f"{book_path}: the warm-up booked nothing\n{ctx.server.log_tail()}")
        per_round = ctx.interleave({"floor": floor, "booking": book})
        time.sleep(1.0)  # requests still in flight when wrk stopped
        booked = seed.count_load_bookings(data, local_date__in=data.load_days)
        paired = _paired(per_round["booking"], per_round["floor"])
        raw.update(
            {
                "rps_per_round": per_round,
                "rps_median": _medians(per_round),
                "ratio_of_medians": round(
                    statistics.median(per_round["booking"]) / statistics.median(per_round["floor"]), 4
                ),
                **paired,
                # Sent includes the requests in flight when wrk stopped, which the server may or may not
                # have completed; every answered attempt should have booked (refused = 0).
                "attempts_sent": state["next"],
                "attempts_answered": state["answered"],
                "bookings_created": booked,
                "refused_at_least": max(0, state["answered"] - booked),
                "desk_days_available": capacity,
                "non_2xx_3xx": sum(run.non_2xx_3xx for run in ctx.runs),
            }
        )
        # 16 members at once on one free desk-day, a few times: exactly one booking each time.
        race = []
        with ctx.server_with(workers=RACE_CLIENTS, preload=True) as racing:
            for trial in range(RACE_TRIALS):
                desk = data.desk_ids[trial]
                contenders = cookies[trial * RACE_CLIENTS : (trial + 1) * RACE_CLIENTS]
                body = urlencode(
                    {
                        "csrfmiddlewaretoken": ctx.csrf_token,
                        "date": data.race_day.isoformat(),
                        "choice": f"desk:{desk}:full_day",
                    }
                )
                statuses = _concurrent_posts(racing, book_path, [(cookie, body) for cookie in contenders])
                rows = seed.count_load_bookings(data, resource_id=desk, local_date=data.race_day)
                race.append(
                    {"desk": desk, "day": data.race_day.isoformat(), "statuses": statuses, "rows": rows}
                )
        raw["race"] = race
        wrong = [t for t in race if t["rows"] != 1 or any(s >= 400 or s < 200 for s in t["statuses"])]
        if wrong:
            raise BenchError(
                f"{RACE_CLIENTS} concurrent bookings of one desk-day did not give exactly one booking "
                f"(and only 2xx/3xx answers): {wrong}",
                raw,
            )
    finally:
        seed.reset_load_bookings(data)  # the next benchmarks and runs see the seeded state
        raw["bench_tasks_purged"] = _purge_bench_queue()
    booking_rps, floor_rps = raw["rps_median"]["booking"], raw["rps_median"]["floor"]
    race_text = ", ".join(f"{t['rows']} booking of {len(t['statuses'])}" for t in race)
    return Outcome(
        ratio=paired["ratio_per_round_median"],
        summary=(
            f"POST {book_path}: {booking_rps:.0f} req/s, floor POST: {floor_rps:.0f} req/s (medians of "
            f"{ctx.rounds} rounds); {booked} bookings from {state['answered']} answered attempts, "
            f"0 non-2xx/3xx; race on one desk-day: {race_text}"
        ),
        raw=raw,
    )


_TODAY_ROW_RE = re.compile(rb'<tr data-space="(\d+)">(.*?)</tr>', re.S)
_NUM_CELL_RE = re.compile(rb'<td class="num">(.*?)</td>')


@benchmark("B6", "dashboard/floor", target=(">=", 0.2))
def manager_dashboard(ctx: Context) -> Outcome:
    """GET /admin/ (the admin index with the managers' dashboard) as bench-300's manager, over 10,000
    bookings and 2,000 passes with their invoices (bench/b6_dashboard.py), against the floor. Beside it,
    each with its ratio in the JSON: the same admin index for the manager of a space with nothing in it
    (`empty_space`: Django's admin index and the dashboard's frame without the figures, the most this
    page can reach), and the floor with the manager's session cookie (`floor_signed_in`)."""
    from bench import b6_dashboard

    data = ctx.bench_data()
    dash = b6_dashboard.seed(data)
    seeded = {k: v for k, v in asdict(dash).items() if k != "member_ids"}
    seeded["today"] = dash.today.isoformat()
    raw: dict[str, Any] = {"seed": seeded}
    path = b6_dashboard.PATH
    try:
        manager = {"Cookie": ctx.cookie(dash.manager_id)}
        empty = {"Cookie": ctx.cookie(dash.empty_manager_id)}
        status, _, empty_body = ctx.fetch(path, headers=empty)
        if status != 200 or b'id="dashboard-today"' not in empty_body:
            raise BenchError(f"{path} as the manager of an empty space answered {status} without a dashboard")
        status, _, body = ctx.fetch(path, headers=manager)
        rows = {int(space): cells for space, cells in _TODAY_ROW_RE.findall(body)}
        cells = _NUM_CELL_RE.findall(rows.get(dash.space_id, b""))
        expected = int(cells[-1]) if cells and cells[-1].isdigit() else -1
        if status != 200 or set(rows) != {dash.space_id} or expected < dash.bookings_today:
            raise BenchError(
                f"{path} as the manager answered {status}, today's rows for spaces {sorted(rows)} and "
                f"{expected} people expected (at least {dash.bookings_today} seeded): not the dashboard of "
                f"{data.slug} over the seeded data\n{ctx.server.log_tail()}",
                raw,
            )
        # In this process, with the server's session: the queries of a request served from the dashboard's
        # cache and of one that computes it.
        session_key = ctx.shared.session_keys[dash.manager_id]
        raw["in_process"] = {
            "cached": b6_dashboard.probe(session_key),
            "computed": b6_dashboard.probe(session_key, cached=False),
        }
        raw["page_bytes"] = {"dashboard": len(body), "empty_space": len(empty_body)}
        per_round = ctx.versus_floor_variants(
            path,
            {
                "dashboard": {"headers": manager},
                "empty_space": {"headers": empty},
                "floor_signed_in": {"headers": manager, "path": FLOOR_PATH},
            },
        )
    finally:
        raw["bookings_removed"] = b6_dashboard.remove_bookings(dash)
    paired = _paired(per_round["dashboard"], per_round["floor"])
    medians = _medians(per_round)
    signed_in_floor = _paired(per_round["floor_signed_in"], per_round["floor"])["ratio_per_round_median"]
    empty_ratio = _paired(per_round["empty_space"], per_round["floor"])["ratio_per_round_median"]
    cached, computed = raw["in_process"]["cached"], raw["in_process"]["computed"]
    raw.update(
        {
            "path": path,
            "rps_per_round": per_round,
            "rps_median": medians,
            "ratio_of_medians": round(medians["dashboard"] / medians["floor"], 4),
            **paired,
            "empty_space_ratio": empty_ratio,
            "floor_signed_in_ratio": signed_in_floor,
            # What the figures cost on top of the admin index around them.
            "dashboard_to_empty_space": _paired(per_round["dashboard"], per_round["empty_space"])[
                "ratio_per_round_median"
            ],
        }
    )
    return Outcome(
        ratio=paired["ratio_per_round_median"],
        summary=(
            f"{path} as the manager of {data.slug} ({dash.bookings:,} bookings, {dash.passes:,} passes, "
            f"{dash.invoices:,} invoices; {len(body) // 1024} kB): {medians['dashboard']:.0f} req/s, floor "
            f"{medians['floor']:.0f} req/s (medians of {ctx.rounds} rounds); the admin index of an empty "
            f"space {medians['empty_space']:.0f} req/s (ratio {empty_ratio:.2f}), the floor signed in "
            f"{medians['floor_signed_in']:.0f} req/s (ratio {signed_in_floor:.2f}); {cached['queries']} "
            f"queries per request from the dashboard's cache, {computed['queries']} computing it "
            f"({computed['ms_median']:.0f} ms in-process)"
        ),
        raw=raw,
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
        "debug": False,  # the servers always run with DEBUG off (SERVER_ENV)
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
    met = _OPS[bench.op](outcome.ratio, bench.value) and not outcome.veto
    if outcome.summary:
        print(f"{bench.id} {outcome.summary}", flush=True)
    if outcome.veto:
        print(f"{bench.id} MISSED whatever the ratio: {outcome.veto}", flush=True)
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
        **({"veto": outcome.veto} if outcome.veto else {}),
        **outcome.raw,
        "runs": [asdict(run) for run in ctx.runs],
        "measured_at": measured_at,
        "config": config,
    }


def _not_measured(bench: Benchmark, config: dict[str, Any], **details: Any) -> dict[str, Any]:
    # Replaces an earlier figure: results.json must not show a verdict this run could not confirm.
    return {
        "name": bench.name,
        "ratio": None,
        "target": {"op": bench.op, "value": bench.value},
        "met": False,
        **details,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
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
    known = {bench_id.upper(): bench_id for bench_id in REGISTRY}  # B1c is B1C on the command line too
    unknown = [item for item in wanted if item not in known]
    if unknown:
        raise SystemExit(
            f"error: unknown benchmark {', '.join(unknown)}; known: {', '.join(REGISTRY)}",
        )
    return [bench for bench in REGISTRY.values() if bench.id.upper() in wanted]


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
    signal.signal(signal.SIGTERM, _raise_interrupt)
    config = _config(args)
    results = load_results()
    failures = 0
    try:
        with Server(args.workers) as server:
            ctx = Context(server, wrk, args)
            try:
                for bench in selected:
                    print(f"running {bench.id} {bench.name}...", file=sys.stderr, flush=True)
                    try:
                        results[bench.id] = run_one(bench, ctx, config)
                    except BenchSkipped as exc:
                        reason, *detail = exc.args
                        print(f"{bench.id} {bench.name} SKIPPED ({reason})", flush=True)
                        if detail and detail[0]:
                            print(f"skipped: {bench.id}: {detail[0]}", file=sys.stderr, flush=True)
                        results[bench.id] = _not_measured(
                            bench, config, skipped=reason, **({"detail": detail[0]} if detail else {})
                        )
                    except BenchError as exc:
                        failures += 1
                        print(f"{bench.id} {bench.name} ERROR", flush=True)
                        print(f"error: {bench.id}: {exc}", file=sys.stderr, flush=True)
                        results[bench.id] = _not_measured(bench, config, error=str(exc), **exc.raw)
                    except Exception as exc:
                        failures += 1
                        print(f"{bench.id} {bench.name} ERROR", flush=True)
                        traceback.print_exc()
                        results[bench.id] = _not_measured(bench, config, error=repr(exc))
                    save_results(results)
            finally:
                ctx.shared.cleanup()  # the sessions signed in for this run
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; gunicorn stopped", file=sys.stderr)
        return 130
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
