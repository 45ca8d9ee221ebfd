"""The one reader of tab-separated manifests: local `<split>.tsv`, Common Voice / CoVoST-2 files, and the raw FLEURS
and VoxPopuli transcript TSVs. Strict, because a lenient reader silently turns a bad line into a different reference.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path

from ..errors import UserError


class ManifestError(UserError, ValueError):
    """A manifest line that cannot be read as the header says; the message names the file and line."""


def read_manifest(path: str | os.PathLike, escapechar: str | None = None, required: tuple[str, ...] = (),
                  columns: Sequence[str] | None = None) -> list[dict[str, str]]:
    """The one reader of tab-separated manifests (local `<split>.tsv`, Common Voice and CoVoST-2 files), strict.

    Fields are unquoted (as Common Voice writes them; `escapechar="\\"` for its backslash escapes), so a tab inside a
    quoted field would silently shift every later column: every row must have exactly the header's fields. A UTF-8
    BOM is dropped; bytes that are not UTF-8, a missing or empty header, a duplicate column or a missing `required`
    column stop with the file and line number. Blank lines are ignored. `columns` names the fields of a file
    without a header row (the raw FLEURS / VoxPopuli transcript TSVs)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            lines = list(enumerate(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE, escapechar=escapechar),
                                   start=1))
    except UnicodeDecodeError as err:
        with open(path, "rb") as f:
            line = f.read()[: err.start].count(b"\n") + 1
        raise ManifestError(f"{path}:{line}: not UTF-8 ({err.reason} at byte {err.start}). Save the manifest as "
                          "UTF-8.") from None
    except (OSError, csv.Error) as err:
        raise ManifestError(f"{path}: cannot read the manifest: {err}.") from None
    lines = [(n, row) for n, row in lines if row and any(cell.strip() for cell in row)]
    if not lines and columns is not None:
        return []
    if not lines:
        raise ManifestError(f"{path}: empty manifest; the first line must name the tab-separated columns.")
    if columns is not None:
        header, rows = list(columns), lines
    else:
        (_, first), rows = lines[0], lines[1:]
        header = [h.strip() for h in first]
    if len(set(header)) != len(header) or not all(header):
        raise ManifestError(f"{path}:1: empty or duplicate column names in the header {header}.")
    missing = [c for c in required if c not in header]
    if missing:
        raise ManifestError(f"{path}:1: needs the column(s) {', '.join(repr(c) for c in missing)} (found: "
                          f"{', '.join(header)}).")
    out = []
    for n, row in rows:
        if len(row) != len(header):
            raise ManifestError(f"{path}:{n}: {len(row)} tab-separated fields, the header has {len(header)} "
                              f"({', '.join(header)}). Fields are not quoted: a tab inside a field, a missing "
                              "field (e.g. an absent transcript) or a stray tab shifts the columns; fix the line.")
        out.append(dict(zip(header, row, strict=True)))
    return out


def read_text_file(path: str | os.PathLike, what: str) -> str:
    """A small text file (an id list): UTF-8 (a BOM is dropped) or UTF-16 with its BOM, as Windows editors save
    "Unicode" text; anything else is one ManifestError naming the file and line."""
    data = Path(path).read_bytes()  # small: read whole
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise ManifestError(f"{what} {path}:{line}: not UTF-8 ({err.reason} at byte {err.start}). Save it as UTF-8 "
                            "text, one id per line.") from None


def integer_cells(path: str | os.PathLike, rows: Sequence[dict[str, str]], column: str) -> list[int | None]:
    """A manifest column as integers (an empty cell is None); a cell that is not a number stops with its row."""
    out: list[int | None] = []
    for k, row in enumerate(rows):
        cell = row[column].strip()
        try:
            out.append(int(cell) if cell else None)
        except ValueError:
            raise ManifestError(f"{path}: row {k + 1}, column {column!r}: {cell!r} is not an integer. Fix the row "
                                "(or restore the file from its source).") from None
    return out
