#!/usr/bin/env python
"""Fine-tune and evaluate a speech encoder on one XTREME-S task.

    python run_xtreme_s.py --model_name_or_path=facebook/wav2vec2-xls-r-300m \
        --dataset_config_name=mls.all --output_dir=out --do_train --do_eval --do_predict
    python run_xtreme_s.py task_configs/mls.yaml --output_dir=out          # a recipe, with overrides
    python run_xtreme_s.py --mini --dataset_config_name=fleurs.all ...     # offline, bundled mini benchmark

Everything lives in the `xtreme_s` package; see README.md for the flags.
"""

from xtreme_s.cli import run_script_main

if __name__ == "__main__":
    run_script_main()
