"""Nightly benchmark: the full rebuild (ingest, validate, transform, solve, publish) at a million accounts.

The budget (issue 9): 1,000,000 accounts, 5,000,000 contacts, 20,000,000 activities and 2,000 reps
rebuilt in under 15 minutes and 12 GB on 2 cores. The extract is generated once by the demo
generator (not timed: it arrives from the CRM), or reused with --extract. The generator draws
contacts and activities per account (Poisson, about 4.64 and 18.3 per account): the extract is
drawn with its --contacts-scale / --activities-scale set so that it has at least the issue's 5
contacts and 20 activities per account (--contacts-per-account, --activities-per-account; 0 keeps
the generator's own rates). Then, as the nightly
schedule would, `territory run --source files --path EXTRACT --snapshot-date D` runs in its own
process on a fresh TERRITORY_HOME, and this script measures the whole process tree:

* wall time, and each step's seconds from the command's `done <step> in <s> s` lines;
* peak memory two ways. os.wait4 on the command gives ru_maxrss with RUSAGE_BOTH semantics: the
  largest peak of any one process of the tree (the command and every child it waited for, dbt
  included), not their sum. A sampler walks the tree in /proc every --interval seconds and sums
  the resident memory of its live processes: the figure the 12 GiB budget is about, and the step
  in which it peaks;
* CPU seconds of the tree (user + system, from the same samples): cores used per step, out of 2.

The baseline in the same run is the second night: the same home and extract, the snapshot date one
day later, what the schedule does the next night (the warehouse, the Dagster history and the
previous publication exist). Each step of night 2 is shown against night 1. From night 1's
run_results.json: the slowest dbt nodes and the time in models, data tests and unit tests. With
--profile, py-spy (installed in the virtual environment) samples night 1's Python processes
without stopping them, and the hottest functions of each Python step are printed.

A night that fails (the solve finds no plan, say) is reported with the steps that ran, the step
that failed and the command's last lines; the second night still runs, and the steps both
nights finished are compared. At 2,000 reps the demo's
workload model is short of capacity by design (about 2,700 reps per million accounts at full use):
--capacity-scale 1.8 gives the reps the hours the plan's cadence needs.

    .venv/bin/python bench/nightly.py [--accounts 1000000] [--reps 2000] [--extract DIR] [--keep DIR]
                                      [--snapshot-date 2026-11-27] [--nights 2] [--capacity-scale 1.8]
                                      [--plan FILE] [--profile] [--contacts-per-account 5]
                                      [--activities-per-account 20] [--stop-at STEP]
"""

import argparse
import collections
import datetime as dt
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

TERRITORY = str(Path(sys.executable).with_name("territory"))
PY_SPY = str(Path(sys.executable).with_name("py-spy"))
BUDGET_SECONDS = 900.0
BUDGET_GIB = 12.0
CORES = 2
# The issue's sizes; the generator draws contacts and activities per account (Poisson), its rates scaled to reach them.
ISSUE_ROWS = {"accounts": 1_000_000, "contacts": 5_000_000, "activities": 20_000_000, "reps": 2_000}
SNAPSHOT = "2026-11-27"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
GIB = 1024**3
STARTUP = "(start: imports, definitions, dbt manifest)"
BETWEEN = "(Dagster between steps, and the end)"
_STEP_START = re.compile(r"^> (\S+)$")
_STEP_DONE = re.compile(r"^  done (\S+) in ([\d.]+) s$")


@dataclass
class Night:
    """One run of the command: what it took, step by step."""

    label: str
    seconds: float
    wait4_gib: float  # ru_maxrss of wait4: the largest single process of the tree
    cpu_seconds: float  # user + system of the tree (wait4's rusage)
    steps: dict[str, float]  # the command's own `done <step> in <s> s`
    windows: dict[str, tuple[float, float]]  # step -> (start, end), seconds from the command's start
    samples: list[tuple[float, float, float, dict[str, float]]] = field(default_factory=list)
    # (t, tree RSS GiB, cumulative tree CPU s, {process name: RSS GiB})
    dbt_run: Path | None = None
    failure: str = ""  # the command's last lines when it failed


def _tree(root: int) -> list[int]:
    """`root` and its live descendants, from /proc."""
    children = collections.defaultdict(list)
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _process(pid: int) -> tuple[str, float, float] | None:
    """(name, resident bytes, CPU seconds) of a live process."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            text = stat.read()
        with open(f"/proc/{pid}/statm") as statm:
            rss = int(statm.read().split()[1]) * PAGE
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text.rsplit(")", 1)[1].split()
    return name, rss, (int(fields[11]) + int(fields[12])) / TICKS


def _sample(root: int, started: float, interval: float, stop: threading.Event, into: list) -> None:
    """Every `interval` s: the tree's resident memory, and its CPU seconds with those of exited processes kept."""
    cpu_of: dict[int, float] = {}
    while not stop.is_set():
        now = time.perf_counter() - started
        resident, by_name = 0.0, collections.defaultdict(float)
        for pid in _tree(root):
            seen = _process(pid)
            if seen is None:
                continue
            name, rss, cpu = seen
            resident += rss
            by_name[name] += rss / GIB
            cpu_of[pid] = cpu
        into.append((now, resident / GIB, sum(cpu_of.values()), dict(by_name)))
        stop.wait(interval)


def run_night(label: str, extract: Path, home: Path, snapshot: str, interval: float, log: Path,
              profile: Path | None, stop_at: str | None = None) -> Night:
    """`territory run --source files` on `extract` into `home`; timed, sampled, and its steps parsed."""
    env = {**os.environ, "TERRITORY_HOME": str(home), "DAGSTER_DISABLE_TELEMETRY": "1",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "GX_ANALYTICS_ENABLED": "false"}
    env.pop("DAGSTER_HOME", None)  # the command's default: TERRITORY_HOME/dagster, the history of this home
    runs = home / "dbt" / "runs"
    before = set(runs.iterdir()) if runs.exists() else set()
    command = [TERRITORY, "run", "--source", "files", "--path", str(extract), "--snapshot-date", snapshot]
    steps, windows, samples = {}, {}, []
    stop = threading.Event()
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def read_lines() -> None:  # a thread, so that a full pipe never stalls the command
        with open(log, "w", buffering=1) as out:  # line by line: the log can be followed while it runs
            for line in process.stderr:
                now = time.perf_counter() - started
                out.write(f"{now:9.1f} {line}")
                line = line.rstrip("\n")
                if match := _STEP_START.match(line):
                    windows[match[1]] = (now, now)
                    if stop_at and match[1].split(".")[0] == stop_at:  # --stop-at: measure the steps before it
                        out.write(f"{now:9.1f} (bench: stopped at {stop_at})\n")
                        process.terminate()
                elif match := _STEP_DONE.match(line):
                    steps[match[1]] = float(match[2])
                    windows[match[1]] = (windows.get(match[1], (now, now))[0], now)

    reader = threading.Thread(target=read_lines)
    sampler = threading.Thread(target=_sample, args=(process.pid, started, interval, stop, samples))
    reader.start()
    sampler.start()
    spy = None
    if profile is not None:  # attached, not a parent: the measured tree stays the command's
        spy = subprocess.Popen([PY_SPY, "record", "--pid", str(process.pid), "--subprocesses", "--nonblocking",
                                "--rate", "20", "--format", "raw", "--output", str(profile)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    reader.join()
    if spy is not None:
        spy.wait()
    starts = sorted(start for start, _ in windows.values())
    for step, (start, _) in windows.items():
        if step not in steps:  # started, never done (it failed): until the next step started, or the end
            windows[step] = (start, next((s for s in starts if s > start), seconds))
    failure = ""
    if os.waitstatus_to_exitcode(status) != 0:  # reported with the steps that ran, not thrown away
        failure = (f"exit {os.waitstatus_to_exitcode(status)} after {seconds:.0f} s; the end of {log}:\n"
                   + "\n".join(line[10:] for line in log.read_text().splitlines()[-8:]))
    new = sorted(set(runs.iterdir()) - before, key=lambda p: p.stat().st_mtime) if runs.exists() else []
    return Night(label, seconds, usage.ru_maxrss / 1024**2, usage.ru_utime + usage.ru_stime, steps, windows, samples,
                 new[-1] if new else None, failure)


def _in_window(night: Night, start: float, end: float) -> tuple[float, float]:
    """Peak tree GiB and CPU seconds of the samples from start to end (the nearest samples at the edges)."""
    inside = [s for s in night.samples if start <= s[0] <= end]
    if not inside:
        return float("nan"), float("nan")
    before = [s for s in night.samples if s[0] < start]
    first = before[-1][2] if before else 0.0
    return max(s[1] for s in inside), inside[-1][2] - first


def step_rows(night: Night) -> list[tuple[str, float, float, float]]:
    """(step, seconds, CPU seconds, peak tree GiB) in run order, with the command's start and Dagster's own time."""
    ordered = sorted(night.windows, key=lambda step: night.windows[step][0])
    rows = []
    first = night.windows[ordered[0]][0] if ordered else night.seconds
    peak, cpu = _in_window(night, 0.0, first)
    rows.append((STARTUP, first, cpu, peak))
    for step in ordered:
        start, end = night.windows[step]
        peak, cpu = _in_window(night, start, end)
        rows.append((step if step in night.steps else f"{step} (FAILED)", night.steps.get(step, end - start), cpu, peak))
    between = night.seconds - sum(seconds for _, seconds, _, _ in rows)
    rows.append((BETWEEN, between, float("nan"), float("nan")))
    return rows


def sampled_peak(night: Night) -> tuple[float, str, dict[str, float]]:
    """The tree's largest sampled resident memory, the step it happened in, and the processes then."""
    t, gib, _, names = max(night.samples, key=lambda s: s[1])
    step = next((s for s, (a, b) in night.windows.items() if a <= t <= b), "between steps")
    return gib, step, names


def largest_process(night: Night, name: str | None = None) -> float:
    """The largest sampled resident memory of one process name (all names when None)."""
    return max((gib for *_, names in night.samples for n, gib in names.items() if name in (None, n)), default=0.0)


def dbt_nodes(run: Path) -> tuple[list[dict], float]:
    results = json.loads((run / "run_results.json").read_text())
    return results["results"], results.get("elapsed_time", float("nan"))


def node_kind(node: dict) -> str:
    unique_id = node["unique_id"]
    return "unit test" if unique_id.startswith("unit_test.") else unique_id.split(".", 1)[0].replace("test", "data test")


_PROJECT_FILE = re.compile(r"^(?:/\S*/)?(?:assets|territory)/[\w/]+\.py:")


def profile_summary(raw: Path, top: int) -> dict[str, list[tuple[float, str]]]:
    """py-spy's collapsed stacks: per step (the asset or check function on the stack), its hottest functions.

    Returns {step: [(share of the step's samples, function)]}: a function counts once per stack
    (inclusive time); listed are the project's own functions (territory/, assets/) and the leaves.
    Stacks without an asset function are "dbt process" or "Dagster and the command".
    """
    per_step: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    totals: collections.Counter = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = stack.split(";")
        process = ([f for f in frames if f.startswith("process ")] or [""])[-1]  # a child's stack nests in its parent's
        frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        where = [f[f.rfind("(") + 1 : -1] if f.endswith(")") else "" for f in frames]
        step = next((f.split(" (")[0] for f, w in zip(frames, where) if w.startswith(("assets/", "/")) and
                     "/assets/" in "/" + w and _PROJECT_FILE.match(w)), None)
        if step is None or step == "<module>":  # importing the definitions is the command's start
            step = "dbt process" if "/bin/dbt " in process else "Dagster and the command"
        totals[step] += int(count)
        for frame, file in set(zip(frames, where)):
            if _PROJECT_FILE.match(file) or frame == frames[-1]:
                per_step[step][f"{frame.split(' (')[0]} ({file.split('site-packages/')[-1]})"] += int(count)
    return {step: [(n / totals[step], f) for f, n in per_step[step].most_common(top)]
            for step, _ in totals.most_common() if totals[step] >= 20}


def scaled_capacity(extract: Path, out: Path, scale: float) -> Path:
    """`extract` with every rep's capacity_hours times `scale`: reps.parquet rewritten, the other files linked."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    for path in extract.iterdir():
        if path.name != "reps.parquet" and not (out / path.name).exists():
            (out / path.name).symlink_to(path.resolve())
    reps = pq.read_table(extract / "reps.parquet")
    column = reps.schema.get_field_index("capacity_hours")
    scaled = pc.multiply(reps["capacity_hours"], pa_scalar(scale, reps.schema.field(column).type))
    pq.write_table(reps.set_column(column, "capacity_hours", scaled), out / "reps.parquet")
    return out


def pa_scalar(value: float, kind):
    import pyarrow as pa

    return pa.scalar(value).cast(kind)


def extract_rows(extract: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    return {path.stem: pq.ParquetFile(path).metadata.num_rows for path in sorted(extract.glob("*.parquet"))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=ISSUE_ROWS["accounts"])
    parser.add_argument("--reps", type=int, default=ISSUE_ROWS["reps"])
    parser.add_argument("--extract", type=Path, help="reuse this folder of canonical Parquet files instead of generating")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the extract and the homes here, not in a temporary folder")
    parser.add_argument("--snapshot-date", default=SNAPSHOT, help="the first night's date; the extract is generated as of it")
    parser.add_argument("--nights", type=int, choices=(1, 2), default=2, help="2: also the next night on the same home")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between memory and CPU samples")
    parser.add_argument("--capacity-scale", type=float, default=1.0,
                        help="multiply the reps' capacity_hours (in a copy of reps.parquet): the demo's workload model "
                             "needs about 2,700 reps per million accounts at full use, so 1,000,000 x 2,000 needs 1.8")
    parser.add_argument("--plan", type=Path, help="the plan file the runs use (TERRITORY_PLAN; default: plan.yml)")
    parser.add_argument("--profile", action="store_true", help="sample night 1 with py-spy (pip install py-spy)")
    parser.add_argument("--stop-at", metavar="STEP",
                        help="end the command when this step (or one of its parts, STEP.part) starts (e.g. solve__territory_plan: the steps "
                             "before the solve); the night is then reported as failed at that step")
    parser.add_argument("--nodes", type=int, default=15, help="how many of the slowest dbt nodes to list")
    parser.add_argument("--contacts-per-account", type=float,
                        default=ISSUE_ROWS["contacts"] / ISSUE_ROWS["accounts"],
                        help="at least this many contacts per account in a generated extract (0: the generator's rate)")
    parser.add_argument("--activities-per-account", type=float,
                        default=ISSUE_ROWS["activities"] / ISSUE_ROWS["accounts"],
                        help="at least this many activities per account in a generated extract (0: the generator's rate)")
    options = parser.parse_args()
    from territory.demo_data import ACTIVITIES_PER_ACCOUNT, CONTACTS_PER_ACCOUNT, rate_scale_for

    scales = {"contacts": rate_scale_for(options.contacts_per_account, CONTACTS_PER_ACCOUNT)
              if options.contacts_per_account else 1.0,
              "activities": rate_scale_for(options.activities_per_account, ACTIVITIES_PER_ACCOUNT)
              if options.activities_per_account else 1.0}
    drawn = "".join(f"-{table[0]}x{scale:g}" for table, scale in scales.items() if scale != 1.0)

    if options.plan:
        os.environ["TERRITORY_PLAN"] = str(options.plan.resolve())
    work = options.keep or Path(tempfile.mkdtemp(prefix="territory-bench-nightly-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        extract = options.extract or work / f"crm-{options.accounts}x{options.reps}{drawn}"
        if not (extract / "activities.parquet").exists():
            if options.extract:
                sys.exit(f"no extract in {extract}")
            print(f"generating {options.accounts:,} x {options.reps:,} into {extract} (not timed)", file=sys.stderr)
            subprocess.run([TERRITORY, "demo-data", "--accounts", str(options.accounts), "--reps", str(options.reps),
                            "--as-of", options.snapshot_date, "--out", str(extract),
                            "--contacts-scale", str(scales["contacts"]), "--activities-scale", str(scales["activities"])],
                           check=True, stdout=subprocess.DEVNULL)
        if options.capacity_scale != 1.0:
            extract = scaled_capacity(extract, work / f"{extract.name}-capacity-x{options.capacity_scale:g}",
                                      options.capacity_scale)
        rows = extract_rows(extract)
        home = work / f"home-{int(time.time())}"
        first_date = dt.date.fromisoformat(options.snapshot_date)
        nights = []
        for number in range(options.nights):
            day = (first_date + dt.timedelta(days=number)).isoformat()
            label = f"night {number + 1} ({day}{', fresh home' if number == 0 else ', same home'})"
            print(f"{label}: running, output in {work}/night-{number + 1}.log", file=sys.stderr)
            profile = work / "night-1.pyspy.txt" if options.profile and number == 0 else None
            nights.append(run_night(label, extract, home, day, options.interval, work / f"night-{number + 1}.log", profile,
                                    options.stop_at))
            print(f"{label}: {nights[-1].seconds:.0f} s{', FAILED' if nights[-1].failure else ''}", file=sys.stderr)
        (work / "nights.json").write_text(json.dumps([{**vars(n), "dbt_run": str(n.dbt_run)} for n in nights]))
        nodes, dbt_elapsed = dbt_nodes(nights[0].dbt_run) if nights[0].dbt_run else ([], float("nan"))
        hot = profile_summary(work / "night-1.pyspy.txt", 8) if options.profile else {}
    finally:
        if options.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    load = os.getloadavg()
    print(f"nightly rebuild, extract {options.accounts:,} accounts x {options.reps:,} reps; "
          f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    print(f"\n{'table':<14} {'rows':>12} {'issue':>12} {'ratio':>6}")
    for table, count in rows.items():
        target = ISSUE_ROWS.get(table)
        print(f"{table:<14} {count:>12,} {f'{target:,}' if target else '-':>12} "
              f"{f'{count / target:.3f}' if target else '':>6}")

    one = nights[0]
    two = nights[1] if len(nights) > 1 else None
    second = {step: seconds for step, seconds, _, _ in step_rows(two)} if two else {}
    header = f"\n{'step (night 1)':<58} {'seconds':>8} {'share':>6} {'cores':>6} {'peak GiB':>9}"
    print(header + (f" {'night 2':>8} {'2 / 1':>6}" if two else ""))
    for step, seconds, cpu, peak in step_rows(one):
        cores = cpu / seconds if seconds > 0 and not math.isnan(cpu) else float("nan")
        line = f"{step:<58} {seconds:8.1f} {seconds / one.seconds:6.1%} {cores:6.2f} {peak:9.2f}"
        if two:
            other = second.get(step)
            line += f" {other:8.1f} {other / seconds:6.2f}" if other is not None and seconds > 0 else f" {'-':>8}"
        print(line.replace(" nan", "   -"))

    print(f"\n{'measure':<58} {'value':>10} {'budget':>8} {'ratio':>6}")
    for night in nights:
        peak, step, names = sampled_peak(night)
        largest = ", ".join(f"{name} {gib:.2f}" for name, gib in sorted(names.items(), key=lambda kv: -kv[1])[:3])
        for name, value, budget, ratio in (
            (f"{night.label}: wall time", f"{night.seconds:.0f} s", f"{BUDGET_SECONDS:.0f} s", night.seconds / BUDGET_SECONDS),
            ("  peak memory, sampled sum over the process tree", f"{peak:.2f} GiB", f"{BUDGET_GIB:.0f} GiB", peak / BUDGET_GIB),
            (f"    in {step}: {largest}", "", "", None),
            ("  peak memory, largest single process (wait4 ru_maxrss)", f"{night.wait4_gib:.2f} GiB",
             f"{BUDGET_GIB:.0f} GiB", night.wait4_gib / BUDGET_GIB),
            ("    sampled: the command / dbt",
             f"{largest_process(night, 'territory'):.2f} / {largest_process(night, 'dbt'):.2f}", "", None),
            ("  CPU seconds of the tree, and cores used on average", f"{night.cpu_seconds:.0f} s",
             f"{night.cpu_seconds / night.seconds:.2f} of {CORES}", None),
        ):
            print(f"{name:<58} {value:>10} {budget:>8} {'' if ratio is None else f'{ratio:.2f}':>6}")
    if two:
        print(f"{'night 2 / night 1, wall time':<58} {two.seconds / one.seconds:>10.2f}")
    for night in nights:
        if night.failure:
            print(f"\n{night.label} FAILED: {night.failure}")

    if nodes:
        by_kind = collections.defaultdict(lambda: [0, 0.0])
        for node in nodes:
            by_kind[node_kind(node)][0] += 1
            by_kind[node_kind(node)][1] += node["execution_time"]
        dbt_step = one.steps.get("territory_dbt_models", float("nan"))
        print(f"\ndbt build, night 1: step {dbt_step:.1f} s, dbt's own elapsed {dbt_elapsed:.1f} s "
              f"(the rest: dbt's start and Dagster's handling of its events); node times, 2 threads:")
        for kind, (count, seconds) in sorted(by_kind.items(), key=lambda kv: -kv[1][1]):
            print(f"  {kind:<12} {count:>4} nodes {seconds:8.1f} s")
        print(f"slowest {options.nodes} dbt nodes:")
        for node in sorted(nodes, key=lambda n: -n["execution_time"])[: options.nodes]:
            print(f"  {node['execution_time']:7.1f} s  {node['unique_id']}")

    for step, functions in hot.items():
        print(f"\npy-spy, night 1, {step}: share of its samples (inclusive)")
        for share, function in functions:
            print(f"  {share:6.1%}  {function}")


if __name__ == "__main__":
    main()
