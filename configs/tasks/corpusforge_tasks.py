"""Hooks the task YAMLs in this folder name with ``!function corpusforge_tasks.<name>`` (lm-eval
resolves them relative to the YAML). The logic lives in ``curation.evaluation``; this file only wires it."""

import datasets

from curation.evaluation.sandbox import SandboxLimits, run_sandboxed
from curation.evaluation.task_data import task_docs


def load_docs(name: str, **_metadata) -> datasets.DatasetDict:
    """The task's items as a one-split dataset (built in memory: no hub, no datasets cache)."""
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(task_docs(name))})


def humaneval_programs(resps: list[list[str]], docs: list[dict]) -> list[list[str]]:
    """Prompt + completion: the function the unit tests call."""
    return [[doc["prompt"] + r for r in resp] for resp, doc in zip(resps, docs)]


def pass_at_1(references: list[str], predictions: list[list[str]], **_kwargs) -> float:
    """1.0 when the first completion passes the problem's tests inside the sandbox (greedy pass@1)."""
    program = predictions[0][0] + "\n\n" + references[0] + "\n"
    return 1.0 if run_sandboxed(program, SandboxLimits()).passed else 0.0
