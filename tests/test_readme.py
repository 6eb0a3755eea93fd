"""README promises: two Quick start commands, CI runs the second, the example runs."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def block(language: str, after: str) -> str:
    section = README[README.index(after) :]
    match = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert match, f"no {language} block after {after!r}"
    return match.group(1)


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_second():
    commands = [line for line in block("bash", "## Quick start").splitlines() if line.strip()]
    assert len(commands) == 2
    install_and_demo, tests = commands
    assert "pip install" in install_and_demo and "examples/" in install_and_demo
    script = install_and_demo.split("python ")[-1].strip()
    assert (ROOT / script).is_file()
    ci = (ROOT / ".ci" / "run").read_text()
    assert tests in ci.splitlines()


def test_readme_example_prints_what_its_comment_says():
    code = block("python", "## Example")
    expected = re.search(r"print\(.*\)\s+# (.*)", code).group(1)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == expected
