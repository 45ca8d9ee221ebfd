"""`xtreme-s embed` (xtreme_s/embed.py): pooled per-layer embeddings of a split, through the real entry point."""

from __future__ import annotations

import numpy as np
import pytest

from xtreme_s.cli import main


def test_embed_writes_pooled_layers_that_ignore_padding(tmp_path, hf_cache):
    """The same utterances embedded alone (batch 1) and in padded batches give the same vectors: pooling covers
    the frames that hold audio only."""
    common = ["embed", "--mini", "--dataset_config_name", "fleurs.all", "--max_predict_samples", "4",
              "--cache_dir", str(hf_cache), "--report_to", "none"]
    with pytest.raises(SystemExit) as done:
        main([*common, "--output_file", str(tmp_path / "b4.npz"), "--per_device_eval_batch_size", "4"])
    assert done.value.code == 0
    with pytest.raises(SystemExit):
        main([*common, "--output_file", str(tmp_path / "b1.npz"), "--per_device_eval_batch_size", "1"])
    batched, alone = np.load(tmp_path / "b4.npz"), np.load(tmp_path / "b1.npz")
    assert batched["embeddings"].shape == (4, 3, 64)  # tiny-xls-r: 2 layers + the input to the first, hidden 64
    assert len(set(batched["ids"].tolist())) == 4 and batched["labels"][0] and str(batched["split"]) == "test"
    assert (batched["ids"] == alone["ids"]).all()
    np.testing.assert_allclose(batched["embeddings"], alone["embeddings"], atol=1e-4)
