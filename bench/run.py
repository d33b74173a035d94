"""Keel benchmarks: `make bench`. Prints figures and writes bench/results.md; asserts nothing.

1. Template: render time per mode, generated suite time per mode (SQLite), and at the end the
   whole template suite (`make test`; BENCH_TEMPLATE_SUITE=0 skips it).
2. Webhooks: ingest, signed customer.subscription.updated events per second through each
   mode's webhook endpoint, served by gunicorn (2 workers x 4 threads) on 127.0.0.1 with
   PostgreSQL and the Redis broker set (the view verifies, stores and enqueues; no worker runs);
   below 1,000 events/s, a per-request profile (bench/profile_ingest.py). Then end to end, from
   delivery to applied state, p50/p99 and events/s, with 1 and with 2 Celery worker processes.
   `python bench/run.py --only webhooks` measures just this and updates its section.
3. Gated request cost: median time and SQL queries of a trivial view, undecorated and under each
   gate, with 0 and 1,000,000 prior usage records (see bench/gates.py).
4. First `make run`: per mode, from invoking `make run` in a fresh render (warm uv cache, SQLite)
   to the first 200 on `/`, against its target. `python bench/run.py --only first-run` measures
   just this and updates its section of bench/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
WEBHOOK_SECRET = "whsec_benchmarksecret000000000000"
MODES = ("basic", "advanced")
EVENTS = int(os.environ.get("BENCH_EVENTS", "3000"))  # per timed ingest run, each mode
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
#: Events sent before the timed runs: the workers import and connect on the first ones, and
#: the first ~800 deliveries after a start are stored ~25% slower than the rest (seen in both
#: modes, with and without VACUUM ANALYZE, CHECKPOINT or gc.freeze() first; cause not found).
#: The runs measure the steady state after them.
WARMUP = 1000
#: The benchmark's own Redis database (other suites may use the same Redis), emptied each time.
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
#: Webhook ingest target, events per second, each mode (verify, store, enqueue).
INGEST_TARGET = 1000.0
#: Events profiled in-process when ingest is below its target.
PROFILE_EVENTS = {"basic": 500, "advanced": 200}
#: Events per end-to-end run (each a new subscription: in advanced mode also one in the offline
#: Stripe, which dj-stripe re-fetches).
E2E_EVENTS = {
    "basic": int(os.environ.get("BENCH_E2E_EVENTS", "1000")),
    "advanced": max(int(os.environ.get("BENCH_E2E_EVENTS", "1000")) // 5, 100),
}
#: Seconds from `make run` in a fresh render to the first 200 on `/` (issue: first-run time).
FIRST_RUN_TARGETS = {"basic": 15.0, "advanced": 30.0}
FIRST_RUN_HEADING = "## First `make run` (fresh render, warm uv cache, SQLite)"


def sh(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, check: bool = True) -> str:
    proc = subprocess.run(
        cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed in {cwd}:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def timed(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    sh(cmd, cwd, env)
    return time.perf_counter() - started


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url(mode: str) -> str:
    return f"{POSTGRES}/keel_bench_{mode}"


def recreate_database(mode: str) -> None:
    name = f"keel_bench_{mode}"
    for statement in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        sh(["psql", f"{POSTGRES}/postgres", "-q", "-c", statement], ROOT)


def render(mode: str, name: str | None = None) -> tuple[Path, float]:
    target = OUT / (name or mode)
    shutil.rmtree(target, ignore_errors=True)
    copier = str(Path(sys.executable).parent / "copier")
    seconds = timed(
        [
            copier,
            "copy",
            "--trust",
            "--defaults",
            "--quiet",
            "--vcs-ref",
            "HEAD",  # the working tree, not the latest release tag
            "-d",
            f"stripe_mode={mode}",
            ".",
            str(target),
        ],
        ROOT,
    )
    return target, seconds


def production_env(mode: str, port: int) -> dict[str, str]:
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "benchmark-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url(mode),
        "STRIPE_SECRET_KEY": "sk_test_benchmarkkey000000000000000",
        "STRIPE_PUBLIC_KEY": "pk_test_benchmarkkey000000000000000",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DJSTRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "CELERY_BROKER_URL": REDIS,  # the view only verifies, stores and enqueues
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore",
        "SITE_URL": f"http://127.0.0.1:{port}",
    }


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on 127.0.0.1:{port}")


#: Production settings with stripe-python pointed at the offline Stripe, for the ingest benchmark
#: only: production settings refuse STRIPE_API_BASE, and the project follows it only with DEBUG on.
BENCH_SETTINGS = '''"""Production settings; Stripe calls go to the offline Stripe (bench/run.py)."""
import os

import stripe

from config.settings.production import *  # noqa: F403

stripe.api_base = os.environ["BENCH_STRIPE_API_BASE"]
'''


def start_offline_stripe(project: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """The generated project's offline Stripe, as a process (advanced mode re-fetches from it),
    and the environment that points the project at it."""
    fake = subprocess.Popen(
        [str(project / ".venv" / "bin" / "python"), "-m", "fakestripe"],
        cwd=project,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert fake.stdout is not None
    values: dict[str, str] = {}
    while "FAKESTRIPE_API_KEY" not in values:
        key, _, value = fake.stdout.readline().strip().partition("=")
        if not key:
            raise SystemExit("the offline Stripe did not start")
        values[key] = value
    (project / "bench_settings.py").write_text(BENCH_SETTINGS)
    env = {
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "BENCH_STRIPE_API_BASE": values["FAKESTRIPE_URL"],
        "STRIPE_SECRET_KEY": values["FAKESTRIPE_API_KEY"],
    }
    return fake, env


def flush_broker() -> None:
    """FLUSHDB on the benchmark's own Redis database (BENCH_REDIS_URL), over the wire protocol."""
    parts = urllib.parse.urlsplit(REDIS)
    database = parts.path.strip("/") or "0"
    with socket.create_connection((parts.hostname, parts.port or 6379), timeout=5) as sock:
        for command in (("SELECT", database), ("FLUSHDB",)):
            wire = f"*{len(command)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in command)
            sock.sendall(wire.encode())
            if not sock.recv(1024).startswith(b"+OK"):
                raise SystemExit(f"Redis refused {command[0]} at {REDIS}")


def stop(*processes: subprocess.Popen[str] | subprocess.Popen[bytes] | None) -> None:
    for process in processes:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        if process is not None:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


#: Process names whose CPU time the ingest runs account for, besides gunicorn's workers.
CPU_ACCOUNTS = {"postgres": "PostgreSQL", "redis-server": "Redis"}
#: Clock ticks a second, the unit of /proc's CPU times.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_ticks(server_pid: int) -> dict[str, int]:
    """CPU time so far (clock ticks): the machine's busy and total time (/proc/stat), and each
    process kind's own (gunicorn: the server and its workers), the finished load client's
    included (this process's waited-for children)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    ticks = {"machine busy": sum(fields) - idle, "machine total": sum(fields)}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        name = text[text.index("(") + 1 : text.rindex(")")]
        rest = text[text.rindex(")") + 2 :].split()
        pid, ppid, used = int(stat.parent.name), int(rest[1]), int(rest[11]) + int(rest[12])
        kind = "gunicorn" if server_pid in (pid, ppid) else CPU_ACCOUNTS.get(name, "")
        if kind:
            ticks[kind] = ticks.get(kind, 0) + used
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    ticks["load client"] = round((children.ru_utime + children.ru_stime) * CLOCK_TICKS)
    return ticks


def cpu_per_event(before: dict[str, int], after: dict[str, int], events: int) -> dict[str, float]:
    """The ingest runs' CPU: the machine's busy share (%) and each process kind's ms an event."""
    spent = {kind: after.get(kind, 0) - before.get(kind, 0) for kind in after}
    busy = 100 * spent.pop("machine busy") / max(spent.pop("machine total"), 1)
    figures = {"machine busy %": round(busy, 1)}
    for kind, used in sorted(spent.items()):
        figures[f"{kind} ms/event"] = round(1000 * used / CLOCK_TICKS / events, 2)
    return figures


def ingest(mode: str, project: Path) -> dict[str, object]:
    """Webhook events per second under gunicorn (2 workers x 4 threads) on PostgreSQL, with the
    Redis broker set: the view verifies, stores and enqueues (no worker runs meanwhile). Below
    the target, a per-request profile says where the time goes. Then end to end, from delivery
    to applied state, with 1 and with 2 worker processes."""
    recreate_database(mode)
    port = free_port()
    env = production_env(mode, port)
    python = str(project / ".venv" / "bin" / "python")
    sh([python, "manage.py", "migrate", "--noinput", "-v0"], project, env)
    fake = server = None
    try:
        if mode == "advanced":
            fake, fake_env = start_offline_stripe(project)
            env.update(fake_env)
        seed = json.loads(sh([python, str(ROOT / "bench" / "seed.py"), mode], project, env))
        pairs_file = OUT / f"{mode}-pairs.json"
        pairs_file.write_text(json.dumps(seed["pairs"]))
        # The project's own gunicorn.conf.py (gthread, 4 threads per worker), with 2 workers.
        server = subprocess.Popen(
            [
                str(project / ".venv" / "bin" / "gunicorn"),
                "config.wsgi",
                "--workers",
                "2",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
            ],
            cwd=project,
            env={**os.environ, **env},
            start_new_session=True,
        )
        wait_for_port(port)
        flush_broker()
        url = f"http://127.0.0.1:{port}{seed['path']}"
        client = [python, str(ROOT / "bench" / "ingest_client.py"), url, WEBHOOK_SECRET]
        client += [str(pairs_file), "--threads", "8"]
        # The workers import Django and connect on their first requests: not counted below.
        sh([*client, "--events", str(WARMUP), "--runs", "1", "--warmup", "0"], project)
        client += ["--events", str(EVENTS), "--runs", str(RUNS), "--warmup", str(WARMUP)]
        runner = subprocess.Popen(client, cwd=project, stdout=subprocess.PIPE, text=True)
        before = cpu_ticks(server.pid)
        out, _ = runner.communicate()
        after = cpu_ticks(server.pid)
        if runner.returncode:
            raise SystemExit(f"the load client failed: {out}")
        figures = json.loads(out)
        # What the machine did meanwhile: whether it was busy, and which process used the CPU.
        figures["cpu"] = cpu_per_event(before, after, EVENTS * RUNS + WARMUP)
        if figures["events_per_second"] < INGEST_TARGET:
            profile = [python, str(ROOT / "bench" / "profile_ingest.py"), WEBHOOK_SECRET]
            profile += [str(pairs_file), seed["path"], "--events", str(PROFILE_EVENTS[mode])]
            figures["profile"] = json.loads(sh(profile, project, env))
        flush_broker()  # what the ingest runs queued: no worker ran, none is applied
        figures["end_to_end"] = {
            str(workers): end_to_end(mode, project, env, url, workers) for workers in (1, 2)
        }
        return figures
    finally:
        stop(server, fake)
        flush_broker()


#: Reads when each end-to-end event's subscription appeared in the project's tables (its
#: event applied), waiting until all have; prints {subscription id: unix time}.
APPLIED = """
import json, sys, time, psycopg
url, query, ids, timeout = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + timeout
with psycopg.connect(url, autocommit=True) as connection:
    while True:
        rows = connection.execute(query, [ids]).fetchall()
        if len(rows) >= len(ids) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
print(json.dumps({sub: float(at) for sub, at in rows}))
"""
APPLIED_QUERIES = {
    "basic": "SELECT stripe_subscription_id, extract(epoch FROM created_at) "
    "FROM billing_subscription WHERE stripe_subscription_id = ANY(%s)",
    "advanced": "SELECT id, extract(epoch FROM djstripe_created) "
    "FROM djstripe_subscription WHERE id = ANY(%s)",
}


def end_to_end(
    mode: str, project: Path, env: dict[str, str], url: str, workers: int
) -> dict[str, object]:
    """With `workers` worker processes (`celery worker --concurrency N`) applying events: a
    burst (as fast as 8 client connections deliver: the events/s a backlog drains at), then
    half as many events paced at half that rate (the latency when the workers keep up)."""
    python = str(project / ".venv" / "bin" / "python")
    log = OUT / f"{mode}-worker-{workers}.log"
    worker = subprocess.Popen(
        [python, "-m", "celery", "-A", "config", "worker", f"--concurrency={workers}"]
        + ["--loglevel=INFO", "--without-mingle", "--without-gossip"],
        cwd=project,
        env={**os.environ, **env, "LOG_LEVEL": "INFO"},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the Celery worker did not start; see {log}")
            time.sleep(0.2)
        count = E2E_EVENTS[mode]
        burst = delivered_to_applied(mode, project, env, url, f"w{workers}b", count)
        rate = round(float(burst.get("events_per_second", 0)) / 2, 1)  # type: ignore[arg-type]
        paced = delivered_to_applied(mode, project, env, url, f"w{workers}p", count // 2, rate)
    finally:
        stop(worker)
    return {"burst": burst, "paced": paced}


def delivered_to_applied(
    mode: str,
    project: Path,
    env: dict[str, str],
    url: str,
    tag: str,
    count: int,
    rate: float = 0.0,
) -> dict[str, object]:
    """`count` events, each for a subscription the project has not seen, sent by 8 client
    connections (at `rate` events/s, or as fast as they are answered): per event, the time
    from its delivery to its subscription's row (the event applied), and events per second
    from the first delivery to the last applied."""
    python = str(project / ".venv" / "bin" / "python")
    seeding = [python, str(ROOT / "bench" / "seed.py"), mode, str(count), tag]
    seed = json.loads(sh(seeding, project, env))
    pairs_file = OUT / f"{mode}-e2e-{tag}-pairs.json"
    pairs_file.write_text(json.dumps(seed["pairs"]))
    sent_file = OUT / f"{mode}-e2e-{tag}-sent.json"
    client = [python, str(ROOT / "bench" / "ingest_client.py"), url, WEBHOOK_SECRET]
    client += [str(pairs_file), "--threads", "8", "--events", str(count), "--rate", str(rate)]
    delivery = json.loads(sh([*client, "--record", str(sent_file)], project))
    sent: dict[str, float] = json.loads(sent_file.read_text())
    ids = json.dumps(sorted(sent))
    query = [python, "-c", APPLIED, database_url(mode), APPLIED_QUERIES[mode], ids, "300"]
    applied: dict[str, float] = json.loads(sh(query, project))
    figures: dict[str, object] = {
        "events": count,
        "rate": rate or "burst",
        "applied": len(applied),
        "statuses": delivery["statuses"],
    }
    latencies = sorted(applied[sub] - sent[sub] for sub in applied)
    if latencies:
        figures["p50_ms"] = round(percentile(latencies, 50) * 1000)
        figures["p99_ms"] = round(percentile(latencies, 99) * 1000)
        seconds = max(applied.values()) - min(sent.values())
        figures["events_per_second"] = round(len(applied) / seconds, 1)
    return figures


def percentile(ordered: list[float], percent: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


def first_run(mode: str, *, uv_on_path: bool = True, timeout: float = 600.0) -> dict[str, object]:
    """Seconds from invoking `make run` in a fresh render to the first 200 on `/`.

    The render is new (no .venv, no database, no uv.lock); the uv cache is warmed first by
    installing a copy of it. With `uv_on_path`, uv comes from PATH as under `make bench` (the
    template's .venv/bin); without, no PATH entry holds a uv, so `make run` installs one into the
    project's .tools/ first, as on a machine with only python3. SQLite, no Stripe key (so the
    offline Stripe starts), a free port. Returns the seconds, the mode's target and whether it
    is met, the load average then, and where `make run`'s output went (each line after its
    second since the start).
    """
    name = f"{mode}-first-run" + ("" if uv_on_path else "-no-uv")
    project, _ = render(mode, name)
    warm = OUT / f"{name}-warm"
    shutil.rmtree(warm, ignore_errors=True)
    shutil.copytree(project, warm)
    with_uv = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    sh(["make", "install"], warm, {"PATH": with_uv})
    shutil.rmtree(warm)
    path = with_uv if uv_on_path else without_uv(os.environ["PATH"])
    env = {"PATH": path}
    port = free_port()
    log_path = OUT / f"{name}.log"
    env.update(DATABASE_URL="", STRIPE_SECRET_KEY="", PORT=str(port))
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    server = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=project,
        env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    logger = threading.Thread(target=log_lines, args=(server, log_path, started))
    logger.start()
    try:
        seconds = wait_for_200(url, server, started + timeout) - started
        load = round(os.getloadavg()[0], 1)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        logger.join()
    target = FIRST_RUN_TARGETS[mode]
    return {
        "seconds": round(seconds, 1),
        "target_s": target,
        "met": seconds <= target,
        "load": load,
        "log": str(log_path.relative_to(ROOT)),
    }


def log_lines(server: subprocess.Popen[str], path: Path, started: float) -> None:
    """`make run`'s output, each line after the seconds since `make run` started."""
    assert server.stdout is not None
    with path.open("w") as log:
        for line in server.stdout:
            log.write(f"{time.perf_counter() - started:7.2f}  {line}")


def wait_for_200(url: str, server: subprocess.Popen[str], deadline: float) -> float:
    """When `url` first answers 200 (perf_counter), polling every 50 ms while `server` runs."""
    while time.perf_counter() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"make run exited ({server.returncode}) before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                if response.status == 200:
                    return time.perf_counter()
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"make run did not serve {url} in time")


def without_uv(path: str) -> str:
    return os.pathsep.join(
        folder for folder in path.split(os.pathsep) if not os.access(Path(folder) / "uv", os.X_OK)
    )


def first_runs(mode: str) -> dict[str, dict[str, object]]:
    """The first `make run` of `mode` with uv on PATH and without it."""
    return {"uv_on_path": first_run(mode), "no_uv": first_run(mode, uv_on_path=False)}


def first_run_lines(runs: dict[str, dict[str, dict[str, object]]]) -> list[str]:
    lines = [
        FIRST_RUN_HEADING,
        "",
        "From invoking `make run` in a new render to the first 200 on `/` (uv sync, migrate, the "
        f"offline Stripe with its plans, runserver); one run each, {datetime.now(UTC):%Y-%m-%d} "
        "UTC. Without uv on PATH, `make run` first installs uv into the project's .tools/. The "
        "machine's 1-minute load average when each first page came is in parentheses.",
        "",
        "| mode | uv on PATH s | no uv on PATH s | target s | verdict |",
        "| --- | --- | --- | --- | --- |",
    ]
    for mode, run in runs.items():
        with_uv, no_uv = run["uv_on_path"], run["no_uv"]
        verdict = "met" if with_uv["met"] and no_uv["met"] else "NOT met"
        cells = [
            mode,
            f"{with_uv['seconds']} ({with_uv['load']})",
            f"{no_uv['seconds']} ({no_uv['load']})",
            f"<= {with_uv['target_s']:g}",
            verdict,
        ]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    return lines


def summary(runs: dict[str, dict[str, object]]) -> str:
    with_uv, no_uv = runs["uv_on_path"], runs["no_uv"]
    return (
        f"{with_uv['seconds']} s, {no_uv['seconds']} s without uv on PATH "
        f"(target {with_uv['target_s']:g} s)"
    )


def first_run_only() -> None:
    """`--only first-run`: measure both modes and replace that section of bench/results.md."""
    OUT.mkdir(parents=True, exist_ok=True)
    runs = {}
    for mode in MODES:
        runs[mode] = first_runs(mode)
        print(f"{mode}: first make run {summary(runs[mode])}", flush=True)
    section = first_run_lines(runs)
    results = ROOT / "bench" / "results.md"
    text = results.read_text() if results.exists() else ""
    before, found, after = text.partition(FIRST_RUN_HEADING)
    if found:
        rest = after.partition("\n## ")
        after = "\n## " + rest[2] if rest[1] else ""
        text = before + "\n".join(section) + "\n" + after
    else:  # before the Targets section, where the full report puts it
        head, targets_found, tail = text.partition("\n## Targets")
        text = head.rstrip("\n") + "\n\n" + "\n".join(section) + "\n"
        text += "\n## Targets" + tail if targets_found else ""
    results.write_text(text)
    print("\n".join(section))


def gates(mode: str, project: Path) -> dict[str, object]:
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(mode),
    }
    python = str(project / ".venv" / "bin" / "python")
    return json.loads(sh([python, str(ROOT / "bench" / "gates.py")], project, env))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    figures: dict[str, dict[str, object]] = {}
    for mode in MODES:
        print(f"== {mode}", flush=True)
        first = first_runs(mode)
        print(f"   first make run {summary(first)}", flush=True)
        project, render_seconds = render(mode)
        sh(["make", "install"], project)
        suite_seconds = timed(["make", "test"], project, {"DATABASE_URL": ""})
        figures[mode] = {
            "render_s": round(render_seconds, 2),
            "suite_s": round(suite_seconds, 1),
            "first_run": first,
        }
        print(
            f"   render {render_seconds:.2f} s, generated suite {suite_seconds:.1f} s", flush=True
        )
        figures[mode]["ingest"] = ingest(mode, project)
        print(f"   webhook ingest {figures[mode]['ingest']}", flush=True)
        figures[mode]["gates"] = gates(mode, project)
        print(f"   gates {json.dumps(figures[mode]['gates'])}", flush=True)
    suite = template_suite() if os.environ.get("BENCH_TEMPLATE_SUITE", "1") != "0" else None
    report(figures, suite)


def template_suite() -> dict[str, object]:
    """The whole template suite (`make test`), timed, with the caller's DATABASE_URL."""
    print("== template suite", flush=True)
    started = time.perf_counter()
    proc = subprocess.run(
        ["make", "test", "PYTEST_ARGS=-q -p no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    summary = next(
        (
            line.strip("= ")
            for line in reversed(proc.stdout.splitlines())
            if re.search(r"\d+ (passed|failed|errors?)\b.* in [\d.]+s", line)
        ),
        f"exit status {proc.returncode}",
    )
    database = "PostgreSQL too" if os.environ.get("DATABASE_URL") else "SQLite only"
    print(f"   {summary} ({seconds:.0f} s, {database})", flush=True)
    return {"seconds": round(seconds), "summary": summary, "database": database}


WEBHOOK_HEADING = "## Webhooks: ingest and end to end (gunicorn, PostgreSQL, Redis broker)"


def webhook_lines(figures: dict[str, dict[str, object]]) -> list[str]:
    """The ingest figures, the per-request profile when ingest is below its target, and the
    end-to-end figures with 1 and 2 worker processes."""
    lines = [
        WEBHOOK_HEADING,
        "",
        f"Machine: {os.cpu_count()} cores, shared by the load client, gunicorn, PostgreSQL, Redis "
        "and the Celery workers. Ingest: gunicorn with 2 workers (the project's gunicorn.conf.py: "
        "gthread, 4 threads), CELERY_BROKER_URL set (the view verifies, stores and hands the "
        "event to its process's sender thread, which sends batches to Redis: "
        "apps/billing/batching.py), no Celery worker running, 8 client connections, after a "
        f"warm-up of {WARMUP} events the median of {RUNS} runs of {EVENTS} events.",
        "",
        "| mode | ingest events/s | runs | target |",
        "| --- | --- | --- | --- |",
    ]
    for mode, data in figures.items():
        ingest_data: dict = data.get("ingest", {})  # type: ignore[assignment]
        runs = ", ".join(str(run) for run in ingest_data.get("runs", []))
        rate = ingest_data.get("events_per_second", "skipped")
        lines.append(f"| {mode} | {rate} | {runs} | >= {INGEST_TARGET:,.0f} |")
    cpu = {mode: data.get("ingest", {}).get("cpu") for mode, data in figures.items()}  # type: ignore[union-attr]
    kinds = sorted({kind for figures_ in cpu.values() if figures_ for kind in figures_})
    if kinds:
        lines += [
            "",
            "The CPU during the ingest runs, warm-up included: how busy the machine was, and each "
            "process kind's CPU time per event (a machine far from 100% busy waits, on commits "
            "and round trips, rather than computes).",
            "",
            "| mode | " + " | ".join(kinds) + " |",
            "| --- | " + " | ".join("---" for _ in kinds) + " |",
        ]
        for mode, figures_ in cpu.items():
            if figures_:
                cells = [str(figures_.get(kind, "-")) for kind in kinds]
                lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    for mode, data in figures.items():
        profile = data.get("ingest", {}).get("profile")  # type: ignore[union-attr]
        if not profile:
            continue
        lines += [
            "",
            f"Where one ingest request's time goes in {mode} mode (below the target): "
            f"{profile['events']} events through Django's request handling in one process "
            f"under cProfile, no HTTP: {profile['us_per_request']} µs a request.",
            "",
            "| part | share % |",
            "| --- | --- |",
            *(f"| {part} | {share} |" for part, share in profile["parts_percent"].items()),
            "",
            "Most time of their own: "
            + "; ".join(
                f"{row['function']} {row['us_per_request']} µs"
                for row in profile["top_own_time"][:8]
            )
            + ".",
        ]
    lines += [
        "",
        "End to end, from an event's delivery (the client sending it) to its applied state (the "
        "row of its subscription, one the project had not seen, in the database), with "
        "`celery worker --concurrency N` running: a burst sent as fast as 8 client connections "
        "are answered (events/s from the first delivery to the last applied: how fast a backlog "
        "drains; its latencies include the wait behind the burst), then half as many events "
        "paced at half that rate (the latency while the workers keep up).",
        "",
        "| mode | worker processes | burst events | burst events/s | burst p50 / p99 ms "
        "| paced events/s sent | paced p50 / p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for mode, data in figures.items():
        e2e: dict = data.get("ingest", {}).get("end_to_end", {})  # type: ignore[union-attr]
        for workers, run in e2e.items():
            burst, paced = run["burst"], run["paced"]
            cells = [mode, workers, f"{burst['applied']}/{burst['events']}"]
            cells.append(burst.get("events_per_second", "-"))
            cells.append(f"{burst.get('p50_ms', '-')} / {burst.get('p99_ms', '-')}")
            cells.append(paced["rate"])
            cells.append(f"{paced.get('p50_ms', '-')} / {paced.get('p99_ms', '-')}")
            lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    ratios = []
    for mode, data in figures.items():
        e2e = data.get("ingest", {}).get("end_to_end", {})  # type: ignore[union-attr]
        one, two = (e2e.get(k, {}).get("burst", {}).get("events_per_second") for k in "12")
        if one and two:
            ratios.append(f"{mode} {two / one:.2f}x")
    if ratios:
        lines += ["", "Burst events/s, 2 worker processes / 1: " + ", ".join(ratios) + "."]
    return lines


def report(figures: dict[str, dict[str, object]], suite: dict[str, object] | None) -> None:
    lines = [
        f"# Keel benchmark results ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {os.cpu_count()} cores; PostgreSQL at {POSTGRES}; Redis at {REDIS}.",
        "",
        "| mode | render s | generated suite s |",
        "| --- | --- | --- |",
    ]
    for mode, data in figures.items():
        lines.append(f"| {mode} | {data['render_s']} | {data['suite_s']} |")
    lines += ["", *webhook_lines(figures)]
    lines += ["", "## Gated request cost (median µs, SQL queries)", ""]
    lines += [
        "| mode | gate | prior usage records | median µs | queries |",
        "| --- | --- | --- | --- | --- |",
    ]
    for mode, data in figures.items():
        for row in data["gates"].get("rows", []):  # type: ignore[union-attr]
            cells = [mode, row["gate"], f"{row['records']:,}", row["median_us"], row["queries"]]
            lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    if suite is not None:
        lines += [
            "",
            f"Template suite (`make test`, generated suites on {suite['database']}): "
            f"{suite['summary']}, {suite['seconds']} s wall.",
        ]
    runs = {mode: data["first_run"] for mode, data in figures.items()}
    lines += ["", *first_run_lines(runs)]  # type: ignore[arg-type]
    lines += ["", "## Targets", "", *targets(figures)]
    if suite is not None:
        lines.append(suite_target(suite))
    text = "\n".join(lines) + "\n"
    (ROOT / "bench" / "results.md").write_text(text)
    print(text)


def webhooks_only() -> None:
    """`--only webhooks`: ingest and end to end in both modes; replaces their section and
    their target lines in bench/results.md."""
    OUT.mkdir(parents=True, exist_ok=True)
    figures: dict[str, dict[str, object]] = {}
    for mode in MODES:
        project, _ = render(mode)
        sh(["make", "install"], project)
        figures[mode] = {"ingest": ingest(mode, project)}
        print(f"{mode}: {json.dumps(figures[mode]['ingest'])}", flush=True)
    section = webhook_lines(figures)
    path = ROOT / "bench" / "results.md"
    text = path.read_text() if path.exists() else ""
    # The targets (with any lines continuing them), re-added below.
    text = re.sub(r"(?m)^- \w+ webhook ingest .*\n(?:  .*\n)*", "", text)
    before, found, after = text.partition(WEBHOOK_HEADING)
    if found:
        rest = after.partition("\n## ")
        text = before + "\n".join(section) + "\n" + ("\n## " + rest[2] if rest[1] else "")
    else:  # before the Targets section, where the full report puts it
        head, targets_found, tail = text.partition("\n## Targets")
        text = head.rstrip("\n") + "\n\n" + "\n".join(section) + "\n"
        text += "\n## Targets" + tail if targets_found else ""
    head, targets_found, tail = text.partition("\n## Targets")
    if targets_found:
        heading, _, rest = tail.partition("\n\n")
        lines = "\n".join(ingest_targets(figures))
        text = head + "\n## Targets" + heading + "\n\n" + lines + "\n" + rest
    path.write_text(text)
    print("\n".join(section + ["", *ingest_targets(figures)]))


def ingest_targets(figures: dict[str, dict[str, object]]) -> list[str]:
    lines = []
    for mode, data in figures.items():
        rate = data.get("ingest", {}).get("events_per_second")  # type: ignore[union-attr]
        if isinstance(rate, float | int):
            verdict = "met" if rate >= INGEST_TARGET else "NOT met"
            lines.append(
                f"- {mode} webhook ingest (verify, store, enqueue) >= {INGEST_TARGET:,.0f} "
                f"events/s: {rate} ({verdict})"
            )
    return lines


#: The whole template suite on this 2-core machine, PostgreSQL on.
SUITE_TARGET_SECONDS = 180


def suite_target(suite: dict[str, object]) -> str:
    seconds = int(suite["seconds"])  # type: ignore[call-overload]
    verdict = "met" if seconds <= SUITE_TARGET_SECONDS else "NOT met"
    return f"- template suite (`make test`, {suite['database']}): {seconds} s (<= 180 s: {verdict})"


def template_suite_only() -> None:
    """Time the template suite alone and replace its lines in bench/results.md."""
    suite = template_suite()
    path = ROOT / "bench" / "results.md"
    text = path.read_text() if path.exists() else ""
    line = (
        f"Template suite (`make test`, generated suites on {suite['database']}): "
        f"{suite['summary']}, {suite['seconds']} s wall."
    )
    text = re.sub(r"(?m)^Template suite \(`make test`.*$", line, text)
    text = re.sub(r"(?m)^- template suite \(`make test`.*$", suite_target(suite), text)
    if suite_target(suite) not in text:
        text = text.rstrip("\n") + "\n" + suite_target(suite) + "\n"
    path.write_text(text)
    print(line, suite_target(suite), sep="\n")


def targets(figures: dict[str, dict[str, object]]) -> list[str]:
    """Each target with the measured figure and whether it is met (a report, not a test)."""

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = ingest_targets(figures)
    for mode, data in figures.items():
        rows = data["gates"].get("rows", [])  # type: ignore[union-attr]
        plain = next(r["queries"] for r in rows if r["gate"] == "undecorated" and not r["records"])
        for row in rows:
            if row["gate"] != "undecorated" and row["records"] == 0:
                added = row["queries"] - plain
                lines.append(
                    f"- {mode} {row['gate']}: {added} queries added (<= 2: {verdict(added <= 2)})"
                )
        timing = {r["records"]: r["median_us"] for r in rows if r["gate"] == "usage_limit"}
        if len(timing) == 2 and min(timing) == 0:
            ratio = timing[max(timing)] / timing[0]
            lines.append(
                f"- {mode} usage_limit at {max(timing):,} records / at 0: {ratio:.2f}x "
                f"(<= 1.2x: {verdict(ratio <= 1.2)})"
            )
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=["first-run", "template-suite", "webhooks"],
        help="measure just this part (updates its lines in bench/results.md)",
    )
    only = parser.parse_args().only
    if only == "first-run":
        first_run_only()
    elif only == "template-suite":
        template_suite_only()
    elif only == "webhooks":
        webhooks_only()
    else:
        main()
