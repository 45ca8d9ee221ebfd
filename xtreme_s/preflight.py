"""Start-up checks that need no data: the model can be loaded and the Hub can be reached where it is needed (the
shortest clip the encoder accepts is `xtreme_s.encoders.input_limits`). They run before data loading, so a
mistake costs seconds, not a data pass.
"""

from __future__ import annotations

import json
import logging
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
