"""`make ui` serves the code location the demo's runs name: they show under their job and re-execute.

Starts the real `dagster dev` webserver on a free port against a temp home (slow: ~30 s)."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import dagster as dg
import pytest

from dagster_project import cli
from dagster_project.demo import LOCATION_NAME, REPOSITORY_NAME, CodeLocationRuns
from tests.conftest import EN_DOCS, write_jsonl

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


def wait_for_location(port: int, process: subprocess.Popen, timeout: float = 240) -> list[str]:
    deadline = time.monotonic() + timeout
    query = "{ repositoriesOrError { ... on RepositoryConnection { nodes { name location { name } jobs { name } } } } }"
    while time.monotonic() < deadline:
        assert process.poll() is None, "dagster dev exited"
        try:
            nodes = graphql(port, query)["repositoriesOrError"].get("nodes") or []
            if nodes:
                return [job["name"] for node in nodes for job in node["jobs"]]
        except OSError:
            pass
        time.sleep(2)
    raise TimeoutError("the UI did not serve the code location in time")


RUNS = """query($job: String!, $repo: String!) { runsOrError(filter: {pipelineName: $job,
  tags: [{key: ".dagster/repository", value: $repo}]}) { ... on Runs { results { runId status
  repositoryOrigin { repositoryLocationName repositoryName } } } } }"""
REEXECUTE = """mutation($run: String!) { launchRunReexecution(reexecutionParams: {parentRunId: $run,
  strategy: ALL_STEPS}) { __typename ... on PythonError { message } } }"""


def test_demo_runs_show_under_their_job_in_the_ui_and_re_execute(home, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    cli.prepare_environment()
    write_jsonl(home / "landing/en_docs/a.jsonl", [{"text": t} for t in EN_DOCS])
    with dg.DagsterInstance.get() as instance:
        instance.add_dynamic_partitions("category", ["en_docs"])
        runs = CodeLocationRuns(instance)
        recon, run = runs.create("ingest_and_dedup", "en_docs")
        for _ in runs.execute(recon, run):
            pass
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS

    port = free_port()
    process = subprocess.Popen(cli.ui_command(port), cwd=cli.REPO_ROOT, env=os.environ.copy(), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        jobs = wait_for_location(port, process)
        assert {"ingest_and_dedup", "quality_models", "score_and_rewrite", "mixture_to_eval"} <= set(jobs)
        found = graphql(port, RUNS, {"job": "ingest_and_dedup", "repo": f"{REPOSITORY_NAME}@{LOCATION_NAME}"})
        (listed,) = found["runsOrError"]["results"]
        assert listed["runId"] == run.run_id and listed["status"] == "SUCCESS"
        assert listed["repositoryOrigin"] == {"repositoryLocationName": LOCATION_NAME,
                                              "repositoryName": REPOSITORY_NAME}
        launched = graphql(port, REEXECUTE, {"run": run.run_id})["launchRunReexecution"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
