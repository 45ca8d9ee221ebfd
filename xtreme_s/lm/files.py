"""Which LM serves which language (`--lm_path`), whether it fits the CTC vocabulary, and its checksum."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..text import PAD_TOKEN, UNK_TOKEN, WORD_DELIMITER
from .arpa import ArpaInfo, LMFileError, read_arpa

# File names tried in a --lm_path folder for language <lang>, in this order (`xtreme-s lm build` writes the first).
LM_SUFFIXES = (".arpa", ".arpa.gz")
# An LM "does not match" the tokenizer when more than this fraction of its words (word LMs) or tokens (character
# LMs) cannot be spelled with the CTC vocabulary. A few foreign names or symbols in a large corpus are normal and
# are simply left out of the lexicon (counted in results.json); more means the LM is for another alphabet, another
# normalisation (e.g. upper case, kept punctuation) or another language.
MAX_UNSPELLABLE = 0.02


@dataclass
class LanguageLM:
    """One language's LM: the file, its header and unigrams, its checksum."""

    language: str
    info: ArpaInfo
    sha256: str

    @property
    def path(self) -> Path:
        return self.info.path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lm_file_for(folder: Path, language: str) -> Path | None:
    for suffix in LM_SUFFIXES:
        path = folder / f"{language}{suffix}"
        if path.is_file():
            return path
    return None


def resolve_lm_files(lm_path: str, languages: Iterable[str]) -> dict[str, Path]:
    """Language -> its LM file: a file serves every language; a folder holds `<language>.arpa` per language.

    Raises LMFileError naming every language without one (before any data is read)."""
    path = Path(lm_path).expanduser()
    languages = list(languages)
    if path.is_file():
        return dict.fromkeys(languages, path)
    if not path.is_dir():
        raise LMFileError(f"--lm_path {lm_path} does not exist. Pass an ARPA file, or a folder of <language>.arpa "
                          "files (`xtreme-s lm build CONFIG --output_dir DIR` writes one).")
    found = {lang: lm_file_for(path, lang) for lang in languages}
    missing = [lang for lang, file in found.items() if file is None]
    if missing:
        present = sorted(p.name for p in path.iterdir() if p.name.endswith(LM_SUFFIXES))
        raise LMFileError(f"--lm_path {lm_path} has no LM for language(s) {', '.join(missing)} (expected "
                          f"{missing[0]}.arpa; the folder holds {', '.join(present[:8]) or 'no .arpa file'}). Build "
                          "them with `xtreme-s lm build`, or pass --lm_path FILE to use one LM for every language.")
    return {lang: file for lang, file in found.items() if file is not None}


def load_lms(lm_path: str, languages: Iterable[str]) -> dict[str, LanguageLM]:
    """Every language's LM read and checked as an ARPA file; one read per distinct file."""
    files = resolve_lm_files(lm_path, languages)
    read: dict[Path, tuple[ArpaInfo, str]] = {}
    out = {}
    for lang, file in files.items():
        if file not in read:
            read[file] = (read_arpa(file), sha256(file))
        info, digest = read[file]
        out[lang] = LanguageLM(lang, info, digest)
    return out


def ctc_alphabet(vocab: Iterable[str]) -> set[str]:
    """The characters a CTC vocabulary can emit: its tokens without the blank/pad, unknown and word delimiter."""
    return set(vocab) - {PAD_TOKEN, UNK_TOKEN, WORD_DELIMITER}


def spell(word: str, upper: bool) -> str:
    """A word as the tokenizer spells it (a `do_lower_case` tokenizer keeps an upper-case vocabulary)."""
    return word.upper() if upper else word


def check_vocabulary(lm: LanguageLM, alphabet: set[str], unit: str, upper: bool = False) -> dict:
    """Whether `lm` fits the CTC alphabet; returns the counts for results.json, raises LMFileError where not.

    Word LMs (lexicon decoding): a word fits when every character is in the alphabet; words that do not are left
    out of the lexicon. Character LMs (lexicon-free): every token must be one CTC token (or the word delimiter)."""
    words = lm.info.words
    where = f"LM {lm.path} (language {lm.language})"
    if not words:
        raise LMFileError(f"{where} has no words. Rebuild it from more text.")
    if unit == "char":
        bad = [w for w in words if w != WORD_DELIMITER and spell(w, upper) not in alphabet]
        looks_word = sum(len(w) > 1 for w in words) > len(words) / 2
        hint = (" It looks like a word LM: decode it with --lm_decoding lexicon, or build a character LM with "
                "`xtreme-s lm build ... --unit char`." if looks_word else "")
    else:
        bad = [w for w in words if any(c not in alphabet for c in spell(w, upper))]
        looks_char = WORD_DELIMITER in words and all(len(w) == 1 for w in words)
        hint = " It looks like a character LM: decode it with --lm_decoding lexicon_free." if looks_char else ""
    if len(bad) > MAX_UNSPELLABLE * len(words) or hint:
        hint = hint or (" Build the LM from text normalised as the CTC labels are (`xtreme-s lm build`, with the "
                        "run's --text_normalization/--chars_to_ignore), for this language.")
        kind = "tokens" if unit == "char" else "words"
        raise LMFileError(f"{where} does not match the model's CTC vocabulary: {len(bad)} of {len(words)} {kind} "
                          f"use characters it lacks (e.g. {', '.join(repr(w) for w in bad[:5])}).{hint}")
    return {"words": len(words), "left_out_unspellable": len(bad)}
