"""The programs in examples/ run and print what they promise."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str, *args: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "STREAMS_CRASH_AT"}
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert done.stderr == ""
    return done.stdout.splitlines()


def test_quickstart_reports_rejects_alerts_and_totals():
    lines = run_example("quickstart.py")
    assert lines[0].startswith("rejected: JSONDecodeError:")
    assert 'in map<parse> (element \'{"sensor": "attic", "tick": 20' in lines[0]
    assert lines[1] == "ALERT tick 27: boiler average 30.1 C is above 30.0 C"
    assert lines[2] == "clear tick 78: boiler average 29.2 C is back below 30.0 C"
    assert lines[3] == (
        "stored 89 readings, rejected 1; per sensor: {'boiler': 30, 'attic': 30, 'cellar': 29}"
    )


def test_dask_pipeline_estimates_pi_the_same_way_on_every_run():
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "dask_pipeline.py"), "2"],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    assert done.stdout.splitlines() == [
        "after 100 seeds (2,000,000 points): pi ~ 3.14160",
        "after 200 seeds (4,000,000 points): pi ~ 3.14074",
        "after 300 seeds (6,000,000 points): pi ~ 3.14115",
        "after 400 seeds (8,000,000 points): pi ~ 3.14172",
        "error 0.00012 using 2 worker processes",
    ]
    # stderr ends with the rate; distributed may log shutdown races of its own above it
    assert done.stderr.splitlines()[-1].endswith(" points per second")


def test_market_vwap_matches_pandas_on_all_ticks():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import market_vwap
    finally:
        sys.path.remove(str(EXAMPLES))
    everything = pd.concat(market_vwap.ticks(20))
    notional = everything.price * everything.volume
    vwap = notional.groupby(everything.symbol).sum() / everything.groupby("symbol").volume.sum()
    nvda = everything[everything.symbol == "NVDA"].price
    std = nvda.rolling(50).std()

    lines = run_example("market_vwap.py")
    assert lines[0] == (
        "refused: DataFrame.emit: the chunk has missing column(s) ['volume'] "
        "and unexpected column(s) ['qty']"
    )
    assert lines[1:4] == [f"VWAP {s}: {vwap[s]:.4f}" for s in market_vwap.SYMBOLS]
    assert lines[4] == f"NVDA price std over the last 50 ticks: {std.iloc[-1]:.6f}"
    assert lines[5] == f"{len(nvda)} NVDA ticks, {int(std.notna().sum())} full windows"


def test_dashboard_example_serves_its_page_while_the_pipeline_runs():
    import urllib.request

    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "dashboard.py"), "--seconds", "3", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert first.startswith("dashboard at http://127.0.0.1:")
        page = urllib.request.urlopen(first.split()[-1], timeout=30).read()
        assert b"streams dashboard" in page
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == 0 and err == ""
    readings, stopped = out.splitlines()
    counts = dict(part.split(": ") for part in readings.split(", "))
    assert int(counts["readings"]) > 50
    assert 0 < int(counts["batches written"]) <= 15  # a batch each 250 ms at most, + the last
    assert int(counts["plausible"]) <= int(counts["readings"])
    assert stopped == "dashboard stopped with the graph: True"


def test_durable_totals_end_the_same_after_a_kill(tmp_path):
    example = str(EXAMPLES / "durable_totals.py")
    whole = run_example("durable_totals.py", str(tmp_path / "whole"))
    assert whole[0] == "fresh start"
    killed = subprocess.run(
        [sys.executable, example, str(tmp_path / "killed")],
        env={**os.environ, "STREAMS_CRASH_AT": "after_commit:7"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert killed.returncode == -9  # SIGKILL, right after its 7th checkpoint
    again = run_example("durable_totals.py", str(tmp_path / "killed"))
    assert again[0] == "restored checkpoint 7: going on after order 3500"
    assert again[1:] == whole[1:]
    assert whole[1] == "20000 orders, 40 customers, total 1010000"


def test_event_server_runs_the_awesomestream_readme_session():
    assert run_example("event_server.py") == [
        "friend events of user 23: [{'kind': 'friend', 'user': 23, 'friend': 291}]",
        "users 23 and 291, items 1 to 3: [{'kind': 'commit', 'repo': 17, 'user': 23, "
        "'message': 'first'}, {'kind': 'friend', 'user': 23, 'friend': 291}]",
        "events on repo 17: 3",
        "error: ValueError: cannot filter on 'colour': not an indexed key "
        "(keys=['user', 'kind', 'repo'])",
    ]


def test_newsfeed_fans_pins_out_and_pushes_notification_counts(redis_url):
    expected = [
        "5 pins fanned out",
        "alice reads ['carol:301', 'bob:201']",
        "bob reads ['alice:102', 'alice:101']",
        "carol reads ['alice:102', 'bob:201', 'alice:101']",
        "bob reads ['dave:401', 'alice:102', 'alice:101']",
        "carol reads ['bob:201']",
        "carol's aggregated feed: 1 pins by [2]",
        "  live: alice has 1 unseen notifications",
        "  live: alice has 2 unseen notifications",
        "  live: alice has 0 unseen notifications",
        "alice: 2 people loved pin 102",
        "alice after reading: {'unseen_count': 0, 'unread_count': 2}",
    ]
    redis_db = redis_url.rsplit("/", 1)[0] + "/12"
    for args in ([], ["--redis", redis_db]):
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / "newsfeed.py"), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        assert done.stderr == ""
        assert done.stdout.splitlines() == expected


def test_faust_clicks_counts_pages_and_windows_on_the_mock_cluster():
    lines = run_example("faust_clicks.py")
    assert lines[0] == "page views: {'/docs': 98, '/home': 104, '/pricing': 98}"
    assert lines[1:] == [
        "minute -2: {'/docs': 1, '/pricing': 2}",
        "minute -1: {'/docs': 3, '/home': 2, '/pricing': 1}",
        "minute +0: {'/docs': 17, '/home': 24, '/pricing': 19}",
        "minute +1: {'/docs': 16, '/home': 20, '/pricing': 24}",
        "minute +2: {'/docs': 23, '/home': 18, '/pricing': 19}",
        "minute +3: {'/docs': 20, '/home': 22, '/pricing': 15}",
        "minute +4: {'/docs': 18, '/home': 18, '/pricing': 18}",
    ]
