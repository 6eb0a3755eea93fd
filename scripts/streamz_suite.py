"""Measure compatibility with streamz: run streamz 0.6.6's own test files against streams.

Usage, from the repository root::

    python scripts/streamz_suite.py                       # every file, then a summary
    python scripts/streamz_suite.py --files test_core.py -k zip --list-failures
    python scripts/streamz_suite.py --json streamz-suite.json
    python scripts/streamz_suite.py --baseline   # the same files against streamz itself
    python scripts/streamz_suite.py --groups dataframe   # the files of GROUPS["dataframe"]

The streamz source distribution is downloaded once with pip into a cache (``--cache``,
default ``~/.cache/streams-streamz-suite``). Its test folders (``streamz/tests`` and
``streamz/dataframe/tests``) are extracted into a temporary directory beside a copy of
``scripts/streamz_shim/streamz``, an import shim that makes every ``streamz`` name, at
any depth, the ``streams`` object of the same name (``streamz.dataframe.core`` is
``streams.dataframe.core``, ``streamz.batch`` is ``streams.batch``; it fails where
streams lacks one), which shadows the installed streamz. Each test file runs in a
pytest subprocess of its own with streamz-like settings (not this repository's), a
per-test time limit and an overall one, so a hang is reported rather than waited for.
Nothing from streamz is written into the repository. ``--baseline`` runs the same files
with the same helpers against the sdist's own streamz code, to tell failures caused by
this machine (missing optional packages, network) from those caused by streams.

Left out, everywhere the same (``--baseline`` too), and printed with the figures:

- ``NOT_TARGETED`` files run, but count in no group's total.
- ``DESELECT``: single tests that cannot run here.
- Tests marked ``@pytest.mark.slow``: streamz's own ``conftest.py`` (in its repository,
  not in the sdist) skips them unless ``--runslow``; the suite deselects them
  (``-m "not slow"``), so they are in no total. Only ``test_dataframes.py`` has any.
- ``EXCLUDE``: per file, a ``-k`` expression of the tests left out. ``test_dataframes.py``
  runs without a Dask client: its ``stream`` fixture is parametrized ``core`` (a plain
  ``Stream``) and ``dask`` (a ``DaskStream`` on a ``distributed.Client``), and
  ``test_random_source`` uses the ``client`` fixture itself; the ``[dask]`` ids and that
  test (not ``test_random_source2``, which needs no client) are deselected. The ``core``
  ids still set up the module's ``client`` fixture, which the ``stream`` fixture requests
  whatever its parameter (a module fixture outranks any the suite could give), but
  the ``core`` tests do not use it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

VERSION = "0.6.6"
SHIM = Path(__file__).resolve().parent / "streamz_shim"
GROUPS = {
    "core": ["test_core.py", "py3_test_core.py", "test_graph.py", "test_plugins.py"],
    "sources/sinks": ["test_sources.py", "test_sinks.py"],
    "dask": ["test_dask.py"],
    "batch": ["test_batch.py"],
    "dataframe": ["test_dataframes.py", "test_dataframe_utils.py"],
}
FOLDERS = {  # test file: its folder in the sdist, when not streamz/tests
    "test_dataframes.py": "streamz/dataframe/tests",
    "test_dataframe_utils.py": "streamz/dataframe/tests",
}
NOT_TARGETED = {
    "test_kafka.py": "streamz runs these against Kafka in docker (STREAMZ_LAUNCH_KAFKA)",
}
DESELECT = {
    "streamz/tests/test_sinks.py::test_mqtt_roundtrip": "needs the public MQTT broker "
    "mqtt.eclipseprojects.io (the MQTT connector is tested on loopback in tests/)",
}
EXCLUDE = {  # test file: (pytest -k expression of the tests left out, why)
    "test_dataframes.py": (
        "dask or (test_random_source and not test_random_source2)",  # -k: substrings
        "need a Dask client (the [dask] ids of the stream fixture, and the client fixture)",
    ),
}
NEEDED = {  # module: pip package
    "flaky": "flaky",
    "requests": "requests",
    "networkx": "networkx",
    "ipywidgets": "ipywidgets",
}
PASSING = {"passed", "xfailed", "xpassed"}
INI = """[pytest]
markers =
    network: needs an internet connection
    slow: a slow test
    asyncio: a coroutine test, run with asyncio.run by the suite's conftest
faulthandler_timeout = {faulthandler}
"""


@dataclass
class FileResult:
    name: str
    status: str = "ok"  # ok, hung, crashed (exit N)
    shim: str = ""
    tests: dict[str, dict[str, str]] = field(default_factory=dict)
    deselected: list[str] = field(default_factory=list)

    def count(self, outcomes: set[str]) -> int:
        return sum(t["outcome"] in outcomes for t in self.tests.values())


def ensure_packages() -> None:
    """Install what streamz's test files import beyond streams' own dependencies."""
    for module, package in NEEDED.items():
        if importlib.util.find_spec(module) is None:
            print(f"installing {package} (imported by streamz's tests)")
            subprocess.run([sys.executable, "-m", "pip", "install", package], check=True)
    if shutil.which("dot") is None:
        print("note: graphviz's `dot` program is missing; test_graph.py needs it")


def sdist(cache: Path) -> Path:
    """The streamz source distribution, downloaded into ``cache`` the first time."""
    archive = cache / f"streamz-{VERSION}.tar.gz"
    if not archive.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", f"streamz=={VERSION}",
             "--no-binary", ":all:", "--no-deps", "-d", str(cache)],
            check=True,
        )  # fmt: skip
    return archive


def node_path(name: str) -> str:
    """Where a test file is, relative to the work directory (and its pytest node id)."""
    return f"{FOLDERS.get(name, 'streamz/tests')}/{name}"


def prepare(work: Path, archive: Path, test_timeout: float, baseline: bool) -> None:
    """Lay out the shim (or streamz itself), a conftest, an ini and the test files."""
    if not baseline:
        shutil.copytree(
            SHIM / "streamz", work / "streamz", ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(SHIM / "conftest_suite.py", work / "conftest.py")
    (work / "pytest.ini").write_text(INI.format(faulthandler=int(test_timeout) + 30))
    prefix = f"streamz-{VERSION}/streamz/"
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            rest = member.name.removeprefix(prefix)  # the shim gets the tests folders only
            wanted = baseline or PurePosixPath(rest).parent.name == "tests"
            if member.isfile() and rest != member.name and rest.endswith(".py") and wanted:
                path = work / "streamz" / rest
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(tar.extractfile(member).read())  # type: ignore[union-attr]
    if baseline:  # the same helpers as with the shim, so that only the library differs
        shutil.copy(SHIM / "streamz" / "utils_test.py", work / "streamz" / "utils_test.py")


def run_file(work: Path, name: str, args: argparse.Namespace) -> FileResult:
    """Run one streamz test file in a pytest subprocess and collect its outcomes."""
    results = work / f"{name}.jsonl"
    log = work / f"{name}.log"
    cmd = [sys.executable, "-m", "pytest", "-c", str(work / "pytest.ini"),
           "--rootdir", str(work), node_path(name), "-q", "-m", "not slow",
           "-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:asyncio"]  # fmt: skip
    cmd += [arg for test in DESELECT if test.startswith(f"{node_path(name)}::")
            for arg in ("--deselect", test)]  # fmt: skip
    keep = [f"({args.k})"] if args.k else []
    if name in EXCLUDE:
        keep.append(f"not ({EXCLUDE[name][0]})")
    if keep:
        cmd += ["-k", " and ".join(keep)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(work), env.get("PYTHONPATH")]))
    env["STREAMZ_SUITE_RESULTS"] = str(results)
    env["STREAMZ_SUITE_TEST_TIMEOUT"] = str(args.test_timeout)
    result = FileResult(name)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        try:
            code = proc.wait(timeout=args.file_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the pytest we started, and its children
            proc.wait()
            code, result.status = None, f"hung (killed after {args.file_timeout:g}s)"
    lines = results.read_text().splitlines() if results.exists() else []
    read_events(result, [json.loads(line) for line in lines])
    if code not in (None, 0, 1, 5) or not result.shim:
        result.status = f"crashed (exit {code})"
    if result.status != "ok":
        print(f"--- {name}: {result.status}; end of its output:")
        print("\n".join(log.read_text(errors="replace").splitlines()[-15:]))
    return result


def read_events(result: FileResult, events: list[dict[str, Any]]) -> None:
    """Turn the conftest's event lines into one outcome per test."""
    tests = result.tests
    for ev in events:
        kind, test = ev["event"], ev.get("id", "")
        if kind == "shim":
            result.shim = ev["file"]
        elif kind == "leak":
            result.shim, result.status = "", f"real streamz imported: {ev['modules']}"
        elif kind == "deselected":
            result.deselected += ev["ids"]
        elif kind == "collected":
            for nodeid in ev["ids"]:
                tests[nodeid] = {"outcome": "not run", "message": ""}
        elif kind == "collect":
            label = "error" if ev["outcome"] == "failed" else ev["outcome"]
            tests[test or result.name] = {"outcome": label, "message": ev["message"]}
        elif kind == "start":
            tests[test] = {"outcome": "unfinished", "message": "started, never reported"}
        elif kind == "report":
            outcome, when, current = ev["outcome"], ev["when"], tests[test]["outcome"]
            if ev["xfail"]:
                outcome = "xfailed" if outcome == "skipped" else "xpassed"
            if when != "call" and outcome == "failed":
                outcome = "error"
            if when == "call" or (outcome != "passed" and current not in {"failed", "error"}):
                tests[test] = {"outcome": outcome, "message": ev["message"]}
    for test in tests.values():
        if test["outcome"] == "unfinished":
            test["outcome"] = "hung" if result.status.startswith("hung") else "crashed"


def figures(result: FileResult) -> str:
    passed, total = result.count(PASSING), len(result.tests)
    skipped, deselected = result.count({"skipped"}), len(result.deselected)
    extra = f"  ({skipped} skipped)" if skipped else ""
    extra += f"  ({deselected} deselected)" if deselected else ""
    status = "" if result.status == "ok" else f"  [{result.status}]"
    return f"{passed}/{total}{extra}{status}"


def report(results: dict[str, FileResult], args: argparse.Namespace) -> dict[str, Any]:
    """Print the per-file and per-group figures; return them for ``--json``."""
    shims = {r.shim for r in results.values() if r.shim}
    print(f"\nstreamz {VERSION} test files; streamz imported from {', '.join(shims)}")
    groups: dict[str, dict[str, int]] = {}
    for group, names in [*GROUPS.items(), ("not targeted", list(NOT_TARGETED))]:
        ran = [results[n] for n in names if n in results]
        if not ran:
            continue
        print(f"{group}:")
        for r in ran:
            note = f"  -- {NOT_TARGETED[r.name]}" if r.name in NOT_TARGETED else ""
            print(f"  {r.name:<24} {figures(r)}{note}")
        passed, total = sum(r.count(PASSING) for r in ran), sum(len(r.tests) for r in ran)
        groups[group] = {"passed": passed, "total": total}
        if group != "not targeted":
            print(f"  {'total':<24} {passed}/{total}")
    targeted = [g for g in groups if g != "not targeted"]
    print(
        f"targeted total: {sum(groups[g]['passed'] for g in targeted)}/"
        f"{sum(groups[g]['total'] for g in targeted)}"
    )
    for test, why in DESELECT.items():
        if test.split("/")[-1].split("::")[0] in results:
            print(f"deselected {test}: {why}")
    for name, (expr, why) in EXCLUDE.items():
        if name in results:
            print(f"deselected from {name}: -k '{expr}': {why}")
    if any(r.deselected for r in results.values()):
        print("deselected everywhere: @pytest.mark.slow tests (-m 'not slow'), as streamz "
              "skips them without --runslow")  # fmt: skip
    if args.list_failures:
        print("\nnot passing:")
        for r in results.values():
            for test, t in r.tests.items():
                if t["outcome"] not in PASSING:
                    print(f"  {test}  [{t['outcome']}] {t['message']}")
    return {
        "streamz": VERSION,
        "shim": sorted(shims),
        "deselected": DESELECT,
        "excluded": {name: {"k": expr, "why": why} for name, (expr, why) in EXCLUDE.items()},
        "slow": "deselected (-m 'not slow'): streamz skips them without --runslow",
        "groups": groups,
        "files": {
            n: {"status": r.status, "passed": r.count(PASSING), "total": len(r.tests),
                "deselected": r.deselected, "tests": r.tests}
            for n, r in results.items()
        },
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cache = Path.home() / ".cache/streams-streamz-suite"
    parser.add_argument("--cache", type=Path, default=cache, help=f"sdist cache ({cache})")
    parser.add_argument("--files", nargs="+", help="test file names (default: every file)")
    parser.add_argument(
        "--groups", nargs="+", choices=list(GROUPS), help="the test files of these groups too"
    )
    parser.add_argument("-k", help="pytest -k expression, passed through")
    parser.add_argument("--json", type=Path, help="write per-test outcomes to this file")
    parser.add_argument("--list-failures", action="store_true", help="print each failing test")
    parser.add_argument("--test-timeout", type=float, default=60, help="seconds per test")
    parser.add_argument("--file-timeout", type=float, default=900, help="seconds per file")
    parser.add_argument(
        "--baseline", action="store_true", help="run against streamz itself, not the shim"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()

    ensure_packages()
    archive = sdist(args.cache)
    everything = [name for names in [*GROUPS.values(), NOT_TARGETED] for name in names]
    chosen = [n.removesuffix(".py") + ".py" for n in args.files or ()]
    chosen += [name for group in args.groups or () for name in GROUPS[group]]
    names = list(dict.fromkeys(chosen)) or everything
    unknown = sorted(set(names) - set(everything))
    if unknown:
        parser.error(f"unknown streamz test file: {', '.join(unknown)}")
    work = Path(tempfile.mkdtemp(prefix="streamz-suite-"))
    results: dict[str, FileResult] = {}
    try:
        prepare(work, archive, args.test_timeout, args.baseline)
        for name in names:
            print(f"running {name} ...", flush=True)
            results[name] = run_file(work, name, args)
            print(f"  {figures(results[name])}", flush=True)
        summary = report(results, args)
        if args.json:
            args.json.write_text(json.dumps(summary, indent=1) + "\n")
    finally:
        if args.keep:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if results and all(r.shim for r in results.values()) else 2


if __name__ == "__main__":
    sys.exit(main())
