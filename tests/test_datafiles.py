"""Data file readers: exact round trips, chunking, and one precise message per refusal."""

from __future__ import annotations

import io
import math
import pickle
from pathlib import Path
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sinefit.errors import InputError
from sinefit.io import datafiles
from sinefit.io.datafiles import (
    FORMATS,
    DataFileError,
    count_rows,
    iter_chunks,
    parse_columns,
    read_points,
    require_distinct_x,
)

RNG = np.random.default_rng(20240607)
X = np.concatenate([[0.1, -0.0, 1e-300, -2.5e300, 1 / 3], RNG.normal(size=95) * 1e3])
Y = np.concatenate([[2.0, 5e-324, -1.0, 7.0, -1 / 7], RNG.normal(size=95)])


# --------------------------------------------------------------------------- helpers


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def write_csv(path: Path, columns: dict[str, np.ndarray], header: bool = True) -> Path:
    """Values written with repr, so they read back bit for bit."""
    lines = [",".join(columns)] if header else []
    lines += [",".join(repr(float(v)) for v in row) for row in zip(*columns.values())]
    return write_text(path, "\n".join(lines) + "\n")


def same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equality (tells -0.0 from 0.0), and float64."""
    return a.dtype == np.float64 and a.shape == b.shape and a.tobytes() == np.asarray(b, np.float64).tobytes()


def refusal(path: Path, columns=None, **kwargs) -> str:
    """The one-line message read_points (or iter_chunks with kwargs) refuses the file with."""
    with pytest.raises(DataFileError) as caught:
        if kwargs:
            list(iter_chunks(path, columns, **kwargs))
        else:
            read_points(path, columns)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message[len(f"{path}: ") :]


def outcome(path: Path, chunk_rows: int):
    """What reading a file gives: the bytes of x and y, or the message."""
    try:
        chunks = list(iter_chunks(path, chunk_rows=chunk_rows))
    except DataFileError as e:
        return "refused", str(e)
    assert all(0 < len(x) == len(y) <= chunk_rows for x, y in chunks)
    return "read", b"".join(x.tobytes() for x, _ in chunks), b"".join(y.tobytes() for _, y in chunks)


# --------------------------------------------------------------------------- parse_columns


def test_parse_columns_names_indexes_and_default():
    assert parse_columns(None) is None
    assert parse_columns("x,y") == ("x", "y")
    assert parse_columns(" time , volts ") == ("time", "volts")
    assert parse_columns("0,2") == (0, 2)
    assert parse_columns("t,1") == ("t", 1)


@pytest.mark.parametrize("text", ["", "x", "x,y,z", "x,", ",y", " , "])
def test_parse_columns_refuses_anything_but_two(text):
    with pytest.raises(InputError, match=r"^--columns: expected two columns"):
        parse_columns(text)


def test_parse_columns_refuses_negative_index():
    with pytest.raises(InputError, match=r"^--columns: column indexes count from 0 and cannot be negative"):
        parse_columns("-1,2")


# --------------------------------------------------------------------------- CSV round trips


def test_csv_with_header(tmp_path):
    x, y = read_points(write_csv(tmp_path / "p.csv", {"x": X, "y": Y}))
    assert same(x, X) and same(y, Y)


def test_csv_without_header(tmp_path):
    x, y = read_points(write_csv(tmp_path / "p.csv", {"a": X, "b": Y}, header=False))
    assert same(x, X) and same(y, Y)


def test_csv_txt_extension_is_csv(tmp_path):
    x, y = read_points(write_csv(tmp_path / "p.txt", {"x": X, "y": Y}))
    assert same(x, X) and same(y, Y)


def test_csv_columns_by_name_and_by_index(tmp_path):
    path = write_csv(tmp_path / "p.csv", {"time": Y, "volts": X, "other": Y + 1})
    x, y = read_points(path, ("volts", "time"))
    assert same(x, X) and same(y, Y)
    x, y = read_points(path, (1, 0))
    assert same(x, X) and same(y, Y)
    x, y = read_points(path, ("volts", 0))
    assert same(x, X) and same(y, Y)


def test_csv_headerless_columns_by_index(tmp_path):
    path = write_csv(tmp_path / "p.csv", {"a": Y, "b": Y, "c": X}, header=False)
    x, y = read_points(path, parse_columns("2,0"))
    assert same(x, X) and same(y, Y)


def test_csv_default_prefers_columns_named_x_and_y(tmp_path):
    """Any width: a header naming x and y wins, wherever those columns are."""
    x, y = read_points(write_csv(tmp_path / "wide.csv", {"t": Y + 1, "y": Y, "x": X}))
    assert same(x, X) and same(y, Y)
    x, y = read_points(write_csv(tmp_path / "swapped.csv", {"y": Y, "x": X}))
    assert same(x, X) and same(y, Y)


def test_csv_default_is_first_two_columns_without_x_and_y_names(tmp_path):
    x, y = read_points(write_csv(tmp_path / "p.csv", {"t": X, "v": Y, "w": Y + 1}))
    assert same(x, X) and same(y, Y)


def test_csv_tolerates_spaces_crlf_bom_quotes_and_no_final_newline(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b'\xef\xbb\xbf "x" ,y\r\n 1.5 ,\t-2\r\n"3",4e2\r\n5,  6')
    x, y = read_points(path)
    assert same(x, np.array([1.5, 3, 5])) and same(y, np.array([-2, 400, 6]))


def test_csv_header_detection_needs_every_cell_numeric(tmp_path):
    assert same(read_points(write_text(tmp_path / "a.csv", "1,2\n3,4\n"))[0], np.array([1.0, 3.0]))
    assert same(read_points(write_text(tmp_path / "b.csv", "1,y\n3,4\n"))[0], np.array([3.0]))


# --------------------------------------------------------------------------- CSV refusals


def test_csv_non_numeric_cell(tmp_path):
    path = write_text(tmp_path / "points.csv", "x,y\n1,2\n3,4\n5,6\n7,8\n9,10\n11,abc\n")
    assert refusal(path) == "line 7: column 'y': 'abc' is not a number"


def test_csv_non_numeric_cell_without_header_names_column_index(tmp_path):
    path = write_text(tmp_path / "points.csv", "1,2\n3x,4\n")
    assert refusal(path) == "line 2: column 0: '3x' is not a number"


def test_csv_empty_cell_is_not_a_number(tmp_path):
    assert refusal(write_text(tmp_path / "p.csv", "x,y\n1,2\n3,\n")) == "line 3: column 'y': '' is not a number"


def test_csv_undecodable_bytes_are_not_a_number(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b"x,y\n1,2\n\xff\xfe,3\n")
    assert refusal(path) == "line 3: column 'x': '\ufffd\ufffd' is not a number"


def test_csv_nan_refused(tmp_path):
    path = write_text(tmp_path / "points.csv", "x,y\n" + "1,2\n" * 7 + "nan,2\n")
    assert refusal(path) == "line 9: column 'x' is not finite (nan)"


def test_csv_inf_refused(tmp_path):
    path = write_text(tmp_path / "points.csv", "x,y\n1,2\n3,-inf\n")
    assert refusal(path) == "line 3: column 'y' is not finite (-inf)"


def test_csv_overflow_is_inf_and_refused(tmp_path):
    assert refusal(write_text(tmp_path / "p.csv", "1,2\n1e400,2\n")) == "line 2: column 0 is not finite (inf)"


def test_csv_too_many_fields(tmp_path):
    path = write_text(tmp_path / "points.csv", "x,y\n" + "1,2\n" * 10 + "1,2,3\n")
    assert refusal(path) == "line 12: expected 2 fields, got 3"


def test_csv_too_few_fields(tmp_path):
    path = write_text(tmp_path / "points.csv", "t,x,y\n1,2,3\n4,5\n")
    assert refusal(path) == "line 3: expected 3 fields, got 2"


def test_csv_single_column_refused(tmp_path):
    assert refusal(write_text(tmp_path / "p.csv", "1\n2\n")) == "line 1: expected at least 2 fields (x and y), got 1"


def test_csv_inner_blank_line_refused(tmp_path):
    path = write_text(tmp_path / "p.csv", "x,y\n1,2\n\n3,4\n")
    assert refusal(path) == "line 3: blank line (only a final newline may end the file)"


def test_csv_extra_blank_line_at_end_refused(tmp_path):
    path = write_text(tmp_path / "p.csv", "x,y\n1,2\r\n\r\n")
    assert refusal(path) == "line 3: blank line (only a final newline may end the file)"


def test_csv_whitespace_only_line_is_blank(tmp_path):
    path = write_text(tmp_path / "p.csv", "1,2\n \t\n")
    assert refusal(path) == "line 2: blank line (only a final newline may end the file)"


def test_csv_quoted_value_may_not_span_lines(tmp_path):
    path = write_text(tmp_path / "p.csv", 'x,y\n1,"2\n3",4\n')
    assert refusal(path) == "line 2: malformed line (unexpected end of data)"


def test_csv_empty_file(tmp_path):
    assert refusal(write_text(tmp_path / "points.csv", "")) == "no data rows"


def test_csv_header_only_file(tmp_path):
    assert refusal(write_text(tmp_path / "points.csv", "x,y\n")) == "no data rows"


def test_csv_empty_file_yields_no_chunks(tmp_path):
    assert list(iter_chunks(write_text(tmp_path / "p.csv", "x,y\n"))) == []


def test_csv_unknown_column_name(tmp_path):
    path = write_text(tmp_path / "points.csv", "x,y\n1,2\n")
    assert refusal(path, ("x", "z")) == "no column named 'z' (columns: x, y)"


def test_csv_column_index_out_of_range(tmp_path):
    path = write_text(tmp_path / "points.csv", "x,y\n1,2\n")
    assert refusal(path, (0, 2)) == "column index 2 is out of range (2 columns)"


def test_csv_column_name_without_header(tmp_path):
    path = write_text(tmp_path / "points.csv", "1,2\n")
    assert refusal(path, ("time", 1)) == "no header row, so columns are chosen by 0-based index, not by name 'time'"


def test_csv_ambiguous_column_name(tmp_path):
    path = write_text(tmp_path / "points.csv", "x,x,y\n1,2,3\n")
    assert refusal(path) == "column name 'x' is ambiguous (columns 0 and 1)"


def test_csv_long_cell_is_cut_short(tmp_path):
    path = write_text(tmp_path / "p.csv", "x,y\n1," + "a" * 500 + "\n")
    assert refusal(path) == "line 2: column 'y': '" + "a" * 40 + "...' is not a number"


# --------------------------------------------------------------------------- .npy


def test_npy_round_trip(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.column_stack([X, Y]))
    x, y = read_points(path)
    assert same(x, X) and same(y, Y)


def test_npy_columns_by_index_and_other_dtypes(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.column_stack([np.arange(100), np.arange(100) * 2, np.arange(100) * 3]).astype(np.int32))
    x, y = read_points(path, (2, 0))
    assert same(x, np.arange(100) * 3.0) and same(y, np.arange(100.0))
    small = np.column_stack([X[5:], Y[5:]]).astype(np.float32)  # X[:5] holds values beyond float32
    np.save(path, small)
    x, _ = read_points(path)
    assert same(x, small[:, 0].astype(np.float64))


def test_npy_wrong_shape(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.zeros((10, 3)))
    assert refusal(path) == "expected shape (n, 2), got (10, 3)"


def test_npy_one_dimensional_refused_even_with_columns(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.zeros(10))
    assert refusal(path, (0, 1)) == "expected a 2-D array (n, k), got shape (10,)"


def test_npy_columns_by_name_refused(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.zeros((10, 2)))
    assert refusal(path, ("x", "y")) == ".npy columns are chosen by 0-based index, not by name 'x'"


def test_npy_pickle_file_refused_unopened(tmp_path):
    path = tmp_path / "data.npy"
    path.write_bytes(pickle.dumps({"x": [1, 2]}))
    with mock.patch("pickle.loads", side_effect=AssertionError("unpickled")), mock.patch(
        "pickle.load", side_effect=AssertionError("unpickled")
    ):
        assert refusal(path) == "holds a Python pickle, not a .npy array (sinefit never unpickles)"


def test_npy_object_array_refused(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.array([[1, "a"], [2, "b"]], dtype=object), allow_pickle=True)
    assert refusal(path) == "holds Python objects (dtype object), which sinefit never unpickles"


def test_npy_complex_dtype_refused(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.zeros((3, 2), dtype=complex))
    assert refusal(path) == "dtype complex128 is not a real number type"


def test_npy_truncated_refused(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.zeros((100, 2)))
    path.write_bytes(path.read_bytes()[:-8])
    assert refusal(path).startswith("not a valid .npy file (")


def test_npy_garbage_and_empty_refused(tmp_path):
    assert refusal(write_text(tmp_path / "a.npy", "1,2\n")) == "is not a .npy array (no NumPy header)"
    assert refusal(write_text(tmp_path / "b.npy", "")) == "is empty, not a .npy array"


def test_npy_non_finite_names_row_and_column(tmp_path):
    path = tmp_path / "data.npy"
    data = np.ones((10, 2))
    data[3, 1] = np.inf
    np.save(path, data)
    assert refusal(path) == "row 4: column 1 is not finite (inf)"


def test_npy_no_rows(tmp_path):
    path = tmp_path / "data.npy"
    np.save(path, np.zeros((0, 2)))
    assert refusal(path) == "no data rows"


# --------------------------------------------------------------------------- .npz


def test_npz_round_trip(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, y=Y, x=X, other=np.zeros(3))
    x, y = read_points(path)
    assert same(x, X) and same(y, Y)


def test_npz_compressed_and_chosen_names(tmp_path):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, t=X, v=Y.astype(np.float32))
    x, y = read_points(path, ("t", "v"))
    assert same(x, X) and same(y, Y.astype(np.float32).astype(np.float64))


def test_npz_missing_array(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.arange(3.0), t=np.arange(3.0))
    assert refusal(path) == "missing array 'y' (arrays: x, t)"


def test_npz_length_mismatch(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.arange(10.0), y=np.arange(9.0))
    assert refusal(path) == "arrays 'x' and 'y' differ in length (10 and 9)"


def test_npz_non_finite(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.array([1, 2, 3, np.inf, 5]), y=np.arange(5.0))
    assert refusal(path) == "row 4: 'x' is not finite (inf)"


def test_npz_two_dimensional_array_refused(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros((3, 2)), y=np.zeros(3))
    assert refusal(path) == "array 'x' must be 1-D, got shape (3, 2)"


def test_npz_object_array_refused(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.array([1, None], dtype=object), y=np.zeros(2))
    assert refusal(path) == "array 'x' holds Python objects (dtype object), which sinefit never unpickles"


def test_npz_not_a_zip(tmp_path):
    assert refusal(write_text(tmp_path / "data.npz", "x,y\n")) == "not a valid .npz archive (File is not a zip file)"


def test_npz_indexes_refused(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros(2), y=np.zeros(2))
    assert refusal(path, (0, 1)) == ".npz arrays are chosen by name, not by index 0"


# --------------------------------------------------------------------------- Parquet


def test_parquet_round_trip(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"t": Y + 1, "y": Y, "x": X}), path, row_group_size=13)
    x, y = read_points(path)
    assert same(x, X) and same(y, Y)


def test_parquet_first_two_columns_by_default_and_choices(tmp_path):
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": X, "b": Y, "c": np.arange(100, dtype=np.int64)}), path)
    x, y = read_points(path)
    assert same(x, X) and same(y, Y)
    x, y = read_points(path, ("c", 1))
    assert same(x, np.arange(100.0)) and same(y, Y)


def test_parquet_null_refused(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "y": [1.0, None, 3.0]}), path)
    assert refusal(path) == "row 2: column 'y' is missing (null)"


def test_parquet_nan_refused(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"x": [1.0, math.nan], "y": [1.0, 2.0]}), path)
    assert refusal(path) == "row 2: column 'x' is not finite (nan)"


def test_parquet_text_column_refused(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"x": ["1", "2"], "y": [1.0, 2.0]}), path)
    assert refusal(path) == "column 'x' has type string, not a number type"


def test_parquet_unknown_column(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"x": [1.0], "y": [1.0]}), path)
    assert refusal(path, ("x", "z")) == "no column named 'z' (columns: x, y)"


def test_parquet_garbage_refused(tmp_path):
    assert refusal(write_text(tmp_path / "data.parquet", "x,y\n1,2\n")).startswith("not a valid Parquet file (")


# --------------------------------------------------------------------------- every format


def test_unsupported_extension(tmp_path):
    path = write_text(tmp_path / "data.xlsx", "")
    assert refusal(path) == "unsupported file type '.xlsx' (use .csv, .npy, .npz or .parquet)"
    assert FORMATS == (".csv", ".npy", ".npz", ".parquet")


@pytest.mark.parametrize("name", ["missing.csv", "missing.npy", "missing.npz", "missing.parquet"])
def test_missing_file(tmp_path, name):
    assert refusal(tmp_path / name) == "cannot read: No such file or directory"


def test_directory_without_data_files_is_refused(tmp_path):
    """A directory is a partitioned data set (tests/test_summary.py): one with no data files is refused."""
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "dir.csv" / "_SUCCESS").write_text("")
    assert refusal(tmp_path / "dir.csv") == "no data files (.parquet, .csv, .npy, .npz) found"


def test_all_formats_agree(tmp_path):
    write_csv(tmp_path / "d.csv", {"x": X, "y": Y})
    np.save(tmp_path / "d.npy", np.column_stack([X, Y]))
    np.savez(tmp_path / "d.npz", x=X, y=Y)
    pq.write_table(pa.table({"x": X, "y": Y}), tmp_path / "d.parquet")
    for suffix in FORMATS:
        x, y = read_points(tmp_path / f"d{suffix}")
        assert same(x, X) and same(y, Y), suffix
        assert x.flags.writeable and y.flags.writeable


def test_count_rows(tmp_path):
    write_csv(tmp_path / "d.csv", {"x": X, "y": Y})
    np.save(tmp_path / "d.npy", np.column_stack([X, Y]))
    np.savez(tmp_path / "d.npz", x=X, y=Y)
    pq.write_table(pa.table({"x": X, "y": Y}), tmp_path / "d.parquet")
    assert count_rows(tmp_path / "d.csv") is None
    assert [count_rows(tmp_path / f"d{s}") for s in (".npy", ".npz", ".parquet")] == [100, 100, 100]
    with pytest.raises(DataFileError, match="cannot read: No such file or directory"):
        count_rows(tmp_path / "missing.npy")


def test_require_distinct_x(tmp_path):
    require_distinct_x(np.array([0.0, 1.0, 2.0, 3.0]), 4, "points.csv")
    require_distinct_x(np.arange(200_000.0), 1001, "points.csv")
    with pytest.raises(DataFileError) as caught:
        require_distinct_x(np.array([1.0, 1.0, 2.0, -0.0, 0.0]), 4, "points.csv")
    assert str(caught.value) == "points.csv: 3 distinct x values, but a degree-3 polynomial needs at least 4"


# --------------------------------------------------------------------------- chunking


def chunk_files(tmp_path) -> list[Path]:
    write_csv(tmp_path / "c.csv", {"x": X, "y": Y})
    np.save(tmp_path / "c.npy", np.column_stack([X, Y]))
    np.savez_compressed(tmp_path / "c.npz", x=X, y=Y)
    pq.write_table(pa.table({"x": X, "y": Y}), tmp_path / "c.parquet", row_group_size=30)
    return [tmp_path / f"c{suffix}" for suffix in FORMATS]


def test_chunks_concatenate_to_read_points(tmp_path):
    for path in chunk_files(tmp_path):
        chunks = list(iter_chunks(path, chunk_rows=7))
        assert len(chunks) >= 100 // 7 and all(0 < len(x) == len(y) <= 7 for x, y in chunks), path
        whole = read_points(path)
        assert same(np.concatenate([x for x, _ in chunks]), whole[0]), path
        assert same(np.concatenate([y for _, y in chunks]), whole[1]), path


def test_chunk_rows_must_be_positive(tmp_path):
    with pytest.raises(ValueError):
        list(iter_chunks(write_csv(tmp_path / "c.csv", {"x": X, "y": Y}), chunk_rows=0))


def test_csv_error_in_a_later_chunk_names_its_line(tmp_path):
    lines = ["x,y"] + [f"{float(v)!r},{float(w)!r}" for v, w in zip(X, Y)]
    for bad, message in [("nan", "column 'x' is not finite (nan)"), ("abc", "column 'x': 'abc' is not a number")]:
        broken = lines.copy()
        broken[86] = f"{bad},1.0"  # physical line 87
        path = write_text(tmp_path / f"{bad}.csv", "\n".join(broken) + "\n")
        assert refusal(path, chunk_rows=7) == f"line 87: {message}"
    broken = lines.copy()
    broken[90] += ",3"
    path = write_text(tmp_path / "ragged.csv", "\n".join(broken))
    assert refusal(path, chunk_rows=7) == "line 91: expected 2 fields, got 3"


def test_csv_error_after_a_quoted_value_names_its_line(tmp_path):
    """A quote sends the reader down the exact path; line numbers still count from the top."""
    lines = ["x,y"] + [f"{float(v)!r},{float(w)!r}" for v, w in zip(X, Y)]
    lines[40] = '"1.0",2.0'
    lines[95] = "1.0,inf"
    path = write_text(tmp_path / "q.csv", "\n".join(lines))
    assert refusal(path, chunk_rows=7) == "line 96: column 'y' is not finite (inf)"


def test_array_formats_error_in_a_later_chunk_names_its_row(tmp_path):
    bad_x = X.copy()
    bad_x[79] = np.nan
    np.save(tmp_path / "e.npy", np.column_stack([bad_x, Y]))
    np.savez(tmp_path / "e.npz", x=bad_x, y=Y)
    pq.write_table(pa.table({"x": bad_x, "y": Y}), tmp_path / "e.parquet", row_group_size=30)
    assert refusal(tmp_path / "e.npy", chunk_rows=7) == "row 80: column 0 is not finite (nan)"
    assert refusal(tmp_path / "e.npz", chunk_rows=7) == "row 80: 'x' is not finite (nan)"
    assert refusal(tmp_path / "e.parquet", chunk_rows=7) == "row 80: column 'x' is not finite (nan)"


def test_chunks_before_an_error_are_yielded(tmp_path):
    """Streaming: the good chunks come out before the bad one is reached."""
    bad_x = X.copy()
    bad_x[79] = np.inf
    np.save(tmp_path / "e.npy", np.column_stack([bad_x, Y]))
    chunks = iter_chunks(tmp_path / "e.npy", chunk_rows=7)
    good = [next(chunks) for _ in range(79 // 7)]
    assert same(np.concatenate([x for x, _ in good]), X[:77])
    with pytest.raises(DataFileError, match="row 80:"):
        next(chunks)


# --------------------------------------------------------------------------- properties

CSV_PIECES = st.sampled_from(
    ["1", "2.5", "-3", "1e3", "nan", "inf", "x", "y", ",", ",", ",", "\n", "\n", "\r\n", "\r", " ", '"', "\t", "\ufeff"]
)


@settings(deadline=2000, max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=300))
def test_any_bytes_read_or_refused(tmp_path, data):
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    try:
        x, y = read_points(path)
    except DataFileError as e:
        assert "\n" not in str(e) and str(e).startswith(str(path))
    else:
        assert x.dtype == y.dtype == np.float64 and len(x) == len(y) > 0 and np.isfinite(x).all()


@settings(deadline=2000, max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200) | st.lists(CSV_PIECES, max_size=80).map("".join))
def test_any_text_read_or_refused(tmp_path, text):
    path = write_text(tmp_path / "fuzz.csv", text)
    try:
        x, y = read_points(path)
    except DataFileError as e:
        assert "\n" not in str(e) and str(e).startswith(str(path))
    else:
        assert x.dtype == y.dtype == np.float64 and len(x) == len(y) > 0 and np.isfinite(x).all()


CSV_CELLS = st.sampled_from(["1", "-2.5", " 3 ", "1e3", "nan", "-inf", "a", '"4"', ""])
CSV_ENDS = st.sampled_from(["\n", "\r\n", "\n\n", ",5\n"])


@settings(deadline=2000, max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    header=st.booleans(),
    rows=st.lists(st.tuples(CSV_CELLS, CSV_CELLS, CSV_ENDS), max_size=120),
    chunk_rows=st.sampled_from([1, 7, 1 << 20]),
)
def test_fast_path_agrees_with_exact_scan(tmp_path, header, rows, chunk_rows):
    """pyarrow's reader and the csv-module scan give the same arrays, or the same message (same line)."""
    text = ("x,y\n" if header else "") + "".join(f"{a},{b}{end}" for a, b, end in rows)
    path = write_text(tmp_path / "p.csv", text)
    fast = outcome(path, chunk_rows)
    with mock.patch.object(datafiles, "_pyarrow", lambda: None):
        exact = outcome(path, chunk_rows)
    assert fast == exact


@settings(deadline=2000, max_examples=300)
@given(cell=st.text(alphabet="0123456789.eE+-nNaAiIfFtTyY()_ \t", max_size=10))
def test_number_grammar_matches_pyarrow(cell):
    """What the exact scan calls a number is exactly what pyarrow parses, to the same value."""
    options = dict(
        read_options=pyarrow.csv.ReadOptions(column_names=["a"]),
        parse_options=pyarrow.csv.ParseOptions(quote_char=False, ignore_empty_lines=False),
        convert_options=pyarrow.csv.ConvertOptions(column_types={"a": pa.float64()}, null_values=[]),
    )
    try:
        theirs = pyarrow.csv.read_csv(io.BytesIO(cell.encode() + b"\n"), **options).column(0)[0].as_py()
    except pa.ArrowInvalid:
        theirs = None
    mine = datafiles._number(cell)
    assert (mine is None) == (theirs is None)
    if mine is not None:
        assert mine == theirs or (math.isnan(mine) and math.isnan(theirs))
