"""The README's troubleshooting table, generated from the bad-input matrix of test_hardening.py.

``SINEFIT_WRITE_README=1 pytest tests/test_hardening.py -k troubleshooting`` rewrites the table
between the markers in README.md from the messages sinefit prints now; without it, the test
checks that the README's table is current.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- troubleshooting: generated from tests/test_hardening.py -->", "<!-- troubleshooting: end -->"
WIDTH = 120  # characters of a message shown; longer ones end in "..."

# What a row does, for people, where the command line alone does not say it (files, long arguments).
DESCRIBE = {
    "samples-huge": "asking the per-sample engine (float32) for 10^12 points",
    "expr-import": "an expression that tries to import os and run a command",
    "expr-deep": "an expression nested 60 parentheses deep",
    "data-cell": "a CSV file with a word where a number belongs (line 3)",
    "data-ragged": "a CSV row with three fields under a two-column header",
    "data-empty": "an empty data file",
    "data-nan": "a CSV file with `nan` in it",
    "data-few-x": "a data file with 2 distinct x values for a cubic",
    "data-type": "a spreadsheet (.xlsx)",
    "data-pickle": "a Python pickle named .npy",
    "data-columns": "a column that the file does not have",
    "data-same-columns": "the same column given for x and y",
    "config-syntax": "a config file that is not TOML",
    "config-key": "a misspelt setting in a config file",
    "config-type": '`degree = "three"` in a config file',
    "config-nan": "`lr = nan` in a config file",
    "config-huge": "a 2 MB config file",
    "config-table": "a table where a setting belongs",
    "model-pickle": "a pickle passed as a model file",
    "model-truncated": "a truncated model.json",
    "model-nan": "a model.json with a NaN coefficient",
    "model-version": "a model.json from an unknown format version",
    "model-extra": "a model.json with an unknown key",
    "model-type": "a model.json whose degree is a string",
    "model-count": "a model.json with too few coefficients",
    "model-huge": "a 2 MB model.json",
    "predict-x": "a word where an x value belongs",
    "predict-input": "an --input CSV with a word on line 3",
    "model-missing": "a model file that does not exist",
    "output-exists": "`sinefit predict m.json --x 1 --output p.csv` where p.csv exists",
    "output-is-input": "`--output` naming the command's own `--input`",
    "output-suffix": "`--output m.json` for CSV content",
    "data-huge-x": "a 51-row CSV whose last x is 1e13 (x^3 is inf in float32)",
    "data-long-line": "a CSV line of 2 MB (10^6 fields)",
    "npy-claims": "an .npy header claiming shape (10, 10^12), with no data",
    "npz-bzip2": "an .npz whose members are bzip2-compressed",
}


def describe(name: str, args: list[str], files: dict) -> str:
    if name in DESCRIBE:
        return DESCRIBE[name]
    command = "`sinefit " + " ".join(args) + "`"
    return command.encode("utf-8", "backslashreplace").decode("utf-8")  # a non-UTF-8 file name, shown escaped


def row(name: str, args: list[str], files: dict, code: int, message: str) -> str:
    text = message.removeprefix("sinefit: error: ").encode("utf-8", "backslashreplace").decode("utf-8")
    text = text if len(text) <= WIDTH else text[: WIDTH - 3] + "..."
    text = text.replace("|", "\\|")
    return f"| {describe(name, args, files).replace('|', chr(92) + '|')} | {code} | {text} |"


def table(rows: list[str]) -> str:
    return "\n".join([START, "| what you did | exit | what sinefit says |", "|---|---|---|", *rows, END])


def current() -> str | None:
    text = README.read_text(encoding="utf-8")
    m = re.search(re.escape(START) + ".*?" + re.escape(END), text, re.S)
    return m.group(0) if m else None


def write(new: str) -> None:
    text = README.read_text(encoding="utf-8")
    old = current()
    if old is None:  # first time: replace the hand-made table that follows the matrix's sentence
        m = re.search(r"\| what you did \| exit \| what sinefit says \|\n(?:\|.*\|\n)+", text)
        assert m, "README.md: no troubleshooting table to replace"
        text = text[: m.start()] + new + "\n" + text[m.end():]
    else:
        text = text.replace(old, new)
    README.write_bytes(text.encode("utf-8"))  # encoded first: a failure never leaves README.md empty
