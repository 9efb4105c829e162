"""Checks of the container deployment: docker-compose.yml, the Dockerfile and docker/entrypoint.sh.

They read the files (and run the entry point with stand-in commands), so they need neither Docker nor a
database. `docker compose config` is run only where a working Docker Compose is installed.
"""

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"

SERVICES = {"postgres", "redis", "web", "worker", "beat"}
APP_SERVICES = ("web", "worker", "beat")
NO_COMPOSE = "no Docker Compose binary on this machine"


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


def _volume_mounts(service):
    """(source, target) of each volume of a service, short or long syntax."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            mounts.append((volume.get("source", ""), volume["target"]))
        else:
            source, target = volume.split(":")[:2]
            mounts.append((source, target))
    return mounts


def _dockerfile_instructions():
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions, current = [], ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        keyword, _, arguments = current.partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    return instructions


# --- docker-compose.yml -------------------------------------------------------------------------


def test_compose_file_defines_the_five_services_without_a_version_key(compose):
    assert "version" not in compose  # obsolete in the Compose specification
    assert set(compose["services"]) == SERVICES


def test_variable_references_are_well_formed_and_only_the_secret_key_is_required():
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    references = re.findall(r"\$\{[^}]*\}", text)
    assert references
    for reference in references:
        assert re.fullmatch(r"\$\{[A-Z][A-Z0-9_]*(:[-?][^}]*)?\}", reference), reference
    assert [r for r in references if ":?" in r] == ["${SECRET_KEY:?set SECRET_KEY in .env}"]
    # Any other "$" would be interpolated by Compose: it has to be written "$$".
    assert "$" not in re.sub(r"\$\{[^}]*\}|\$\$", "", text)


def test_app_services_share_one_image_and_the_env_anchor(compose, services):
    shared_env = compose["x-app-env"]
    first = services["web"]
    for name in APP_SERVICES:
        service = services[name]
        assert service["build"] == first["build"], name
        assert service["image"] == first["image"], name
        assert service["environment"] == shared_env, name
    build = first["build"]
    assert (build if isinstance(build, str) else build["context"]) == "."
    assert first["image"]


def test_app_environment_points_at_the_compose_services(compose):
    env = compose["x-app-env"]
    assert re.fullmatch(
        r"postgres://coworking:\$\{POSTGRES_PASSWORD:-[^}]+\}@postgres:5432/coworking",
        env["DATABASE_URL"],
    )
    assert env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["DEBUG"] == "0"
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert env["ALLOWED_HOSTS"] == "${ALLOWED_HOSTS:-localhost}"
    assert env["SITE_URL"].startswith("${SITE_URL:-http")
    for name in ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD"):
        assert env[name].startswith("${" + name + ":-"), name
    # An empty value reads as "false" (coworking.env.env_bool): booleans need a real default.
    assert env["EMAIL_USE_TLS"] == "${EMAIL_USE_TLS:-1}"
    assert env["DEFAULT_FROM_EMAIL"] != "${DEFAULT_FROM_EMAIL:-}"
    for name in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET"):
        assert env[name] == "${" + name + ":-}", name
    assert all(isinstance(value, str) for value in env.values())


def test_postgres_password_default_is_the_same_in_both_places(compose, services):
    password = services["postgres"]["environment"]["POSTGRES_PASSWORD"]
    assert password.startswith("${POSTGRES_PASSWORD:-")
    assert f":{password}@" in compose["x-app-env"]["DATABASE_URL"]
    assert services["postgres"]["environment"]["POSTGRES_USER"] == "coworking"
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "coworking"


def test_each_app_service_runs_its_role(services):
    for name in APP_SERVICES:
        command = services[name]["command"]
        assert (command if isinstance(command, str) else " ".join(command)) == name


def test_beat_runs_as_a_single_replica(services):
    assert services["beat"]["deploy"]["replicas"] == 1


def test_postgres_16_creates_btree_gist_on_first_start(services):
    postgres = services["postgres"]
    assert postgres["image"] == "postgres:16"
    mounts = dict(_volume_mounts(postgres))
    assert "pgdata" in mounts
    assert mounts["pgdata"] == "/var/lib/postgresql/data"
    init = [src for src, target in mounts.items() if target.startswith("/docker-entrypoint-initdb.d")]
    assert init, "no init script mounted into /docker-entrypoint-initdb.d"
    sql = (ROOT / init[0]).read_text(encoding="utf-8")
    assert re.search(r"CREATE EXTENSION IF NOT EXISTS btree_gist\s*;", sql, re.IGNORECASE)


def test_redis_persists_with_append_only_file(services):
    redis = services["redis"]
    assert redis["image"] == "redis:7"
    command = redis["command"]
    command = command.split() if isinstance(command, str) else command
    assert command[command.index("--appendonly") + 1] == "yes"
    assert ("redisdata", "/data") in _volume_mounts(redis)


def test_healthchecks_on_postgres_redis_and_web(services):
    expected = {"postgres": "pg_isready", "redis": "redis-cli ping", "web": "healthcheck"}
    for name, command in expected.items():
        healthcheck = services[name]["healthcheck"]
        assert not healthcheck.get("disable"), name
        test = healthcheck["test"]
        test = test if isinstance(test, str) else " ".join(test)
        assert command in test, name


def test_app_services_wait_for_healthy_postgres_and_redis(services):
    for name in APP_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }, name


def test_no_service_uses_host_networking_or_privileges(services):
    for name, service in services.items():
        assert service.get("network_mode") != "host", name
        assert "host" not in (service.get("networks") or []), name
        assert not service.get("privileged"), name


def test_every_service_restarts_unless_stopped(services):
    for name, service in services.items():
        assert service["restart"] == "unless-stopped", name


def test_named_volumes_and_media_mount(compose, services):
    assert {"pgdata", "redisdata", "media"} <= set(compose["volumes"])
    for name in APP_SERVICES:
        assert ("media", "/app/var/media") in _volume_mounts(services[name]), name


def test_web_publishes_port_8000(services):
    ports = services["web"]["ports"]
    assert len(ports) == 1
    assert str(ports[0]).endswith(":8000")


def test_docker_compose_config_accepts_the_file(tmp_path):
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip(NO_COMPOSE)
    try:
        version = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        pytest.skip(NO_COMPOSE)
    if version.returncode != 0:
        pytest.skip(NO_COMPOSE)

    empty_env_file = tmp_path / "empty.env"  # so that a developer's .env does not interfere
    empty_env_file.write_text("", encoding="utf-8")
    command = [docker, "compose", "--env-file", str(empty_env_file), "-f", str(COMPOSE_FILE)]
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}

    result = subprocess.run(
        [*command, "config", "-q"],
        cwd=ROOT,
        env={**env, "SECRET_KEY": "compose-config-test"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    missing = subprocess.run(
        [*command, "config", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode != 0
    assert "set SECRET_KEY in .env" in missing.stderr


# --- Dockerfile and .dockerignore -------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_python_3_12_slim():
    instructions = _dockerfile_instructions()
    args = dict(arg.split("=", 1) for keyword, arg in instructions if keyword == "ARG" and "=" in arg)
    bases = [
        re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], arguments.split()[0])
        for keyword, arguments in instructions
        if keyword == "FROM"
    ]
    assert len(bases) >= 2
    assert set(bases) == {"python:3.12-slim"}


def test_dockerfile_runs_as_a_non_root_user():
    users = [arguments for keyword, arguments in _dockerfile_instructions() if keyword == "USER"]
    assert users, "no USER instruction"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_has_a_healthcheck_on_healthz():
    checks = [args for keyword, args in _dockerfile_instructions() if keyword == "HEALTHCHECK"]
    assert len(checks) == 1
    assert checks[0] != "NONE"
    entrypoint = ENTRYPOINT.read_text(encoding="utf-8")
    assert "entrypoint.sh" in checks[0] or "healthz" in checks[0]
    assert "http://127.0.0.1:8000/healthz" in entrypoint
    assert "urllib" in entrypoint


def test_dockerfile_installs_runtime_dependencies_only():
    runs = [args for keyword, args in _dockerfile_instructions() if keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs
    assert any(re.search(r"pip install -c constraints\.txt \.(\s|$)", run) for run in installs)
    for run in installs:
        assert "[dev]" not in run
        assert "-e " not in run


def test_dockerfile_collects_static_files_at_build_time():
    instructions = _dockerfile_instructions()
    collect = [a for k, a in instructions if k == "RUN" and "collectstatic --noinput" in a]
    assert len(collect) == 1
    for assignment in ("SECRET_KEY=build-only", "ALLOWED_HOSTS=localhost", "ALLOW_CONSOLE_EMAIL=1"):
        assert assignment in collect[0]
    env = " ".join(a for k, a in instructions if k == "ENV")
    assert "VAR_DIR=/app/var" in env
    assert "SECRET_KEY" not in env  # the build-time key stays out of the image
    assert any(k == "VOLUME" and "/app/var/media" in a for k, a in instructions)


def test_dockerfile_starts_gunicorn_through_the_entrypoint():
    instructions = dict(_dockerfile_instructions())
    assert "docker/entrypoint.sh" in instructions["ENTRYPOINT"]
    cmd = instructions["CMD"]
    for part in ("gunicorn", "coworking.wsgi:application", "0.0.0.0:8000", "--access-logfile"):
        assert part in cmd
    assert "WEB_CONCURRENCY=3" in " ".join(a for k, a in _dockerfile_instructions() if k == "ENV")


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".git", ".venv", "var", ".env"} <= ignored


# --- docker/entrypoint.sh -------------------------------------------------------------------------


def test_entrypoint_is_an_executable_shell_script_that_stops_on_errors():
    text = ENTRYPOINT.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/sh\n")
    assert re.search(r"^set -e$", text, re.MULTILINE)
    assert ENTRYPOINT.stat().st_mode & stat.S_IXUSR
    assert "\r" not in text


@pytest.fixture
def run_entrypoint(tmp_path):
    """Run the entry point with stand-ins for python, gunicorn and celery that print their arguments."""
    sh = shutil.which("sh")
    if sh is None:
        pytest.skip("no POSIX shell on this machine")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    stubs = {
        "gunicorn": 'echo "gunicorn $*"\n',
        "celery": 'echo "celery $*"\n',
        # The migration script arrives on stdin (`python - <<PY`).
        "python": (
            'echo "python $*"\n'
            'if grep -q \'call_command("migrate"\'; then echo "python: migrate"; fi\n'
            'exit "${STUB_PYTHON_EXIT:-0}"\n'
        ),
    }
    for name, body in stubs.items():
        stub = bin_dir / name
        stub.write_text("#!/bin/sh\n" + body, encoding="utf-8")
        stub.chmod(0o755)

    def run(*args, **extra_env):
        env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", **extra_env}
        return subprocess.run(
            [sh, str(ENTRYPOINT), *args],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    return run


def test_entrypoint_web_migrates_then_serves(run_entrypoint):
    result = run_entrypoint("web")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "python -",
        "python: migrate",
        "gunicorn coworking.wsgi:application --bind 0.0.0.0:8000 --workers 3 "
        "--access-logfile - --worker-tmp-dir /dev/shm",
    ]


def test_entrypoint_web_reads_workers_from_the_environment(run_entrypoint):
    result = run_entrypoint("web", "--timeout", "60", WEB_CONCURRENCY="5")
    gunicorn = result.stdout.splitlines()[-1]
    assert "--workers 5 " in gunicorn
    assert gunicorn.endswith("--timeout 60")


def test_entrypoint_web_does_not_serve_when_migrations_fail(run_entrypoint):
    result = run_entrypoint("web", STUB_PYTHON_EXIT="1")
    assert result.returncode != 0
    assert "gunicorn" not in result.stdout


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("worker", "celery -A coworking worker --loglevel INFO"),
        (
            "beat",
            "celery -A coworking beat --loglevel INFO --schedule /app/var/celerybeat-schedule",
        ),
    ],
)
def test_entrypoint_starts_celery_roles(run_entrypoint, role, expected):
    result = run_entrypoint(role)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [expected]


def test_entrypoint_runs_any_other_command_as_given(run_entrypoint):
    result = run_entrypoint("python", "manage.py", "createsuperuser")
    assert result.stdout.splitlines()[0] == "python manage.py createsuperuser"
    assert "gunicorn" not in result.stdout
    echo = run_entrypoint("echo", "hello")
    assert echo.stdout == "hello\n"
