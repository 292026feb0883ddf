"""Loaders for every format on small fixtures written here, including malformed lines."""

from __future__ import annotations

import numpy as np
import pytest

from chord.data import DataFormatError, detect_format, load_dataset, read_file


def seqs(ds):
    return [s.tolist() for s in ds.sequences]


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_sasrec_pairs_keep_order_and_group_users(tmp_path):
    p = write(tmp_path, "pairs.txt", "1 5\n1 3\n2 7\n1 9\n2 1\n")
    assert detect_format(p) == "sasrec"
    ds = load_dataset(p)
    assert (ds.num_users, ds.num_items, ds.num_interactions) == (2, 9, 5)
    assert seqs(ds) == [[5, 3, 9], [7, 1]]  # within-user file order kept (stable)
    assert ds.user_ids.tolist() == [1, 2]


def test_s3rec_lines(tmp_path):
    p = write(tmp_path, "s3.txt", "2 4 5 6\n1 1 2 3 4\n")
    assert detect_format(p) == "s3rec"
    ds = load_dataset(p)
    assert seqs(ds) == [[1, 2, 3, 4], [4, 5, 6]]
    assert ds.num_items == 6 and ds.user_ids.tolist() == [1, 2]


def test_atomic_inter_stable_sort_by_user_then_time(tmp_path):
    text = (
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "2\t10\t3\t50\n1\t7\t4\t30\n1\t8\t4\t10\n1\t9\t5\t30\n2\t11\t1\t40\n"
    )
    p = write(tmp_path, "x.inter", text)
    ds = read_file(p)
    # user 1: t=10 (8), then the two t=30 rows in file order (7, 9)
    assert seqs(ds) == [[8, 7, 9], [11, 10]]
    assert ds.num_items == 11


def test_atomic_string_tokens_are_remapped(tmp_path):
    text = "user_id:token\titem_id:token\ttimestamp:float\nu1\tb\t2\nu1\ta\t1\nu2\tb\t1\n"
    ds = read_file(write(tmp_path, "s.inter", text))
    assert ds.num_items == 2 and seqs(ds) == [[1, 2], [2]]


def test_movielens_ratings_dat(tmp_path):
    p = write(tmp_path, "ratings.dat", "1::20::5::300\n1::10::3::100\n2::20::4::5\n")
    assert detect_format(p) == "movielens"
    ds = read_file(p)
    assert seqs(ds) == [[10, 20], [20]]


@pytest.mark.parametrize(
    "name,text,fmt,line,reason",
    [
        ("a.txt", "1 2\n1 x\n", "sasrec", 2, "item"),
        ("b.txt", "1 2\n1 2 3\n", "sasrec", 2, "expected 2 fields"),
        ("c.txt", "1 2\n1 0\n", "sasrec", 2, "0 is padding"),
        ("d.txt", "1 2 3\n2\n", "s3rec", 2, "at least one item"),
        ("e.txt", "1 2 3\n2 4 abc\n", "s3rec", 2, "'abc'"),
        ("f.txt", "1 2 3\n1 4 5\n", "s3rec", 2, "more than one line"),
        ("g.inter", "user_id:token\titem_id:token\n1\t2\n3\n", "atomic", 3, "2 tab-separated"),
        ("h.inter", "user\titem\n1\t2\n", "atomic", 1, "header"),
        ("i.inter", "user_id:token\titem_id:token\ttimestamp:float\n1\t2\tnoon\n", "atomic", 2, "timestamp"),
        ("ratings.dat", "1::2::3::4\n1::2::3\n", "movielens", 2, "4 '::'"),
    ],
)
def test_malformed_lines_name_file_line_and_reason(tmp_path, name, text, fmt, line, reason):
    p = write(tmp_path, name, text)
    with pytest.raises(DataFormatError) as e:
        read_file(p, fmt)
    assert e.value.line_no == line and reason in str(e.value) and str(p) in str(e.value)


def test_unknown_name_and_missing_dataset(tmp_path):
    with pytest.raises(ValueError, match="name_or_path"):
        load_dataset("no-such-dataset", tmp_path)
    with pytest.raises(FileNotFoundError, match="Beauty.txt"):
        load_dataset("beauty", tmp_path)


def test_directory_path_with_one_file(tmp_path):
    (tmp_path / "mine").mkdir()
    write(tmp_path / "mine", "data.txt", "1 1 2 3\n")
    ds = load_dataset(tmp_path / "mine")
    assert ds.name == "mine" and seqs(ds) == [[1, 2, 3]]


def test_head_slice_keeps_ids():
    from chord.data import SequenceDataset

    ds = SequenceDataset("t", 9, np.array([1, 2, 3, 4, 5]), np.array([0, 2, 5]))
    h = ds.head(1)
    assert h.num_users == 1 and h.num_items == 9 and seqs(h) == [[1, 2]]
