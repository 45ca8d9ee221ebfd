"""Start-up checks that need no data: the model can be loaded, the Hub can be reached where it is needed, and the
shortest clip the encoder accepts. They run before data loading, so a mistake costs seconds, not a data pass.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import EnvironmentProblem, UsageError

logger = logging.getLogger("xtreme_s")


def _offline() -> bool:
    from huggingface_hub.constants import is_offline_mode

    return is_offline_mode()


def check_model_source(name: str, flag: str, revision: str | None = None, cache_dir: str | None = None,
                       token: Any = None) -> None:
    """`name` is a local model folder, a Hub model in the cache, or (online) a model the Hub has.

    Without this, an offline run with an uncached Hub id retries for most of a minute, loads the data, and then
    reports a misleading "local directory with the same name" error from transformers."""
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise UsageError(f"{flag} {name}: this folder holds no config.json, so it is not a model checkpoint. "
                             "Point it at a model folder (one with config.json) or at a Hub model id.")
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
    if _offline():
        raise EnvironmentProblem(f"{flag} {name} is not a local folder and is not in the Hub cache"
                                 f"{f' ({cache_dir})' if cache_dir else ''}, and the Hub is offline (HF_HUB_OFFLINE). "
                                 "Download it once while online (it is then cached), or pass a local model folder.")
    try:
        HfApi(token=token).model_info(name, revision=revision, timeout=15)
    except RepositoryNotFoundError:
        raise UsageError(f"{flag} {name}: no such model on the Hub (or it is private: log in with `hf auth login` "
                         "or pass --hub_token). Check the name.") from None
    except RevisionNotFoundError:
        raise UsageError(f"{flag} {name}: the Hub has no revision {revision!r}. Check --model_revision.") from None
    except Exception as err:  # network: DNS, proxy, timeout
        raise EnvironmentProblem(f"{flag} {name}: cannot reach the Hub ({type(err).__name__}: {err}) and the model "
                                 "is not cached. Check the network, or pass a local model folder (set HF_HUB_OFFLINE=1 "
                                 "to use only the cache).") from None


def check_push_to_hub(training_args: Any) -> None:
    """`--push_to_hub` needs the Hub at the end of the run: find out at start-up, not after training."""
    if not getattr(training_args, "push_to_hub", False):
        return
    if _offline():
        raise EnvironmentProblem("--push_to_hub needs the Hub, but it is offline (HF_HUB_OFFLINE). Unset "
                                 "HF_HUB_OFFLINE, or drop --push_to_hub (push the output directory later with "
                                 "`hf upload`).")
    from huggingface_hub import HfApi

    try:
        HfApi(token=training_args.hub_token).whoami()
    except Exception as err:
        raise EnvironmentProblem(f"--push_to_hub: cannot log in to the Hub ({type(err).__name__}: {err}). Log in "
                                 "with `hf auth login` or pass --hub_token, or drop --push_to_hub.") from None


def check_models(model_args: Any, training_args: Any, family: str, family_args: Any = None) -> None:
    """Every model the run will load, before any data is read (`family_args`: the family's own flags)."""
    hub = dict(revision=model_args.model_revision, cache_dir=model_args.cache_dir, token=training_args.hub_token)
    check_model_source(model_args.model_name_or_path, "--model_name_or_path", **hub)
    if family == "seq2seq" and training_args.do_train and not _is_encoder_decoder(model_args):
        if family_args is None:
            from .families.seq2seq import Seq2SeqArguments

            family_args = Seq2SeqArguments()
        check_model_source(family_args.decoder_name_or_path, "--decoder_name_or_path", None, model_args.cache_dir,
                           training_args.hub_token)
    check_push_to_hub(training_args)


def _is_encoder_decoder(model_args: Any) -> bool:
    config = _config_dict(model_args)
    return bool(config.get("is_encoder_decoder")) or config.get("model_type") == "speech-encoder-decoder"


def _config_dict(model_args: Any) -> dict:
    from transformers.utils import cached_file

    path = cached_file(model_args.model_name_or_path, "config.json", cache_dir=model_args.cache_dir,
                       revision=model_args.model_revision, _raise_exceptions_for_missing_entries=False)
    return json.loads(Path(path).read_text(encoding="utf-8")) if path else {}


@dataclass(frozen=True)
class InputLimits:
    """The shortest input the encoder accepts, in samples at its sampling rate (0 where it has no such limit)."""

    min_samples: int
    sampling_rate: int

    @property
    def min_seconds(self) -> float:
        return self.min_samples / self.sampling_rate if self.sampling_rate else 0.0

    def describe(self) -> str:
        return f"{self.min_samples} samples = {1000 * self.min_seconds:g} ms"


def min_input_samples(conv_kernel: Any, conv_stride: Any) -> int:
    """The fewest samples for which the convolutional feature encoder emits one frame.

    The model computes output lengths as L -> (L - kernel) // stride + 1 per layer
    (`_get_feat_extract_output_lengths`); inverting it from one output frame gives the receptive field:
    400 samples (25 ms at 16 kHz) for wav2vec2 / XLS-R."""
    need = 1
    for k, s in reversed(list(zip(conv_kernel, conv_stride, strict=True))):
        need = (need - 1) * s + k
    return need


def input_limits(model_args: Any) -> InputLimits:
    """From the checkpoint's config and feature extractor (files only, no weights)."""
    config = _config_dict(model_args)
    encoder = config.get("encoder", config)  # a speech encoder-decoder keeps the encoder's config inside
    from transformers.utils import cached_file

    rate = 16_000
    fe = cached_file(model_args.model_name_or_path, "preprocessor_config.json", cache_dir=model_args.cache_dir,
                     revision=model_args.model_revision, _raise_exceptions_for_missing_entries=False)
    if fe:
        rate = int(json.loads(Path(fe).read_text(encoding="utf-8")).get("sampling_rate", rate))
    if "conv_kernel" in encoder and "conv_stride" in encoder:
        return InputLimits(min_input_samples(encoder["conv_kernel"], encoder["conv_stride"]), rate)
    if fe and encoder.get("model_type"):  # fbank/mel encoders (w2v-BERT): ask the model and its extractor
        from . import encoders

        return InputLimits(encoders.min_input_samples(model_args.model_name_or_path, cache_dir=model_args.cache_dir,
                                                      revision=model_args.model_revision), rate)
    return InputLimits(0, rate)
