"""ARPA n-gram files: build one from normalised sentences, read one's header and unigrams.

Building uses kaldingram (a pure-Python port of Kaldi's `make_kn_lm.py`: back-off, unmodified Kneser-Ney, the
same model as SRILM `ngram-count -ukndiscount -kn-modify-counts-at-end`), so `make install` needs no compiler and
no KenLM: the `kenlm` package on PyPI is an sdist that builds the query module only (its setup.py leaves out every
`*main.cc`, so `lmplz` is not in it). KenLM's `lmplz` uses modified Kneser-Ney (three discounts): close, not the
same; an ARPA it writes is read here as any other. Reading is hand-written because no installed library exposes an
ARPA file's vocabulary (flashlight's KenLM wrapper does not); it reads the header and the unigram section only.
"""

from __future__ import annotations

import functools
import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..text import WORD_DELIMITER

# Symbols of the LM that are not words of the language.
SPECIAL_WORDS = frozenset({"<s>", "</s>", "<unk>"})
UNITS = ("word", "char")
_NGRAM_COUNT = re.compile(r"^ngram\s+(\d+)\s*=\s*(\d+)$")
KENLM_BINARY_MAGIC = b"mmap lm "
# The KenLM inside the ufal.flashlight-text wheels is compiled with KenLM's default KENLM_MAX_ORDER (6): it refuses
# a 7-gram or longer model ("KenLM was compiled to support up to 6"), and a unigram model ("assumes at least a
# bigram model"), so neither is built nor accepted here.
MIN_ORDER, MAX_ORDER = 2, 6
DISCOUNT_FALLBACK = 0.5


class LMFileError(UsageError):
    """An LM file that is missing, unreadable, corrupt or does not fit the model."""


@dataclass(frozen=True)
class ArpaInfo:
    """What the decoder needs to know of an ARPA file before KenLM loads it."""

    path: Path
    order: int
    counts: tuple[int, ...]  # n-grams per order
    words: tuple[str, ...]  # the unigrams, special symbols excluded, in file order


def char_sentence(text: str) -> str:
    """A normalised transcript as a character LM sentence: one token per character, the word delimiter between
    words (as CTC labels spell it), e.g. "the cat" -> "t h e | c a t"."""
    return " ".join(WORD_DELIMITER if ch == " " else ch for ch in text)


def build_arpa(sentences: Iterable[str], order: int, path: Path, unit: str = "word") -> int:
    """Write a Kneser-Ney ARPA model of `sentences` (already normalised) to `path`; return the sentences used.

    `unit="char"` models characters (`char_sentence`) for lexicon-free decoding. Empty sentences are left out."""
    from kaldingram import train
    from tqdm import tqdm

    # kaldingram draws a progress bar on stderr for each stage and order (hundreds of lines for one small LM);
    # its functions look `tqdm` up in their module, and the TQDM_DISABLE variable is read when tqdm is imported.
    train.tqdm = functools.partial(tqdm, disable=True)
    NgramCounts = train.NgramCounts

    if unit not in UNITS:
        raise UsageError(f"LM unit must be one of {', '.join(UNITS)}, not {unit!r}.")
    if not MIN_ORDER <= order <= MAX_ORDER:
        raise UsageError(f"--order must be from {MIN_ORDER} to {MAX_ORDER} (the n-gram orders the decoder's KenLM "
                         f"reads), not {order}.")
    counts = NgramCounts(order)
    used = 0
    for text in sentences:
        text = " ".join(text.split())
        if not text:
            continue
        counts.add_raw_counts_from_line(char_sentence(text) if unit == "char" else text)
        used += 1
    if not used:
        raise UsageError(f"No non-empty sentence to build {path.name} from.")
    counts.cal_discounting_constants()
    # D = n1 / (n1 + 2 n2) is 1 for an order whose n-grams all occur once (a small corpus, a high order): every seen
    # n-gram would then get probability 0 (written -99) and the decoder would treat what the text says as impossible.
    # KenLM's lmplz refuses such data unless given --discount_fallback (0.5 for singletons); we do the same.
    counts.d = [d if d < 1 else DISCOUNT_FALLBACK for d in counts.d]
    counts.cal_f()
    counts.cal_bow()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        counts.print_as_arpa(fout=f)
    tmp.replace(path)
    return used


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_arpa(path: Path) -> ArpaInfo:
    """The header and unigrams of an ARPA file (plain or .gz); LMFileError where it is not one.

    Read once per process while the file is unchanged: the start-up check and the decoder's set-up both ask."""
    if not path.is_file():
        raise LMFileError(f"LM file {path} does not exist. Build one with `xtreme-s lm build CONFIG --output_dir DIR` "
                          "or fix --lm_path.")
    stat = path.stat()
    return _read_arpa(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _read_arpa(path: Path, _mtime_ns: int, _size: int) -> ArpaInfo:
    where = f"LM file {path}"
    with open(path, "rb") as f:
        head = f.read(len(KENLM_BINARY_MAGIC))
    if head == KENLM_BINARY_MAGIC:
        raise LMFileError(f"{where} is a KenLM binary file; decoding reads ARPA files (the vocabulary is needed for "
                          "the lexicon and the alphabet check). Pass the ARPA file it was built from.")
    counts: dict[int, int] = {}
    words: list[str] = []
    try:
        with _open_text(path) as f:
            lines = (line.strip() for line in f)
            first = next((line for line in lines if line), "")
            if first != "\\data\\":
                raise LMFileError(f"{where} is not an ARPA file (its first line is {first[:40]!r}, not \\data\\). "
                                  "Rebuild it with `xtreme-s lm build` or pass another --lm_path.")
            for line in lines:
                if not line:
                    continue
                m = _NGRAM_COUNT.match(line)
                if not m:
                    break
                counts[int(m.group(1))] = int(m.group(2))
            if not counts or line != "\\1-grams:":
                raise LMFileError(f"{where} is corrupt: its header has no 'ngram N=count' lines followed by "
                                  "\\1-grams:. Rebuild it.")
            for line in lines:
                if not line:
                    continue
                if line.startswith("\\"):
                    break
                fields = line.split()
                if len(fields) < 2:
                    raise LMFileError(f"{where} is corrupt: unigram line {line[:60]!r} has no word. Rebuild it.")
                words.append(fields[1])
    except UnicodeDecodeError as err:
        raise LMFileError(f"{where} is not UTF-8 text ({err.reason} at byte {err.start}). Pass an ARPA file.") \
            from err
    except (OSError, EOFError) as err:
        raise LMFileError(f"{where} cannot be read ({err}). Rebuild it or fix --lm_path.") from err
    if len(words) != counts.get(1):
        raise LMFileError(f"{where} is corrupt or truncated: its header promises {counts.get(1)} unigrams, the file "
                          f"has {len(words)}. Rebuild it.")
    order = max(counts)
    if not MIN_ORDER <= order <= MAX_ORDER:
        raise LMFileError(f"{where} is a {order}-gram model; the decoder's KenLM reads {MIN_ORDER}- to "
                          f"{MAX_ORDER}-grams. Rebuild it with --order {MIN_ORDER} to {MAX_ORDER}.")
    return ArpaInfo(path, order, tuple(counts.get(n, 0) for n in range(1, order + 1)),
                    tuple(w for w in words if w not in SPECIAL_WORDS))
