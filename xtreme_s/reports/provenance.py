"""What a run really was, in words, for the model card and results.md: which base model (a Hub id at a revision, or
a local checkpoint by name, never an absolute path), what was done to it (fine-tuned, probed, LoRA, MMS adapters, or
only evaluated), on which data (the Hub sources at their revisions, a mirror, a local folder, or the bundled mini
benchmark: synthetic speech, a smoke test), and whether the numbers are the benchmark's (test split of the real data:
the only case the card's model-index carries metrics). Reads only results.json.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

HUB_TASKS = {"ctc": "automatic-speech-recognition", "seq2seq": "automatic-speech-recognition",
             "classification": "audio-classification", "retrieval": "feature-extraction"}
VERBS = {"finetune": "Fine-tuned from", "probe": "Probed on", "lora": "LoRA on", "adapters": "MMS adapters on"}
PROTOCOL_NOTES = {
    "finetune": "every parameter trained except the convolutional front end when it is frozen",
    "probe": "the encoder frozen; a weighted sum of its layers and a small head trained",
    "lora": "low-rank adapters on the encoder's attention trained, the head in full",
    "adapters": "per-language MMS attention adapters and the head trained",
}
SMOKE_TEST = ("**Smoke test on synthetic data**: this run read the bundled mini benchmark (a few seconds of speech "
              "per language, synthesised with espeak-ng){model}. Its numbers only show that the pipeline runs; they "
              "say nothing about any model's quality.")


def is_local(name: str) -> bool:
    """A folder rather than a Hub id: an absolute or relative path, or a name with more than one slash."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or Path(name).is_dir()


def model_name(name: str | None, revision: str | None = None) -> str:
    """A Hub id with its revision, or "local checkpoint NAME" (the folder's last part: an absolute path means
    nothing to a reader and leaks the machine's layout)."""
    if not name:
        return "an unknown model"
    if is_local(name):
        return f"local checkpoint `{Path(name.rstrip('/')).name}`"
    return f"`{name}` (revision `{revision}`)" if revision else f"`{name}` (default branch)"


def base_model(res: dict) -> dict[str, Any]:
    """Where the pretrained weights came from: results.json `base_model` (what the runner loaded; a LoRA
    directory's base), else `model`."""
    base = res.get("base_model") or {}
    name = base.get("name") or res.get("model")
    return {"name": name, "revision": base.get("revision"), "local": is_local(str(name or ""))}


def provenance_line(res: dict) -> str:
    """"Fine-tuned from `facebook/...` (revision ...)", "Probed on local checkpoint `x`", or "Evaluated only"."""
    base = base_model(res)
    named = model_name(base["name"], base["revision"])
    protocol = str((res.get("protocol") or {}).get("name") or "finetune")
    if protocol == "ready_made":
        return f"Evaluated as it is (a ready-made model, nothing trained): {named}."
    if not res.get("train"):
        return f"Evaluated only (no training in this run): {named}, {protocol} checkpoint."
    note = PROTOCOL_NOTES.get(protocol, protocol)
    if protocol == "finetune":  # say what this run did, recorded in notes.encoder.front_end_frozen
        frozen = ((res.get("notes") or {}).get("encoder") or {}).get("front_end_frozen")
        note = {True: "every parameter trained except the frozen convolutional front end",
                False: "every parameter trained"}.get(frozen, note)
    return f"{VERBS.get(protocol, protocol + ' on')} {named} ({note})."


def data_source(res: dict) -> dict[str, Any]:
    """results.json `data.source` (kind: hub, mirror, local, mini) with the repositories and revisions read."""
    data = res.get("data") or {}
    source = dict(data.get("source") or {})
    kind = source.get("kind")
    revisions = data.get("revisions") or {}
    if kind is None:  # runs written before `data.source`: the mini benchmark's mirror is recognisable by name
        mirrors = [str(v.get("mirror")) for v in revisions.values() if isinstance(v, dict) and v.get("mirror")]
        kind = "mini" if any("mini_benchmark" in m for m in mirrors) else "mirror" if mirrors else "hub"
    source["kind"] = kind
    source["repositories"] = {repo: (v.get("commit") or v.get("requested")) if isinstance(v, dict) else v
                              for repo, v in revisions.items()}
    return source


def data_line(res: dict) -> str:
    src = data_source(res)
    repos = ", ".join(f"`{r}`" + (f" at `{rev}`" if rev else "") for r, rev in src["repositories"].items())
    kind = src["kind"]
    if kind == "mini":
        return "Data: the bundled mini benchmark (synthetic speech laid out like " + (repos or "the real sources") + \
            "): a smoke test."
    if kind == "mirror":
        return f"Data: a local mirror (`{src.get('name', 'mirror')}`) of {repos or 'the XTREME-S sources'}."
    if kind == "local":
        return f"Data: a local folder (`{src.get('name', 'data_dir')}`), not the Hub sources."
    return f"Data: the XTREME-S sources on the Hugging Face Hub: {repos or 'revisions not recorded'}."


def is_benchmark_test(res: dict, split: str) -> bool:
    """Whether `split` is the benchmark's real test data: the whole test split (no --max_predict_samples cut) of
    every language of the config, read from the Hub or a mirror of it."""
    src = data_source(res)
    return (split == "test" and src["kind"] in ("hub", "mirror") and split not in (src.get("limited") or {})
            and not res.get("languages_missing"))


def why_not_benchmark_test(res: dict) -> str:
    """Why a run's numbers are not the benchmark's test results, as the end of a sentence."""
    src = data_source(res)
    if src["kind"] == "mini":
        return "read the synthetic mini benchmark"
    if src["kind"] == "local":
        return "read a local folder"
    if "test" not in (res.get("splits") or {}):
        return "scored " + (", ".join(f"`{s}`" for s in res.get("splits", {})) or "nothing") + ", not `test`"
    if "test" in (src.get("limited") or {}):
        return f"scored only {src['limited']['test']} test utterances (--max_predict_samples)"
    if res.get("languages_missing"):
        return f"lacks {len(res['languages_missing'])} language(s) of {res.get('config_name')}"
    return "is not the benchmark's test data"


def eval_results(res: dict) -> list:
    """The model-index entries (huggingface_hub EvalResult): the macro average of each reported metric on the real
    test split, in percent (BLEU 0-100); none for anything else (validation, mini benchmark, local data)."""
    from huggingface_hub import EvalResult

    from ..registry import TASKS

    if not is_benchmark_test(res, "test") or "test" not in (res.get("splits") or {}):
        return []
    split = res["splits"]["test"]
    task = TASKS.get(res.get("task"))
    hub_task = HUB_TASKS.get(res.get("family"))
    out = []
    for metric, value in (split.get("macro") or {}).items():
        if value is None:
            continue
        out.append(EvalResult(task_type=hub_task or "automatic-speech-recognition", dataset_type="google/xtreme_s",
                              dataset_name=f"XTREME-S {res.get('config_name')}",
                              dataset_config=res.get("config_name"), dataset_split="test",
                              metric_type=metric, metric_name=f"{metric} (macro over languages"
                              + (", BLEU 0-100)" if metric == "bleu" else ", %)"),
                              metric_value=round(value if metric == "bleu" else 100 * value, 2),
                              task_name=task.description if task else None))
    return out


def card_metadata(res: dict, name: str) -> Any:
    """The model card's YAML metadata (huggingface_hub ModelCardData): `base_model` only for a Hub model,
    `datasets` only for data read from the Hub or a mirror of it, `model-index` only for real test results."""
    from huggingface_hub import ModelCardData

    base = base_model(res)
    src = data_source(res)
    iso = sorted({lang.split("_")[0].split("-")[0] for lang in res.get("languages", [])})
    peft = (res.get("protocol") or {}).get("name") == "lora" and not (res.get("protocol") or {}).get("merged")
    tags = ["xtreme-s", str(res.get("task"))] + (["smoke-test", "synthetic-data"] if src["kind"] == "mini" else [])
    results = eval_results(res)
    return ModelCardData(
        library_name="peft" if peft else "transformers", language=iso or None, tags=tags,
        pipeline_tag=HUB_TASKS.get(res.get("family")),
        base_model=None if base["local"] or not base["name"] else base["name"],
        datasets=sorted(src["repositories"]) if src["kind"] in ("hub", "mirror") and src["repositories"] else None,
        model_name=name, eval_results=results or None)


def smoke_test_note(res: dict) -> str:
    """The warning that heads a report of a run on the bundled mini benchmark; "" for any other data."""
    if data_source(res)["kind"] != "mini":
        return ""
    tiny = "mini_benchmark/models" in str(base_model(res)["name"])
    return SMOKE_TEST.format(model=" and its tiny random model" if tiny else "")


def card_intro(res: dict, name: str) -> str:
    """The card's opening: what the model is, from what, on what data, and what its model-index holds."""
    lines = [f"# {name}", "", f"XTREME-S `{res.get('task')}` ({res.get('config_name')}). {provenance_line(res)}",
             "", data_line(res)]
    if note := smoke_test_note(res):
        lines += ["", note]
    lines += ["", "The model-index above reports the macro average over languages on the benchmark's test split."
              if eval_results(res) else
              "No metrics in the model-index: it holds results on the benchmark's whole real test split only, and "
              f"this run {why_not_benchmark_test(res)}."]
    return "\n".join(lines) + "\n"
