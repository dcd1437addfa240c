"""The CLI's instance settings and UI command work on a fresh clone (no .venv/bin on PATH)."""

import os
from pathlib import Path

import yaml

from dagster_project import cli


def test_generated_dagster_yaml_turns_telemetry_off_and_limits_runs(home, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    cli.prepare_environment()
    config = yaml.safe_load((home / "dagster" / "dagster.yaml").read_text())
    assert config["telemetry"] == {"enabled": False}
    runs = config["concurrency"]["runs"]
    assert runs["max_concurrent_runs"] == max(1, (os.cpu_count() or 1) // 2)
    assert runs["tag_concurrency_limits"] == [
        {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    assert yaml.safe_load(cli.dagster_yaml(cpus=2))["concurrency"]["runs"]["max_concurrent_runs"] == 1


def test_a_users_own_dagster_yaml_is_kept(home, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    (home / "dagster").mkdir()
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n# mine\n")
    cli.prepare_environment()
    assert (home / "dagster" / "dagster.yaml").read_text().endswith("# mine\n")


def test_ui_runs_the_dagster_beside_this_python_without_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    command = cli.ui_command(3999)
    assert Path(command[0]).is_file() and os.access(command[0], os.X_OK)
    assert command[1:4] == ["dev", "-w", str(cli.REPO_ROOT / "workspace.yaml")]


def test_console_entry_keeps_exit_codes_and_tracebacks(home):
    """``entry`` leaves without interpreter teardown: exit codes, output and errors must survive it."""
    import subprocess
    import sys

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "dagster_project.cli", *args], capture_output=True, text=True,
                              check=False, timeout=300, env={**os.environ, "CORPUSFORGE_HOME": str(home)})

    why = cli("why", "no-such-doc")
    assert why.returncode == 1 and "no-such-doc: not removed by any stage" in why.stdout
    assert "nanobind" not in why.stderr
    bad = cli("no-such-command")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
