"""`make mutate`: mutation testing of the money and access code of both modes.

Renders each mode into `.mutate/<mode>/`, installs it with mutmut (3.8, pinned below), mutates
the webhook intake and handlers, the gates and the services that call Stripe, runs the
project's own suite against every mutant (on SQLite: mutmut forks a process per mutant), and
prints each module's score, the surviving mutants by kind and their names. The figures replace
the "Mutation testing" section of bench/results.md. Not part of `make test` or CI: it takes tens
of minutes on two cores.

mutmut over the alternatives: it mutates only the functions a test reaches, records which tests
reach each one and runs just those per mutant, and forks from a process that has already
imported Django, which makes a mutant cost well under a second on this code.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutate"
RESULTS = ROOT / "bench" / "results.md"
MUTMUT = "mutmut==3.8.1"
TARGET = 80.0

#: What is mutated, per mode: webhook intake and handlers, gates, services that call Stripe.
SHARED = ["apps/billing/access.py", "apps/billing/gates.py"]
MODULES = {
    "basic": SHARED
    + [
        "apps/billing/webhooks.py",
        "apps/billing/webhook_handlers.py",
        "apps/billing/services.py",
        "apps/billing/customers.py",
        "apps/billing/decorators.py",
        "apps/billing/utils.py",
    ],
    "advanced": SHARED
    + [
        "apps/billing/webhooks.py",
        "apps/billing/webhook_handlers.py",
        "apps/billing/services.py",
        "apps/billing/decorators.py",
        "apps/billing/utils.py",
        "apps/billing/usage.py",
        "apps/billing/metering.py",
        "apps/billing/notifications.py",
    ],
}

KILLED_CODES = {1, 3}
SURVIVED_CODES = {0}


def sh(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed in {cwd}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout


def uv() -> str:
    local = ROOT / ".tools" / "bin" / "uv"
    return str(local) if local.exists() else "uv"


def prepare(mode: str, only: list[str] | None = None) -> Path:
    """A fresh render of `mode` with mutmut installed and configured for its modules."""
    project = WORK / mode
    sh(["rm", "-rf", str(project)], ROOT)
    copier = str(ROOT / ".venv" / "bin" / "copier")
    sh(
        [copier, "copy", "--trust", "--defaults", "--quiet", "--vcs-ref", "HEAD"]
        + ["--data", f"stripe_mode={mode}", str(ROOT), str(project)],
        ROOT,
    )
    sh(["make", "install"], project)
    python = str(project / ".venv" / "bin" / "python")
    sh([uv(), "pip", "install", "--quiet", "--python", python, MUTMUT], project)
    modules = [m for m in MODULES[mode] if (project / m).exists()]
    if only:
        modules = [m for m in modules if Path(m).name in only or m in only]
    config = (
        "\n[tool.mutmut]\n"
        'source_paths = ["apps/"]\n'
        f"only_mutate = {json.dumps(modules)}\n"
        'pytest_add_cli_args_test_selection = ["tests/"]\n'
        # The suite needs the rest of the project beside the mutated package.
        'also_copy = ["config/", "templates/", "static/", "vendor/", "manage.py"]\n'
    )
    with (project / "pyproject.toml").open("a", encoding="utf-8") as file:
        file.write(config)
    return project


def run_mutmut(project: Path, children: int, names: list[str] | None = None) -> float:
    """Run mutmut over every mutant, or over `names` only; the seconds it took."""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    # The browser journey drives a server of the unmutated copy: it measures nothing here.
    env["BROWSER_TESTS"] = "0"
    started = time.monotonic()
    done = subprocess.run(
        [str(project / ".venv" / "bin" / "mutmut"), "run", "--max-children", str(children)]
        + (names or []),
        cwd=project,
        env=env,
        text=True,
        capture_output=True,
    )
    (project / "mutmut-run.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode:
        sys.exit(f"mutmut failed in {project}; see {project / 'mutmut-run.log'}")
    return time.monotonic() - started


#: Per mutated module (e.g. "apps/billing/services.py"): its source when it was mutated, and
#: each mutant's exit code (None: not run).
Results = dict[str, tuple[str, dict[str, int | None]]]


def metas(project: Path) -> Iterator[tuple[str, Path, dict[str, Any]]]:
    """mutmut's record of each mutated module: (module, its .meta file, the file's data, whose
    "exit_code_by_key" holds each mutant's exit code)."""
    for meta in sorted((project / "mutants").rglob("*.py.meta")):
        module = str(meta.relative_to(project / "mutants"))[: -len(".meta")]
        yield module, meta, json.loads(meta.read_text(encoding="utf-8"))


def results_of(project: Path) -> Results:
    return {
        module: ((project / module).read_text(encoding="utf-8"), data["exit_code_by_key"])
        for module, _, data in metas(project)
    }


def rerun_survivors(mode: str, modules: list[str] | None, children: int) -> tuple[Path, float]:
    """`--survivors`: run again, in a fresh render, only the mutants the last run left alive or
    did not reach, and keep that run's kills. Tests added since can only kill more of an
    unchanged module's mutants; a module whose code changed must be run in full instead."""
    earlier = results_of(WORK / mode)
    if modules:
        earlier = {m: r for m, r in earlier.items() if Path(m).name in modules or m in modules}
    if not earlier:
        sys.exit(f"{mode}: no earlier run in {WORK / mode} to take survivors from")
    project = prepare(mode, list(earlier))
    names = []
    for module, (source, codes) in earlier.items():
        if (project / module).read_text(encoding="utf-8") != source:
            sys.exit(f"{module} changed since the last run: run it in full (--module)")
        names += [name for name, code in codes.items() if code not in KILLED_CODES]
    print(f"{mode}: running {len(names)} survivors and unreached mutants again", flush=True)
    seconds = run_mutmut(project, children, names) if names else 0.0
    for module, meta, data in metas(project):
        codes = data["exit_code_by_key"]
        for name, code in earlier.get(module, ("", {}))[1].items():
            if code in KILLED_CODES:
                codes[name] = code
        meta.write_text(json.dumps(data), encoding="utf-8")
    return project, seconds


def diff_of(project: Path, mutant: str) -> str:
    shown = subprocess.run(
        [str(project / ".venv" / "bin" / "mutmut"), "show", mutant],
        cwd=project,
        text=True,
        capture_output=True,
    )
    return shown.stdout


STRING_ONLY = re.compile(r"""(["']).*\1""")


def kind_of(diff: str) -> str:
    """A survivor's kind, from its diff: text the code only shows or logs, or behaviour."""
    removed = [
        line[1:]
        for line in diff.splitlines()
        if line.startswith("-") and not line.startswith("---")
    ]
    added = [
        line[1:]
        for line in diff.splitlines()
        if line.startswith("+") and not line.startswith("+++")
    ]
    if any("logger." in line or "log." in line for line in removed):
        return "log call or its text"
    if removed and added and len(removed) == len(added):
        strip = [STRING_ONLY.sub('""', line) for line in removed]
        if strip == [STRING_ONLY.sub('""', line) for line in added]:
            return "message or label text"
    return "behaviour (equivalent or untested)"


def scores(project: Path) -> tuple[list[dict[str, object]], dict[str, list[str]]]:
    rows: list[dict[str, object]] = []
    survivors: dict[str, list[str]] = {}
    for module, _, data in metas(project):
        codes = data["exit_code_by_key"]
        killed = sum(1 for code in codes.values() if code in KILLED_CODES)
        alive = sorted(key for key, code in codes.items() if code in SURVIVED_CODES)
        other = len(codes) - killed - len(alive)
        tested = killed + len(alive)
        score = 100.0 * killed / tested if tested else 100.0
        rows.append(
            {"module": module, "mutants": len(codes), "killed": killed, "survived": len(alive)}
            | {"other": other, "score": score}
        )
        survivors[module] = alive
    return rows, survivors


def report(mode: str, project: Path, seconds: float) -> list[str]:
    rows, survivors = scores(project)
    kinds: Counter[str] = Counter()
    named: list[str] = []
    for alive in survivors.values():
        for mutant in alive:
            kind = kind_of(diff_of(project, mutant))
            kinds[kind] += 1
            named.append(f"{mutant} ({kind})")
    lines = [
        f"### {mode} ({seconds / 60:.1f} min)",
        "",
        "| module | mutants | killed | survived | no tests/timeout | score % | target |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        if not row["mutants"]:  # re-exports only: nothing to mutate
            lines.append(f"| {row['module']} | 0 | | | | n/a | no code to mutate |")
            continue
        verdict = "met" if float(row["score"]) >= TARGET else "NOT met"  # type: ignore[arg-type]
        lines.append(
            f"| {row['module']} | {row['mutants']} | {row['killed']} | {row['survived']} "
            f"| {row['other']} | {row['score']:.1f} | >= {TARGET:.0f} ({verdict}) |"
        )
    lines += [
        "",
        "Survivors by kind: " + (", ".join(f"{k}: {n}" for k, n in kinds.most_common()) or "none"),
        "",
    ]
    (project / "survivors.txt").write_text("\n".join(named) + "\n", encoding="utf-8")
    lines.append(
        f"Surviving mutants listed in `.mutate/{mode}/survivors.txt` (`mutmut show NAME` there)."
    )
    lines.append("")
    return lines


HEADING = "## Mutation testing (`make mutate`)"
#: The whole mutation section of bench/results.md, up to the next section.
SECTION = re.compile(re.escape(HEADING) + r".*?(?=\n## |\Z)", re.DOTALL)


def mode_sections(text: str) -> dict[str, str]:
    """The per-mode subsections ("### basic (...)") of the mutation section in `text`."""
    match = SECTION.search(text)
    if not match:
        return {}
    parts = re.split(r"(?m)^(?=### )", match.group(0))
    return {part.split()[1]: part.rstrip() + "\n" for part in parts if part.startswith("### ")}


#: A module's row; group 2 is the mark of a row kept from an earlier run ("(2026-12-03 ...)").
TABLE_ROW = re.compile(r"^\| (apps/\S+?)(?: \(([^)]*)\))? \|")


def with_earlier_rows(lines: list[str], earlier: str) -> list[str]:
    """A run limited to some modules (`--module`) keeps the other modules' rows of the earlier
    run, marked as such."""
    measured = {m.group(1) for line in lines if (m := TABLE_ROW.match(line))}
    date = re.search(r"Measured ([^.]+)\.", earlier)
    when = date.group(1) if date else "an earlier run"
    extra = []
    for line in earlier.splitlines():
        match = TABLE_ROW.match(line)
        if not match or match.group(1) in measured:
            continue
        if match.group(2):  # kept from a run before that one: its own date stays
            extra.append(line)
        else:
            extra.append(line.replace(f"| {match.group(1)} |", f"| {match.group(1)} ({when}) |", 1))
    if not extra:
        return lines
    table = [i for i, line in enumerate(lines) if TABLE_ROW.match(line) or line.startswith("| -")]
    last = max(table)
    return [*lines[: last + 1], *extra, *lines[last + 1 :]]


def write_results(sections: dict[str, list[str]]) -> None:
    """Replace the sections of the modes just measured; a mode not run this time keeps its
    section from the earlier run (with its own date)."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Keel benchmark results\n"
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    kept = mode_sections(text)
    for mode, lines in sections.items():
        lines = with_earlier_rows(lines, kept.get(mode, ""))
        kept[mode] = "\n".join([*lines[:1], "", f"Measured {stamp}.", *lines[1:]]).rstrip() + "\n"
    ordered = [kept[mode] for mode in ("basic", "advanced") if mode in kept]
    section = "\n".join(
        [HEADING, "", "mutmut 3.8.1, each mode's own suite on SQLite.", "", *ordered]
    )
    text = (
        SECTION.sub(section.rstrip() + "\n", text)
        if SECTION.search(text)
        else text.rstrip() + "\n\n" + section
    )
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["basic", "advanced"], action="append")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--module", action="append", help="mutate only this module (e.g. gates.py); repeatable"
    )
    parser.add_argument(
        "--survivors",
        action="store_true",
        help="run again only the mutants the last run in .mutate/<mode>/ left alive or did "
        "not reach (after adding tests), keeping its kills",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="report what the last run in .mutate/<mode>/ measured, without running mutmut",
    )
    args = parser.parse_args()
    sections: dict[str, list[str]] = {}
    for mode in args.mode or ["basic", "advanced"]:
        project = WORK / mode
        seconds = 0.0
        if args.report_only:
            if (project / "seconds.txt").exists():
                seconds = float((project / "seconds.txt").read_text(encoding="utf-8"))
        else:
            if args.survivors:
                project, seconds = rerun_survivors(mode, args.module, args.children)
            else:
                print(f"{mode}: rendering and installing", flush=True)
                project = prepare(mode, args.module)
                print(f"{mode}: running mutmut", flush=True)
                seconds = run_mutmut(project, args.children)
            (project / "seconds.txt").write_text(f"{seconds:.0f}\n", encoding="utf-8")
        lines = report(mode, project, seconds)
        print("\n".join(lines), flush=True)
        sections[mode] = lines
    write_results(sections)


if __name__ == "__main__":
    main()
