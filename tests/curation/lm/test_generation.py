import importlib.util
from dataclasses import replace

import pytest
import torch

from curation.lm import generation
from curation.lm.generation import (
    BackendUnavailableError,
    PromptTooLongError,
    TransformersBackend,
    encode_chat,
    make_backend,
    resolve_backend_kind,
)

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def backend(tiny_llama_dir):
    return TransformersBackend(tiny_llama_dir, device="cpu", batch_size=2)


def test_greedy_batched_generation_matches_one_by_one_and_keeps_order(backend):
    prompts = ["Rephrase: the cat sat on the mat.", "Hello", "A list comprehension consists of brackets."]
    batched = backend.generate(prompts, max_new_tokens=8, temperature=0.0, seed=0)
    single = [backend.generate([p], max_new_tokens=8, temperature=0.0, seed=0)[0] for p in prompts]
    assert batched == single  # left padding does not change what a prompt produces
    assert any(batched)  # a random model may stop at once on some prompt, not on all
    assert backend.counters.new_tokens > 0 and backend.counters.prompts == 6


def test_sampling_is_reproducible_with_a_seed(backend):
    prompts = ["Write about rivers."] * 2
    first = backend.generate(prompts, max_new_tokens=12, temperature=1.0, seed=7)
    again = backend.generate(prompts, max_new_tokens=12, temperature=1.0, seed=7)
    other = backend.generate(prompts, max_new_tokens=12, temperature=1.0, seed=8)
    assert first == again
    assert first != other


def test_prompt_over_the_context_is_refused(backend):
    with pytest.raises(PromptTooLongError, match="exceeds the 1024-token context"):
        backend.generate(["word " * 1100], max_new_tokens=8, temperature=0.0, seed=0)


def test_encode_chat_uses_the_template_and_adds_no_second_bos(backend):
    tokenizer = backend.tokenizer
    plain = tokenizer.decode(encode_chat(tokenizer, "Rephrase this.", system="Be brief."))
    assert "Be brief.\n\nRephrase this.\n\n" in plain  # no template: plain system + user text
    tokenizer.chat_template = CHATML
    try:
        ids = encode_chat(tokenizer, "Rephrase this.", system="Be brief.")
    finally:
        tokenizer.chat_template = None
    text = tokenizer.decode(ids)
    assert text.startswith("<|im_start|>system\nBe brief.") and text.endswith("<|im_start|>assistant\n")
    assert ids[0] != tokenizer.bos_token_id


@pytest.mark.parametrize(
    ("kind", "cuda", "vllm_installed", "expected"),
    [
        ("auto", False, True, "transformers"),
        ("auto", True, False, "transformers"),
        ("auto", True, True, "vllm"),
        ("vllm", True, True, "vllm"),
        ("transformers", True, True, "transformers"),
    ],
)
def test_backend_selection(monkeypatch, kind, cuda, vllm_installed, expected):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(
        generation.importlib.util,
        "find_spec",
        lambda name, *a: (object() if vllm_installed else None) if name == "vllm" else real_find_spec(name, *a),
    )
    assert resolve_backend_kind(kind) == expected


def test_vllm_requested_without_cuda_fails_with_the_reason(monkeypatch, tiny_llama_dir):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendUnavailableError, match="no CUDA device"):
        make_backend("vllm", tiny_llama_dir)
    with pytest.raises(ValueError, match="unknown backend kind 'tgi'"):
        resolve_backend_kind("tgi")
    assert isinstance(make_backend("auto", tiny_llama_dir), TransformersBackend)


class _FakeVLLM:
    """Records how the backend drives vLLM's offline API (``LLM``, ``SamplingParams``): no GPU here."""

    class SamplingParams:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    def __init__(self, tokenizer):
        fake = self

        class LLM:
            def __init__(self, **kwargs):
                fake.engine_kwargs = kwargs
                fake.calls = []

            def get_tokenizer(self):
                return tokenizer

            def generate(self, prompts, sampling_params, use_tqdm=True):
                fake.calls.append((prompts, sampling_params))
                out = type("Completion", (), {"text": " ok ", "token_ids": [1, 2]})
                return [type("RequestOutput", (), {"outputs": [out]}) for _ in prompts]

        self.LLM = LLM


def test_vllm_backend_sends_every_request_in_one_generate_with_its_own_sampling(backend, tiny_llama_dir):
    from curation.lm.generation import GenerationRequest, Sampling, VLLMBackend

    fake = _FakeVLLM(backend.tokenizer)
    vllm_backend = VLLMBackend(tiny_llama_dir, vllm_module=fake, max_model_len=512)
    assert fake.engine_kwargs["enable_prefix_caching"] is True and vllm_backend.context_length == 512
    qa, wrap = Sampling(128, 0.7, 0.9, seed=0), Sampling(64, 0.3, 1.0, seed=1)
    requests = [GenerationRequest(f"doc {i}", qa if i % 2 else wrap, system="Be brief.") for i in range(5)]
    assert vllm_backend.generate_requests(requests) == ["ok"] * 5
    (prompts, params), = fake.calls  # one LLM.generate over all five prompts
    assert len(prompts) == 5 and prompts[0]["prompt_token_ids"] == encode_chat(backend.tokenizer, "doc 0", "Be brief.")
    assert [p.kwargs["max_tokens"] for p in params] == [64, 128, 64, 128, 64]
    assert params[1].kwargs == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 128, "seed": 0}
    assert vllm_backend.counters.new_tokens == 10
    with pytest.raises(PromptTooLongError):
        vllm_backend.generate_requests([GenerationRequest("word " * 600, qa)])


def test_vllm_backend_without_cuda_or_package_says_why(monkeypatch, tiny_llama_dir):
    from curation.lm.generation import VLLMBackend

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(BackendUnavailableError, match="vLLM backend cannot start: no CUDA device"):
        VLLMBackend(tiny_llama_dir)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(generation.importlib.util, "find_spec",
                        lambda name, *a: None if name == "vllm" else real_find_spec(name, *a))
    with pytest.raises(BackendUnavailableError, match=r"install the `gpu` extra: vllm==0.32.0"):
        VLLMBackend(tiny_llama_dir)


def test_transformers_groups_requests_by_sampling_and_keeps_their_order(backend):
    from curation.lm.generation import GenerationRequest, Sampling

    greedy8, greedy4 = Sampling(8, 0.0), Sampling(4, 0.0)
    prompts = ["The with statement", "A class definition", "Lambda expressions"]
    requests = [GenerationRequest(p, s) for p, s in zip(prompts, [greedy8, greedy4, greedy8], strict=True)]
    mixed = backend.generate_requests(requests)
    alone = [backend.generate([p], s.max_new_tokens, 0.0, 0)[0] for p, s in zip(prompts, [greedy8, greedy4, greedy8])]
    assert mixed == alone


def test_a_response_prefix_opens_the_assistant_turn_and_heads_the_reply(backend, tiny_llama_dir):
    """Structured generation by prefill: the model sees the opening of its reply after the generation
    prompt, and both backends return that opening followed by the continuation."""
    from curation.lm.generation import GenerationRequest, Sampling, VLLMBackend

    tokenizer = backend.tokenizer
    tokenizer.chat_template = CHATML
    try:
        ids = encode_chat(tokenizer, "Write a problem.", "Be brief.", response_prefix="[Problem]\n")
        bare = encode_chat(tokenizer, "Write a problem.", "Be brief.")
    finally:
        tokenizer.chat_template = None
    assert tokenizer.decode(ids).endswith("<|im_start|>assistant\n[Problem]\n") and ids[: len(bare)] == bare

    greedy = Sampling(6, 0.0, 1.0, 0)
    prefilled, plain = backend.generate_requests([GenerationRequest("Hello", greedy, None, "[Problem]\n"),
                                                  GenerationRequest("Hello", greedy)])
    assert prefilled.startswith("[Problem]") and not plain.startswith("[Problem]")

    fake = _FakeVLLM(tokenizer)
    vllm_backend = VLLMBackend(tiny_llama_dir, vllm_module=fake, max_model_len=512)
    assert vllm_backend.generate_requests([GenerationRequest("doc", greedy, None, "Question:")]) == ["Question: ok"]
    (prompts, _), = fake.calls
    assert prompts[0]["prompt_token_ids"] == encode_chat(tokenizer, "doc", None, "Question:")


def test_a_stop_string_ends_the_reply_before_it_on_both_backends(backend, tiny_llama_dir):
    """One section at a time: generation halts at the first stop string, which the reply leaves out."""
    from curation.lm.generation import GenerationRequest, Sampling, VLLMBackend, reply

    prompt, sampled = "Rephrase: the cat sat on the mat.", Sampling(16, 0.9, 1.0, 3)  # varied words at this seed
    full = backend.generate_requests([GenerationRequest(prompt, sampled)])[0]
    words = full.split()
    assert len(words) >= 4, full  # the random model writes something to cut
    stop = words[len(words) // 2]
    cut = backend.generate_requests([GenerationRequest(prompt, replace(sampled, stop=(stop,)))])[0]
    assert cut == full[: full.find(stop)].strip() and stop not in cut and cut
    assert reply("[Problem]\n", " A gas.\n[Solution]\n1. Use", ("[Solution]",)) == "[Problem]\n A gas."
    # no stop strings: the cache keys of earlier runs stay valid; with them, they are part of the key
    assert "stop" not in Sampling(8).as_dict() and Sampling(8, stop=("X",)).as_dict()["stop"] == ["X"]
    assert "repetition_penalty" not in Sampling(8).as_dict()
    assert Sampling(8, repetition_penalty=1.2).as_dict()["repetition_penalty"] == 1.2
    greedy = Sampling(16, 0.0, 1.0, 0)  # the random model loops on one token here ("railsrails...")
    looping, penalized = (backend.generate_requests([GenerationRequest("Hello", s)])[0]
                          for s in (greedy, replace(greedy, repetition_penalty=5.0)))
    assert penalized and penalized != looping  # the penalty reaches generate

    fake = _FakeVLLM(backend.tokenizer)
    vllm_backend = VLLMBackend(tiny_llama_dir, vllm_module=fake, max_model_len=512)
    vllm_backend.generate_requests([GenerationRequest("doc", Sampling(8, stop=("[Solution]",), repetition_penalty=1.2))])
    (_, params), = fake.calls
    assert params[0].kwargs["stop"] == ["[Solution]"] and params[0].kwargs["repetition_penalty"] == 1.2
