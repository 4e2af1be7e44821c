"""tinytorch.core.data: TensorDataset, DataLoader (every sample once per epoch, shuffling, seeds, drop_last, len),
load_idx on IDX files the tests write (plain and gzip) and its errors, and the digits split."""

import gzip
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.core.data import DataLoader, TensorDataset, load_digits_split, load_idx
from tinytorch.core.tensor import Tensor

BIG_ENDIAN = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def numbered(n: int) -> TensorDataset:
    """Sample i: features [i, -i] (float32) and label i, so a batch's labels say which samples it holds."""
    numbers = np.arange(n)
    return TensorDataset(np.stack([numbers, -numbers], axis=1).astype(np.float32), numbers)


def epoch_labels(loader: DataLoader) -> list[np.ndarray]:
    return [y.data for _, y in loader]


# --------------------------------------------------------------------------- TensorDataset


def test_tensor_dataset_indexes_every_array_alike():
    x, y, mask = np.arange(12.0).reshape(4, 3), np.array([7, 8, 9, 10]), np.array([True, False, True, False])
    dataset = TensorDataset(Tensor(x), y, mask)
    assert len(dataset) == 4
    features, label, flag = dataset[np.int64(-2)]
    np.testing.assert_array_equal(features, x[2].astype(np.float32))
    assert (label, flag) == (9, True)


@pytest.mark.parametrize("arrays", [(), (np.float32(1.0),), (np.zeros((3, 2)), np.zeros(4))])
def test_tensor_dataset_refuses_arrays_without_one_common_first_dimension(arrays):
    with pytest.raises(ValueError, match="first dimension"):
        TensorDataset(*arrays)


# --------------------------------------------------------------------------- DataLoader


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 60),
    batch_size=st.integers(1, 70),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_every_epoch_holds_each_sample_once_in_batches_the_counting_rule_predicts(
    n, batch_size, shuffle, drop_last, seed
):
    loader = DataLoader(numbered(n), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=seed)
    full, rest = divmod(n, batch_size)
    sizes = [batch_size] * full + ([rest] if rest and not drop_last else [])
    assert len(loader) == len(sizes)
    for _ in range(3):
        batches = list(loader)
        assert [x.shape for x, _ in batches] == [(size, 2) for size in sizes]
        labels = np.concatenate([np.zeros(0, np.int64)] + [y.data for _, y in batches])
        assert len(np.unique(labels)) == len(labels) == sum(sizes)
        if not drop_last:
            np.testing.assert_array_equal(np.sort(labels), np.arange(n))
        if not shuffle:
            np.testing.assert_array_equal(labels, np.arange(sum(sizes)))
        for x, y in batches:  # features travel with their labels
            np.testing.assert_array_equal(x.data[:, 0], y.data)


def test_batches_are_float32_features_and_int64_labels():
    x, y = next(iter(DataLoader(numbered(5), batch_size=3)))
    assert isinstance(x, Tensor) and x.dtype == np.float32 and x.shape == (3, 2)
    assert isinstance(y, Tensor) and y.dtype == np.int64 and y.shape == (3,)


def test_shuffle_draws_a_new_order_each_epoch_and_the_seed_repeats_the_sequence():
    orders = [np.concatenate(epoch_labels(loader)) for loader in [DataLoader(numbered(200), 32, True, seed=5)] * 3]
    again = [np.concatenate(epoch_labels(loader)) for loader in [DataLoader(numbered(200), 32, True, seed=5)] * 3]
    other = np.concatenate(epoch_labels(DataLoader(numbered(200), 32, True, seed=6)))
    # two equal orders of 200 samples have probability 1/200! each: none of these comparisons can fail by chance
    assert not np.array_equal(orders[0], np.arange(200))
    assert not np.array_equal(orders[0], orders[1]) and not np.array_equal(orders[1], orders[2])
    np.testing.assert_array_equal(np.stack(orders), np.stack(again))
    assert not np.array_equal(other, orders[0])


def test_without_a_seed_two_loaders_shuffle_differently():
    first, second = (np.concatenate(epoch_labels(DataLoader(numbered(200), 16, shuffle=True))) for _ in range(2))
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "8"])
def test_batch_size_must_be_a_positive_integer(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(numbered(4), batch_size=batch_size)


# --------------------------------------------------------------------------- load_idx


def idx_bytes(array: np.ndarray, type_code: int) -> bytes:
    """The IDX file of `array`, written from the format's definition."""
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(BIG_ENDIAN[type_code]).tobytes()


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize(
    ("type_code", "shape"),
    [(0x08, (6, 28, 28)), (0x09, (5,)), (0x0B, (2, 3)), (0x0C, (4, 1, 2)), (0x0D, (3, 3)), (0x0E, (2, 2, 2, 2))],
)
def test_load_idx_reads_back_what_was_written(tmp_path, type_code, shape, compressed):
    rng = np.random.default_rng(type_code)
    dtype = np.dtype(BIG_ENDIAN[type_code]).newbyteorder("=")
    if dtype.kind == "f":
        array = rng.standard_normal(shape).astype(dtype) * 1000
    else:
        info = np.iinfo(dtype)
        array = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    data = idx_bytes(array, type_code)
    path = tmp_path / "data.idx"  # no .gz suffix: the content says it is gzip
    path.write_bytes(gzip.compress(data) if compressed else data)
    got = load_idx(str(path))
    assert got.dtype == array.dtype and got.dtype.isnative and got.shape == shape
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(30), "not an IDX file"),
        (bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 0]), "not an IDX file"),
        (bytes([0, 0, 0x08, 3, 0, 0, 0, 2]), "takes 16 bytes, the file has 8"),
        (
            idx_bytes(np.zeros((2, 3), np.uint8), 0x08)[:-1],
            "(2, 3) values of 1 bytes, 6 bytes of data, but the file has 5",
        ),
        (idx_bytes(np.zeros(2, np.int32), 0x0C) + b"\0", "(2,) values of 4 bytes, 8 bytes of data, but the file has 9"),
        (b"", "not an IDX file"),
    ],
    ids=["png", "unknown type", "header cut short", "byte short", "byte too many", "empty"],
)
def test_load_idx_errors_name_the_file_and_the_numbers_that_disagree(tmp_path, data, words):
    path = tmp_path / "broken.idx"
    path.write_bytes(data)
    with pytest.raises(ValueError) as error:
        load_idx(path)
    assert "broken.idx" in str(error.value) and words in str(error.value)


# --------------------------------------------------------------------------- the digits


def test_digits_split_is_stratified_scaled_typed_and_reproducible():
    x_train, y_train, x_test, y_test = load_digits_split()
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert x_train.dtype == x_test.dtype == np.float32 and y_train.dtype == y_test.dtype == np.int64
    assert x_train.min() == 0.0 and x_train.max() == 1.0  # pixels 0..16, divided by 16
    # stratified: each class's share of the test part is its share of the whole, to within one sample
    whole = np.bincount(np.concatenate([y_train, y_test]), minlength=10)
    assert np.all(np.abs(np.bincount(y_test, minlength=10) - whole * 0.2) <= 1)
    np.testing.assert_array_equal(load_digits_split()[3], y_test)
    assert not np.array_equal(load_digits_split(seed=1)[3], y_test)
