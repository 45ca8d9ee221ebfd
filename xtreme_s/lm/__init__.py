"""n-gram language models for CTC speech recognition: build ARPA files, check them, beam-search decode with them.

Base layer (imports only errors and text): the CTC family (xtreme_s.families.ctc) and `xtreme-s lm build`
(xtreme_s.lm_build) use it. Nothing here imports torch, so decoding worker processes start fast.

- `arpa`: build an ARPA file (kaldingram, pure Python Kneser-Ney) and read one's header and unigrams.
- `files`: which LM file serves which language (`--lm_path` file or folder), checks and checksums.
- `decoder`: the flashlight lexicon / lexicon-free CTC beam search with KenLM (ufal.flashlight-text wheels),
  in parallel over CPU cores.
- `cache`: the evaluated splits' log-probabilities, kept so re-decoding costs decoding only.
- `tune`: the LM weight and word score searched on validation.
"""
