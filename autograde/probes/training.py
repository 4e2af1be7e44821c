"""Probes for module 07 (TensorDataset, DataLoader and load_idx of tinytorch.core.data; train_epoch, evaluate and
check_parameters_update of tinytorch.core.training). Runs inside the sandbox: imports only numpy, the stdlib and the
student's package. Outputs are recorded by kind (probes/protocol.py).

The loop's probes feed plain lists of batches and their own optimizer (`_InPlaceSGD`), so that a check of
train_epoch, evaluate or check_parameters_update depends on no other component of this module nor on module 06.
Properties of shuffled orders are recorded as flags (every sample once, a new order each epoch, the same with the
same seed); check_parameters_update's names, which students may phrase their own way, are raw text judged by the
pack (they must identify the frozen tensors by path or shape).
"""

import contextlib
import gzip
import os
import struct
import tempfile
from pathlib import Path

import numpy as np

from tinytorch.core.activations import Module, ReLU
from tinytorch.core.autograd import GradMode
from tinytorch.core.data import DataLoader, TensorDataset, load_idx
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import check_parameters_update, evaluate, train_epoch

from .common import Arrays, Outputs, arr, linear_from
from .protocol import ERROR, FLAG, TEXT, key

IDX_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}  # dtype (no order) -> type code
IDX_CASES = ("images", "labels", "values")  # fixture arrays of idx_roundtrip
IDX_TYPE_CASES = (("u1", (3, 2, 2, 2)), ("i1", (7,)), ("i2", (2, 5)), ("i4", (4, 1, 3)), ("f4", (3, 3)), ("f8", (5,)))
LOADER_COMBOS = [(n, b, s, d) for n in (7, 33) for b in (1, 5, 40) for s in (False, True) for d in (False, True)]
TRAIN_SHAPES = ((5, 8), (8, 3))  # the weights of train_steps' model, Linear(5, 8) and Linear(8, 3)


class _InPlaceSGD:
    """Plain SGD that changes each parameter's array in place (as module 06's optimizers do), skipping parameters
    without a gradient; zero_grad sets gradients to None."""

    def __init__(self, params, lr: float):
        self.params, self.lr = list(params), lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for p in self.params:
            if p.grad is not None:
                p.data -= np.float32(self.lr) * p.grad.data


class _ModeRecorder(Module):
    """The identity, recording (training mode, graph recording on) at every call."""

    def __init__(self):
        self.calls = []

    def forward(self, x):
        self.calls.append((bool(self.training), bool(GradMode.enabled)))
        return x


class _LinearWithoutBias(Linear):
    """A Linear whose parameters() forgets its bias: it never requires grad nor moves."""

    def parameters(self):
        return [self.weight]


class _Encoder(Module):
    """A model nesting a Sequential one attribute deep, with a spare Linear that forward never uses."""

    def __init__(self, body: Sequential, spare: Linear):
        self.body, self.spare = body, spare

    def forward(self, x):
        return self.body(x)

    def parameters(self):
        return self.body.parameters() + self.spare.parameters()

    def train(self, mode: bool = True):
        self.training = bool(mode)
        self.body.train(mode)
        return self


def _batches(x: np.ndarray, y: np.ndarray, size: int) -> list:
    return [(Tensor(x[i : i + size]), Tensor(y[i : i + size], dtype=np.int64)) for i in range(0, len(x), size)]


def _labels_of(loader) -> list[np.ndarray]:
    """The labels of each batch of one epoch, as int64 arrays."""
    return [np.asarray(arr(y, "a batch's labels"), dtype=np.int64) for _, y in loader]


def _epochs(loader, count: int) -> list[np.ndarray]:
    """The sample numbers (labels) of `count` epochs, each in the order its batches brought them."""
    return [np.concatenate([np.zeros(0, np.int64), *_labels_of(loader)]) for _ in range(count)]


def _numbered(n: int) -> TensorDataset:
    """Sample i holds features [i, 10 i] and label i."""
    numbers = np.arange(n)
    return TensorDataset(np.stack([numbers, 10 * numbers], axis=1).astype(np.float32), numbers)


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, IDX_CODES[array.dtype.str[1:]], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@contextlib.contextmanager
def _scratch_folder():
    """A fresh temporary folder as the working directory while the block runs, so that the files the probe writes
    have the same (relative) paths, and error messages that name them the same words, on every run."""
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        try:
            yield Path(".")
        finally:
            os.chdir(previous)


def _load(folder: Path, name: str, data: bytes):
    path = folder / name
    path.write_bytes(data)
    return load_idx(path)


# --------------------------------------------------------------------------- TensorDataset


def dataset_basics(inputs: Arrays) -> Outputs:
    out, x, y = Outputs(), inputs["x"], inputs["y"]
    dataset = TensorDataset(x, y)
    out.value("length", np.int64(len(dataset)))
    samples = [dataset[i] for i in range(len(x))]
    out.flag("tuples", all(isinstance(s, tuple) and len(s) == 2 for s in samples))
    out.value("features", np.stack([np.asarray(s[0], dtype=np.float32) for s in samples]))
    out.value("labels", np.array([int(s[1]) for s in samples], dtype=np.int64))
    out.value("from_tensor", np.asarray(TensorDataset(Tensor(x), y)[3][0], dtype=np.float32))
    out.value("one_array", np.int64(len(TensorDataset(x))))
    message = out.raises("mismatch", lambda: TensorDataset(x, y[:-1]), message=False)
    out.flag("mismatch_names_shapes", str(x.shape) in message and str(y[:-1].shape) in message)
    return out


def dataset_indexing(inputs: Arrays) -> Outputs:
    out = Outputs()
    arrays = inputs["a"], inputs["b"], inputs["c"]
    dataset = TensorDataset(*arrays)
    out.value("length", np.int64(len(dataset)))
    for name, index in (("numpy_int", np.int64(3)), ("negative", -1)):
        sample = dataset[index]
        out.flag(f"{name}_tuple", isinstance(sample, tuple) and len(sample) == 3)
        for k, part in enumerate(sample):
            out.value(f"{name}_{k}", np.asarray(part, dtype=arrays[k].dtype))
    out.raises("zero_d", lambda: TensorDataset(np.float32(1.0)), message=False)
    out.raises("nothing", lambda: TensorDataset(), message=False)
    return out


# --------------------------------------------------------------------------- DataLoader


def loader_batches(inputs: Arrays) -> Outputs:
    out = Outputs()
    loader = DataLoader(_numbered(int(inputs["n"])), batch_size=int(inputs["batch_size"]))
    out.value("length", np.int64(len(loader)))
    for epoch in range(2):
        batches = list(loader)
        out.value(f"count_{epoch}", np.int64(len(batches)))
        out.flag(f"tensors_{epoch}", all(isinstance(x, Tensor) and isinstance(y, Tensor) for x, y in batches))
        out.value(f"labels_{epoch}", np.concatenate(_labels_of(batches)))
        out.value(f"features_{epoch}", np.concatenate([arr(x, "a batch's features") for x, _ in batches]))
        out.value(f"sizes_{epoch}", np.array([x.shape[0] for x, _ in batches], dtype=np.int64))
    out.text("label_dtype", str(batches[0][1].dtype))
    return out


def loader_shuffle(inputs: Arrays) -> Outputs:
    out, n, seed = Outputs(), int(inputs["n"]), int(inputs["seed"])
    dataset = _numbered(n)
    first, second = _epochs(DataLoader(dataset, batch_size=16, shuffle=True, seed=seed), 2)
    out.flag("each_once", all(np.array_equal(np.sort(order), np.arange(n)) for order in (first, second)))
    out.flag("shuffled", not np.array_equal(first, np.arange(n)))
    out.flag("new_order", not np.array_equal(first, second))
    again = _epochs(DataLoader(dataset, batch_size=16, shuffle=True, seed=seed), 2)
    out.flag("same_seed", all(np.array_equal(a, b) for a, b in zip(again, (first, second), strict=True)))
    other = _epochs(DataLoader(dataset, batch_size=16, shuffle=True, seed=seed + 1), 1)[0]
    out.flag("other_seed", not np.array_equal(other, first))
    return out


def loader_drop_last(inputs: Arrays) -> Outputs:
    out, numbers = Outputs(), np.arange(12)
    for n in (10, 12):
        dataset = TensorDataset(numbers[:n].astype(np.float32)[:, None], numbers[:n])
        for drop_last in (False, True):
            for shuffle in (False, True):
                name = f"n{n}_{'drop' if drop_last else 'keep'}_{'shuffled' if shuffle else 'ordered'}"
                loader = DataLoader(dataset, batch_size=4, shuffle=shuffle, drop_last=drop_last, seed=0)
                labels = _labels_of(loader)
                out.value(f"sizes_{name}", np.array([len(y) for y in labels], dtype=np.int64))
                out.value(f"length_{name}", np.int64(len(loader)))
                seen = np.concatenate([np.zeros(0, np.int64), *labels])
                out.flag(f"distinct_{name}", len(set(seen.tolist())) == len(seen))
    return out


def _loader_flags(n: int, batch_size: int, shuffle: bool, drop_last: bool) -> dict[str, bool]:
    """Whether one combination keeps each property of a DataLoader over three epochs."""
    loader = DataLoader(_numbered(n), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=n + batch_size)
    epochs = [_labels_of(loader) for _ in range(3)]
    full, rest = divmod(n, batch_size)
    sizes = [batch_size] * full + ([rest] if rest and not drop_last else [])
    orders = [np.concatenate([np.zeros(0, np.int64), *batches]) for batches in epochs]
    again = _epochs(DataLoader(_numbered(n), batch_size, shuffle=shuffle, drop_last=drop_last, seed=n + batch_size), 3)
    return {
        "at_most_once": all(len(set(o.tolist())) == len(o) and set(o.tolist()) <= set(range(n)) for o in orders),
        "exactly_once": drop_last or all(np.array_equal(np.sort(o), np.arange(n)) for o in orders),
        "sizes": all([len(b) for b in batches] == sizes for batches in epochs),
        "length": len(loader) == len(sizes),
        "order": np.array_equal(orders[0], np.arange(len(orders[0]))) if not shuffle else True,
        "new_orders": not shuffle or len(orders[0]) < 30 or not np.array_equal(orders[0], orders[1]),
        "seeded": all(np.array_equal(a, b) for a, b in zip(again, orders, strict=True)),
    }


def loader_properties(inputs: Arrays) -> Outputs:
    out = Outputs()
    combos = [tuple(int(v) for v in row) for row in inputs["combos"]]
    kept: dict[str, bool] = {}
    for n, batch_size, shuffle, drop_last in combos:
        for name, ok in _loader_flags(n, batch_size, bool(shuffle), bool(drop_last)).items():
            kept[name] = kept.get(name, True) and bool(ok)
    for name, ok in kept.items():
        out.flag(name, ok)
    unseeded = [_epochs(DataLoader(_numbered(50), batch_size=8, shuffle=True), 1)[0] for _ in range(2)]
    fresh = not np.array_equal(unseeded[0], unseeded[1])
    out.flag("unseeded", fresh and not np.array_equal(unseeded[0], np.arange(50)))
    return out


# --------------------------------------------------------------------------- load_idx


def idx_roundtrip(inputs: Arrays) -> Outputs:
    out = Outputs()
    with _scratch_folder() as folder:
        for name in IDX_CASES:
            data = _idx_bytes(inputs[name])
            out.value(f"{name}_plain", _load(folder, f"{name}.idx", data))
            out.value(f"{name}_gzip", _load(folder, f"{name}-compressed.idx", gzip.compress(data)))
    return out


def idx_errors(inputs: Arrays) -> Outputs:
    out = Outputs()
    good = bytes(inputs["good"])
    broken = {
        "not_idx": b"\x89PNG\r\n\x1a\n" + bytes(20),
        "short": good[:-1],
        "long": good + b"\x00",
        "unknown_type": bytes([0, 0, 0x07, 1]) + struct.pack(">I", 3) + bytes(3),
    }
    with _scratch_folder() as folder:
        out.value("good", _load(folder, "good.idx", good))
        for name, data in broken.items():
            message = out.raises(name, lambda data=data: _load(folder, "broken.idx", data), message=False)
            out.flag(f"{name}_names_file", "broken.idx" in message)
    return out


def idx_types(inputs: Arrays) -> Outputs:
    out = Outputs()
    with _scratch_folder() as folder:
        for code, _ in IDX_TYPE_CASES:
            data = _idx_bytes(inputs[code])
            for compressed in (False, True):
                got = _load(folder, f"{code}.idx", gzip.compress(data) if compressed else data)
                out.value(f"{code}_{'gzip' if compressed else 'plain'}", got)
        cut = _idx_bytes(inputs["i4"])[:9]  # a 3-dimension header cut short after its first size
        out.raises("cut_header", lambda: _load(folder, "cut.idx", cut), message=False)
    return out


# --------------------------------------------------------------------------- train_epoch


def _train_model(inputs: Arrays, p: float = 0.0) -> tuple[Sequential, _ModeRecorder]:
    recorder = _ModeRecorder()
    first, second = linear_from(inputs["w1"], inputs["b1"]), linear_from(inputs["w2"], inputs["b2"])
    return Sequential(first, ReLU(), Dropout(p), recorder, second), recorder


def train_steps(inputs: Arrays) -> Outputs:
    out, x, y = Outputs(), inputs["x"], inputs["y"]
    batches = _batches(x, y, int(inputs["batch_size"]))
    model, recorder = _train_model(inputs)
    model.eval()
    still = train_epoch(model, batches, CrossEntropyLoss(), _InPlaceSGD(model.parameters(), lr=0.0))
    out.flag("returns_float", isinstance(still, float))
    out.value("mean_at_lr_0", np.float32(still))  # computed in float32: stored so, with float32 drift bounds
    out.flag("training_mode", model.training and all(mode for mode, _ in recorder.calls))
    optimizer = _InPlaceSGD(model.parameters(), lr=float(inputs["lr"]))
    losses = [train_epoch(model, batches, CrossEntropyLoss(), optimizer) for _ in range(3)]
    out.value("losses", np.array(losses, dtype=np.float32))
    for k, param in enumerate(model.parameters()):
        out.value(f"param_{k}", arr(param, "a parameter after training"))
    return out


def train_trajectory(inputs: Arrays) -> Outputs:
    out, x, y = Outputs(), inputs["x"], inputs["y"]
    model, recorder = _train_model(inputs, p=float(inputs["p"]))
    optimizer = _InPlaceSGD(model.parameters(), lr=float(inputs["lr"]))
    batches = _batches(x, y, 8)
    losses = [train_epoch(model, batches, CrossEntropyLoss(), optimizer) for _ in range(int(inputs["epochs"]))]
    out.flag("dropout_active", model.training and all(mode for mode, _ in recorder.calls))
    out.flag("below_bound", losses[-1] < float(inputs["bound"]) < losses[0])
    return out


# --------------------------------------------------------------------------- evaluate


def evaluate_accuracy(inputs: Arrays) -> Outputs:
    out = Outputs()
    model = Sequential(linear_from(inputs["weight"], inputs["bias"]))
    for size in (4, 5, 32):
        accuracy = evaluate(model, _batches(inputs["x"], inputs["y"], size))
        out.flag(f"float_{size}", isinstance(accuracy, float))
        out.value(f"batches_of_{size}", np.float64(accuracy))
    return out


def evaluate_modes(inputs: Arrays) -> Outputs:
    out = Outputs()
    batches = _batches(inputs["x"], inputs["y"], 4)
    for start in ("training", "evaluation"):
        recorder = _ModeRecorder()
        model = Sequential(linear_from(inputs["weight"], inputs["bias"]), Dropout(0.5), recorder)
        model.train(start == "training")
        evaluate(model, batches)
        every_batch = len(recorder.calls) == len(batches)
        out.flag(f"eval_mode_from_{start}", every_batch and not any(m for m, _ in recorder.calls))
        out.flag(f"no_graph_from_{start}", not any(g for _, g in recorder.calls))
        out.flag(f"restored_{start}", model.training == (start == "training") == model[1].training)
    out.flag("recording_back_on", bool(GradMode.enabled))
    return out


def evaluate_dropout(inputs: Arrays) -> Outputs:
    out = Outputs()
    model = Sequential(linear_from(inputs["weight"], inputs["bias"]), Dropout(0.9))
    model.train()
    batches = _batches(inputs["x"], inputs["y"], 16)
    accuracies = [evaluate(model, batches) for _ in range(5)]
    out.value("accuracy", np.float64(accuracies[0]))
    out.flag("repeatable", len(set(accuracies)) == 1)
    out.flag("no_gradients", all(p.grad is None for p in model.parameters()))
    return out


# --------------------------------------------------------------------------- check_parameters_update


def _names(out: Outputs, name: str, model: Module, inputs: Arrays, lr: float, stale: bool = False) -> None:
    """Raw `name`: the names check_parameters_update returns for one step of `model`, one per line."""
    if stale:
        for p in model.parameters():
            p.grad = Tensor(np.ones(p.shape))  # left over from an earlier step: zero_grad must clear it
    batch = Tensor(inputs["x"]), inputs["y"]
    names = check_parameters_update(model, CrossEntropyLoss(), batch, _InPlaceSGD(model.parameters(), lr=lr))
    if not isinstance(names, list) or not all(isinstance(n, str) and "\n" not in n for n in names):
        raise TypeError(f"check_parameters_update should return a list of names (str), got {names!r}")
    out.raw(name, "\n".join(names))
    out.value(f"{name}_count", np.int64(len(names)))


def updates_names(inputs: Arrays) -> Outputs:
    out = Outputs()
    _names(out, "healthy", Sequential(Linear(4, 6), ReLU(), Linear(6, 3)), inputs, lr=0.1)
    _names(out, "forgetful", Sequential(Linear(4, 6), ReLU(), _LinearWithoutBias(6, 3)), inputs, lr=0.1)
    spare = _Encoder(Sequential(Linear(4, 6), ReLU(), Linear(6, 3)), Linear(2, 7))
    _names(out, "spare", spare, inputs, lr=0.1, stale=True)
    return out


def updates_small_steps(inputs: Arrays) -> Outputs:
    out = Outputs()
    _names(out, "tiny", Sequential(Linear(4, 6), ReLU(), Linear(6, 3)), inputs, lr=float(inputs["lr"]))
    nested = _Encoder(Sequential(Linear(4, 5), ReLU(), _LinearWithoutBias(5, 3)), Linear(2, 7))
    _names(out, "nested", nested, inputs, lr=0.1)
    return out


def _updates_labels() -> dict[str, str]:
    what = {
        "healthy": "a healthy Sequential(Linear(4, 6), ReLU(), Linear(6, 3))",
        "forgetful": "a Sequential whose last Linear's parameters() forgets its bias",
        "spare": "a model with an unused Linear holding stale gradients",
        "tiny": "a healthy model stepped with lr=1e-6",
        "nested": "a model.body Sequential whose last Linear forgets its bias",
    }
    return {f"{name}_count": f"how many tensors check_parameters_update names for {w}" for name, w in what.items()}


_SCENARIOS = {"updates_names": ("healthy", "forgetful", "spare"), "updates_small_steps": ("tiny", "nested")}
_COMBO_WORDS = {
    "at_most_once": "no sample twice in an epoch",
    "exactly_once": "every sample exactly once per epoch without drop_last",
    "sizes": "the batch sizes: full batches, then the remainder unless drop_last",
    "length": "len(loader) equal to the number of batches an epoch yields",
    "order": "without shuffle, the samples in their order",
    "new_orders": "with shuffle, a new order each epoch",
    "seeded": "the same seed repeating the same orders",
}

LABELS: dict[str, dict[str, str]] = {
    "dataset_basics": {
        "length": "len(TensorDataset(x of 5 rows, y))",
        key(FLAG, "tuples"): "dataset[i] should be a tuple (x[i], y[i])",
        "features": "dataset[i][0] for every i (should be x[i])",
        "labels": "dataset[i][1] for every i (should be y[i])",
        "from_tensor": "TensorDataset(Tensor(x), y)[3][0]",
        "one_array": "len(TensorDataset(x))",
        key(ERROR, "mismatch"): "TensorDataset(x of 5 rows, y of 4)",
        key(FLAG, "mismatch_names_shapes"): "the error for arrays of 5 and 4 rows should name both shapes",
    },
    "dataset_indexing": {
        "length": "len of a TensorDataset of three arrays of 6 rows",
        **{
            key(FLAG, f"{n}_tuple"): f"dataset[{i}] should be a tuple of 3"
            for n, i in (("numpy_int", "np.int64(3)"), ("negative", "-1"))
        },
        **{
            f"{n}_{k}": f"dataset[{i}][{k}]"
            for n, i in (("numpy_int", "np.int64(3)"), ("negative", "-1"))
            for k in range(3)
        },
        key(ERROR, "zero_d"): "TensorDataset of a 0-d array (no first dimension)",
        key(ERROR, "nothing"): "TensorDataset() without arrays",
    },
    "loader_batches": {
        "length": "len(DataLoader(10 samples, batch_size=4))",
        **{f"count_{e}": f"the number of batches in epoch {e + 1}" for e in range(2)},
        **{key(FLAG, f"tensors_{e}"): f"epoch {e + 1}: every batch should be a tuple of Tensors" for e in range(2)},
        **{f"labels_{e}": f"the labels of epoch {e + 1}, in order (no shuffle)" for e in range(2)},
        **{f"features_{e}": f"the features of epoch {e + 1}, in order" for e in range(2)},
        **{f"sizes_{e}": f"the batch sizes of epoch {e + 1}" for e in range(2)},
        key(TEXT, "label_dtype"): "the dtype of a batch's integer labels",
    },
    "loader_shuffle": {
        key(FLAG, "each_once"): "shuffle=True: every sample exactly once in each of 2 epochs",
        key(FLAG, "shuffled"): "shuffle=True should change the order of 100 samples",
        key(FLAG, "new_order"): "shuffle=True: epoch 2 should bring a new order",
        key(FLAG, "same_seed"): "two loaders with the same seed should give the same orders, epoch by epoch",
        key(FLAG, "other_seed"): "another seed should give another order",
    },
    "loader_drop_last": {
        **{
            f"{kind}_n{n}_{d}_{s}": f"{words}, {n} samples, batch_size=4, drop_last={d == 'drop'}, "
            f"shuffle={s == 'shuffled'}"
            for kind, words in (("sizes", "the batch sizes"), ("length", "len(loader)"))
            for n in (10, 12)
            for d in ("keep", "drop")
            for s in ("ordered", "shuffled")
        },
        **{
            key(FLAG, f"distinct_n{n}_{d}_{s}"): f"no sample twice, {n} samples, drop_last={d == 'drop'}, "
            f"shuffle={s == 'shuffled'}"
            for n in (10, 12)
            for d in ("keep", "drop")
            for s in ("ordered", "shuffled")
        },
    },
    "loader_properties": {
        **{
            key(FLAG, name): f"over 24 combinations of size, batch size, shuffle and drop_last: {words}"
            for name, words in _COMBO_WORDS.items()
        },
        key(FLAG, "unseeded"): "shuffle=True without a seed: two loaders should draw different orders",
    },
    "idx_roundtrip": {
        f"{name}_{kind}": f"load_idx of {kind} {what}"
        for name, what in (
            ("images", "uint8 (5, 4, 3) images"),
            ("labels", "int32 (6,) labels"),
            ("values", "float32 (2, 3) values"),
        )
        for kind in ("plain", "gzip")
    },
    "idx_errors": {
        "good": "load_idx of a valid (2, 3) uint8 file",
        **{
            key(ERROR, n): f"load_idx of a file that is {w}"
            for n, w in (
                ("not_idx", "not IDX (a PNG's first bytes)"),
                ("short", "one byte short"),
                ("long", "one byte too long"),
                ("unknown_type", "of an unknown type code 0x07"),
            )
        },
        **{
            key(FLAG, f"{n}_names_file"): f"the error for {n.replace('_', ' ')} should name the file"
            for n in ("not_idx", "short", "long", "unknown_type")
        },
    },
    "idx_types": {
        **{
            f"{code}_{kind}": f"load_idx of {kind} {code} values of shape {shape}"
            for code, shape in IDX_TYPE_CASES
            for kind in ("plain", "gzip")
        },
        key(ERROR, "cut_header"): "load_idx of a 3-dimension header cut short",
    },
    "train_steps": {
        key(FLAG, "returns_float"): "train_epoch should return a float",
        "mean_at_lr_0": "train_epoch's mean with lr=0 (the whole data's loss per sample; the last batch is short)",
        key(
            FLAG, "training_mode"
        ): "train_epoch should run, and leave, a model handed over in eval mode in training mode",
        "losses": "train_epoch's mean losses over 3 epochs of plain SGD",
        **{f"param_{k}": f"parameter {k} after the 3 epochs" for k in range(4)},
    },
    "train_trajectory": {
        key(FLAG, "dropout_active"): "every forward pass of train_epoch should run in training mode (dropout on)",
        key(FLAG, "below_bound"): "the loss should fall below the reference's bound within the epochs given",
    },
    "evaluate_accuracy": {
        **{f"batches_of_{s}": f"evaluate's accuracy on 10 samples in batches of {s}" for s in (4, 5, 32)},
        **{key(FLAG, f"float_{s}"): "evaluate should return a float" for s in (4, 5, 32)},
    },
    "evaluate_modes": {
        **{
            key(FLAG, f"eval_mode_from_{s}"): f"evaluate of a model in {s} mode: every batch in evaluation mode"
            for s in ("training", "evaluation")
        },
        **{
            key(FLAG, f"no_graph_from_{s}"): f"evaluate of a model in {s} mode: no graph recorded (no_grad)"
            for s in ("training", "evaluation")
        },
        **{
            key(FLAG, f"restored_{s}"): f"a model in {s} mode should come back in {s} mode"
            for s in ("training", "evaluation")
        },
        key(FLAG, "recording_back_on"): "graph recording should be on again after evaluate",
    },
    "evaluate_dropout": {
        "accuracy": "evaluate's accuracy for a model with Dropout(0.9) handed over in training mode",
        key(FLAG, "repeatable"): "5 calls of evaluate should give the same accuracy",
        key(FLAG, "no_gradients"): "evaluate should leave no gradients",
    },
    "updates_names": {k: v for k, v in _updates_labels().items() if k.split("_")[0] in _SCENARIOS["updates_names"]},
    "updates_small_steps": {
        k: v for k, v in _updates_labels().items() if k.split("_")[0] in _SCENARIOS["updates_small_steps"]
    },
}
