"""Where models come from: one `ModelSource` (name, revision, cache, token) per repository or folder read, the
token kept out of what a run writes, the start-up check that a model can be reached at all, and the marker files
(JSON) by which our output directories say how they were made (read by the protocols and the probe heads).

Every `from_pretrained` and Hub file read of a run goes through a ModelSource, so no call site assembles
`cache_dir=..., token=...` by hand and the parts of one model (config, feature extractor, tokenizer, weights)
cannot come from different revisions. The run's `--hub_token` is not threaded through: `protect_token` moves it
into this process's `HF_TOKEN` at start-up, which huggingface_hub reads whenever a call passes no token.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import atomic
from .errors import EnvironmentProblem, UsageError


@dataclass(frozen=True)
class ModelSource:
    """A model repository (or local folder) and how to read it."""

    name: str
    revision: str | None = None  # None: the repository's default branch
    cache_dir: str | None = None
    token: str | None = None  # None: huggingface_hub's own (HF_TOKEN, where protect_token put --hub_token)

    @classmethod
    def of(cls, model_args: Any) -> ModelSource:
        """--model_name_or_path at --model_revision, cached in --cache_dir."""
        return cls(model_args.model_name_or_path, model_args.model_revision, model_args.cache_dir)

    def at(self, name: str, revision: str | None = None) -> ModelSource:
        """Another repository read the same way (same cache and token), at `revision` (default: its default
        branch; e.g. the CoVoST-2 decoder, which has no revision flag)."""
        if name == self.name and revision is None:
            return self
        return replace(self, name=name, revision=revision)

    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments of `from_pretrained` / `cached_file` for this source (name apart)."""
        out: dict[str, Any] = {"cache_dir": self.cache_dir}
        if self.revision is not None:
            out["revision"] = self.revision
        if self.token is not None:
            out["token"] = self.token
        return out

    def from_pretrained(self, cls: Any, **kwargs: Any) -> Any:
        """`cls.from_pretrained(name, ...)` with this source's revision, cache and token."""
        with expected_load_report(self.name):  # a fresh head's load report is one line saying it is expected
            return cls.from_pretrained(self.name, **{**self.kwargs(), **kwargs})

    def file(self, filename: str) -> str | None:
        """The local path of one file of the repository (downloaded if need be); None where it has none or it
        cannot be reached."""
        from transformers.utils import cached_file

        try:
            return cached_file(self.name, filename, _raise_exceptions_for_missing_entries=False,
                               _raise_exceptions_for_connection_errors=False, **self.kwargs())
        except (OSError, ValueError):
            return None


def protect_token(training_args: Any) -> None:
    """Keep `--hub_token` out of everything a run writes.

    The Trainer pickles its arguments whole into training_args.bin (`to_dict`/`__str__` redact `*_token`, the
    pickle does not). The token moves to this process's HF_TOKEN, which huggingface_hub reads whenever a call
    passes no token, so downloads and the upload still authenticate.
    """
    token = getattr(training_args, "hub_token", None)
    if token:
        os.environ["HF_TOKEN"] = token
        training_args.hub_token = None


def offline() -> bool:
    from huggingface_hub.constants import is_offline_mode

    return is_offline_mode()


def check_model_source(source: ModelSource, flag: str, speech: bool = False) -> None:
    """`source` is a local model folder, a Hub model in the cache, or (online) a model the Hub has. A local folder's
    config must name a model type this transformers knows, and (`speech`: the speech encoder) the folder must hold
    the feature extractor's settings, which the run reads only after the data.

    Without this, an offline run with an uncached Hub id retries for most of a minute, loads the data, and then
    reports a misleading "local directory with the same name" error from transformers."""
    name, revision, cache_dir = source.name, source.revision, source.cache_dir
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UsageError(f"{flag} {name}: this folder holds no config.json, so it is not a model checkpoint. "
                             "Point it at a model folder (one with config.json) or at a Hub model id.")
        check_model_folder(path, flag, speech)
        return
    from huggingface_hub import HfApi, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError, RevisionNotFoundError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        raise UsageError(f"{flag} {name}: no such folder, and not a valid Hub model id (owner/name). Check the "
                         "path.") from None
    if isinstance(try_to_load_from_cache(name, "config.json", cache_dir=cache_dir, revision=revision), str):
        return
    if offline():
        raise EnvironmentProblem(f"{flag} {name} is not a local folder and is not in the Hub cache"
                                 f"{f' ({cache_dir})' if cache_dir else ''}, and the Hub is offline (HF_HUB_OFFLINE). "
                                 "Download it once while online (it is then cached), or pass a local model folder.")
    try:
        HfApi(token=source.token).model_info(name, revision=revision, timeout=15)
    except RepositoryNotFoundError:
        raise UsageError(f"{flag} {name}: no such model on the Hub (or it is private: log in with `hf auth login` "
                         "or pass --hub_token). Check the name.") from None
    except RevisionNotFoundError:
        raise UsageError(f"{flag} {name}: the Hub has no revision {revision!r}. Check --model_revision.") from None
    except Exception as err:  # network: DNS, proxy, timeout
        raise EnvironmentProblem(f"{flag} {name}: cannot reach the Hub ({type(err).__name__}: {err}) and the model "
                                 "is not cached. Check the network, or pass a local model folder (set HF_HUB_OFFLINE=1 "
                                 "to use only the cache).") from None


# A feature extractor's settings: its own file, or (transformers 5 processors) inside the processor's.
FEATURE_EXTRACTOR_FILES = ("preprocessor_config.json", "processor_config.json")


def check_model_folder(path: Path, flag: str, speech: bool) -> None:
    """A local model folder's config.json parses and names a model type transformers knows; a speech encoder's
    folder holds its feature extractor's settings."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    try:
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UsageError(f"{flag} {path}: config.json cannot be read as JSON ({' '.join(str(err).split())}).") from None
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if model_type not in CONFIG_MAPPING_NAMES:
        import transformers

        raise UsageError(f"{flag} {path}: config.json names model_type {model_type!r}, which transformers "
                         f"{transformers.__version__} does not know. Check the folder (a model saved by a newer "
                         "transformers needs that version), or pick another model.")
    if speech and not any((path / name).is_file() for name in FEATURE_EXTRACTOR_FILES):
        raise UsageError(f"{flag} {path}: the folder holds no feature extractor settings "
                         f"({' or '.join(FEATURE_EXTRACTOR_FILES)}), so its audio input cannot be prepared. Copy "
                         "preprocessor_config.json from the model it was trained from (e.g. the Hub model's).")


def read_marker(source: ModelSource, marker: str) -> dict[str, Any] | None:
    """A marker file (JSON) of one of our output directories, or of its Hub copy, saying how it was made (a
    protocol's, a probe head's); None where there is none."""
    found = source.file(marker)
    if not found:
        return None
    try:
        content = json.loads(Path(found).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise UsageError(f"{source.name}: {marker} is unreadable or not JSON ({err}); the output directory is "
                         "damaged. Restore the file from the run, or point --model_name_or_path elsewhere.") from None
    if not isinstance(content, dict):
        raise UsageError(f"{source.name}: {marker} holds no JSON object; the output directory is damaged.")
    return content


def write_marker(output_dir: Path, marker: str, content: dict[str, Any]) -> None:
    """A marker file: what an evaluation-only run of the directory needs to rebuild the model."""
    atomic.write_text(Path(output_dir) / marker, json.dumps(content, indent=1) + "\n")


class _LoadReportFilter(logging.Filter):
    """Holds back transformers' load-report table and its tied-weights note: a fresh head on a pretrained encoder
    always has newly initialised weights (and pretraining-only weights left unused), which is expected."""

    MARKERS = (" LOAD REPORT", "This checkpoint seem corrupted")

    def __init__(self) -> None:
        super().__init__()
        self.held: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(marker in message for marker in self.MARKERS) and "MISMATCH" not in message:
            self.held.append(message)
            return False
        return True  # a shape mismatch is not expected: transformers' warning stays


@contextlib.contextmanager
def expected_load_report(source: str) -> Iterator[None]:
    """Loading a pretrained model under a new head: transformers' load report (a table of every new and unused
    weight, and for an encoder-decoder "This checkpoint seem corrupted" about weights it ties itself) becomes one
    line saying it is expected; the full report stays at debug level."""
    target = logging.getLogger("transformers.modeling_utils")
    held = _LoadReportFilter()
    target.addFilter(held)
    try:
        yield
    finally:
        target.removeFilter(held)
    if held.held:
        log = logging.getLogger("xtreme_s")
        log.info("Loaded %s: new head weights initialised and pretraining-only weights unused, as expected for a "
                 "fresh head (transformers' load report at debug level).", source)
        for message in held.held:
            log.debug("%s", message)

