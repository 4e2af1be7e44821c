"""Check pack of module 07 Training (probes: autograde/probes/training.py).

Datasets, loaders, IDX files and accuracies are compared with the reference's outputs (exactly, but for the float32
training trajectory); shuffled orders are judged by their properties, so any generator a student seeds gives full
marks. check_parameters_update's names are the student's own words: a rule here accepts any name that identifies a
frozen tensor by its path or its shape, one name per frozen tensor.
"""

import numpy as np

from autograde.fixture_io import Arrays, Fixture, Spec, f32, i64
from autograde.judging import Check, expected_outputs, shorten
from autograde.probes.protocol import Result, decode_text

# The tensors check_parameters_update must name, per scenario of its probes: (path, shape) each; a name identifies a
# tensor when it contains its path or its shape as Python prints it. Every shape in a scenario's model is unique.
FROZEN = {
    "healthy": (),
    "forgetful": (("[2].bias", "(3,)"),),
    "spare": (("spare.weight", "(2, 7)"), ("spare.bias", "(7,)")),
    "tiny": (),
    "nested": (("body[2].bias", "(3,)"), ("spare.weight", "(2, 7)"), ("spare.bias", "(7,)")),
}

# --------------------------------------------------------------------------- fixture inputs


def _clusters(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n points of 5 features around 3 well-separated centres, with their cluster as label."""
    centres = rng.standard_normal((3, 5)) * 3
    labels = rng.integers(0, 3, n)
    return f32(centres[labels] + 0.5 * rng.standard_normal((n, 5))), i64(labels)


def _two_layer_weights(rng: np.random.Generator, n_in: int, hidden: int, n_out: int) -> Arrays:
    """w1 (n_in, hidden), b1, w2 (hidden, n_out), b2: normal weights scaled by 1/sqrt(fan_in), zero biases."""
    weights = {"w1": f32(rng.standard_normal((n_in, hidden)) / np.sqrt(n_in)), "b1": f32(np.zeros(hidden))}
    return weights | {"w2": f32(rng.standard_normal((hidden, n_out)) / np.sqrt(hidden)), "b2": f32(np.zeros(n_out))}


def _train_inputs(rng: np.random.Generator) -> Arrays:
    from autograde.probes.training import TRAIN_SHAPES

    x, y = _clusters(rng, 21)  # batches of 8: the last holds 5
    (n_in, hidden), (_, n_out) = TRAIN_SHAPES
    weights = _two_layer_weights(rng, n_in, hidden, n_out)
    return {"x": x, "y": y, "batch_size": i64(8), "lr": np.float64(0.1)} | weights


def _trajectory_inputs(rng: np.random.Generator) -> Arrays:
    x, y = _clusters(rng, 48)
    weights = _two_layer_weights(rng, 5, 32, 3)
    # the reference starts near 0.4 and ends below 0.003 with any of 8 dropout streams tried: 0.05 leaves a margin
    settings = {"p": np.float64(0.25), "lr": np.float64(0.1), "epochs": i64(40), "bound": np.float64(0.05)}
    return {"x": x, "y": y} | settings | weights


def _accuracy_inputs(rng: np.random.Generator) -> Arrays:
    """10 one-hot inputs through an identity Linear (the input's class is the prediction): 7 right, and the wrong
    ones last, so that batch-wise means differ from the accuracy."""
    classes = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0])
    labels = classes.copy()
    labels[[6, 8, 9]] = [1, 0, 1]
    return {"x": f32(np.eye(3)[classes]), "y": i64(labels), "weight": f32(np.eye(3)), "bias": f32(np.zeros(3))}


def _dropout_inputs(rng: np.random.Generator) -> Arrays:
    x, y = _clusters(rng, 40)
    return {"x": x, "y": y, "weight": f32(rng.standard_normal((5, 3))), "bias": f32(rng.standard_normal(3))}


def _idx_inputs(rng: np.random.Generator) -> Arrays:
    return {
        "images": rng.integers(0, 256, (5, 4, 3)).astype(np.uint8),
        "labels": rng.integers(-70000, 70000, 6).astype(np.int32),
        "values": f32(rng.standard_normal((2, 3))),
    }


def _idx_type_inputs(rng: np.random.Generator) -> Arrays:
    from autograde.probes.training import IDX_TYPE_CASES

    out = {}
    for code, shape in IDX_TYPE_CASES:
        info = np.finfo(code) if code[0] == "f" else np.iinfo(code)
        values = rng.uniform(-1e6, 1e6, shape) if code[0] == "f" else rng.integers(info.min, info.max, shape)
        out[code] = np.asarray(values).astype(code)
    return out


def _loader_combos(rng: np.random.Generator) -> Arrays:
    from autograde.probes.training import LOADER_COMBOS

    return {"combos": i64(LOADER_COMBOS)}


def _update_inputs(rng: np.random.Generator) -> Arrays:
    return {"x": f32(rng.random((8, 4))), "y": i64(rng.integers(0, 3, 8)), "lr": np.float64(1e-6)}


# --------------------------------------------------------------------------- rules


def _identified(name: str, frozen: tuple[tuple[str, str], ...]) -> list[int]:
    """The frozen tensors (indices into `frozen`) that `name` identifies by path or shape."""
    return [k for k, (path, shape) in enumerate(frozen) if path in name or shape in name]


def frozen_names_rule(out: Result, fx: Fixture) -> list[str]:
    """Every scenario's names identify its frozen tensors one to one (the count is judged by expected_outputs)."""
    problems = []
    for scenario, frozen in FROZEN.items():
        if scenario not in out.raw:
            continue
        text = decode_text(out.raw[scenario])
        names = text.split("\n") if text else []
        matches = [_identified(name, frozen) for name in names]
        found = sorted(k for match in matches for k in match)
        if any(len(match) != 1 for match in matches) or found != list(range(len(frozen))):
            wanted = ", ".join(f"{path} {shape}" for path, shape in frozen) or "nothing"
            problems.append(
                f"{scenario}: check_parameters_update returned {shorten(repr(names))}; it should name "
                f"exactly the tensors that did not move: {wanted} (by path or shape)"
            )
    return problems


# --------------------------------------------------------------------------- checks

EXACT = dict(rtol=0.0, atol=0.0)
TRAJECTORY = dict(rtol=1e-4, atol=1e-6, terms=8)  # float32 SGD over 3 epochs: rounding compounds over 9 steps

CHECKS = (
    Check(
        "dataset-basics",
        points=2,
        title="TensorDataset counts its samples, returns sample i as a tuple (x[i], y[i]), accepts a Tensor and "
        "refuses arrays of different lengths naming both shapes",
        hint="Store the arrays (a Tensor's .data), return len of the first and tuple(a[index] for a in arrays); raise "
        "ValueError with every shape when the first dimensions differ.",
        probe="dataset_basics",
        fixture=Spec(seed=70, inputs=lambda rng: {"x": f32(rng.standard_normal((5, 3))), "y": i64([3, 1, 4, 1, 5])}),
    ),
    Check(
        "dataset-hidden-indexing",
        points=1,
        title="TensorDataset keeps three arrays of different dtypes side by side, indexes with NumPy integers and "
        "negative indices, and refuses a 0-d array and an empty argument list",
        hint="Index every array with the same index, whatever its type, and raise ValueError when there is no array "
        "or one without a first dimension.",
        probe="dataset_indexing",
        fixture=Spec(
            seed=71,
            inputs=lambda rng: {
                "a": f32(rng.standard_normal((6, 2))),
                "b": i64(rng.integers(0, 10, 6)),
                "c": rng.random((6, 3)) < 0.5,
            },
        ),
    ),
    Check(
        "dataloader-batches",
        points=2,
        title="DataLoader without shuffle gives every sample once, in order, in batches of batch_size and a short "
        "last one, as Tensors, the same every epoch, and len(loader) counts them",
        hint="Slice range(len(dataset)) in steps of batch_size, collate each slice's samples, and count "
        "ceil(N / batch_size) batches in __len__.",
        probe="loader_batches",
        fixture=Spec(seed=72, inputs=lambda rng: {"n": i64(10), "batch_size": i64(4)}),
    ),
    Check(
        "dataloader-shuffle",
        points=2,
        title="DataLoader with shuffle=True gives every sample once per epoch, in a new order every epoch, the same "
        "orders again with the same seed and others with another seed",
        hint="Create np.random.default_rng(seed) once, in __init__, and draw rng.permutation(len(dataset)) at the "
        "start of every epoch (each call of __iter__).",
        probe="loader_shuffle",
        fixture=Spec(seed=73, inputs=lambda rng: {"n": i64(100), "seed": i64(rng.integers(0, 2**31))}),
    ),
    Check(
        "dataloader-drop-last",
        points=2,
        title="DataLoader's drop_last leaves out the short last batch, and len(loader) counts the batches an epoch "
        "yields, with and without shuffle",
        hint="With drop_last, stop after the N // batch_size full batches, in __iter__ and in __len__ alike.",
        probe="loader_drop_last",
        fixture=Spec(seed=74),
    ),
    Check(
        "dataloader-hidden-properties",
        points=2,
        title="DataLoader over 24 combinations of dataset size, batch size, shuffle and drop_last, three epochs each: "
        "every sample at most once per epoch and exactly once without drop_last, the batch sizes and len(loader) of "
        "the counting rule, orders that change between epochs and repeat with the seed, and a shuffle without a seed",
        hint="Check the edge cases: batch_size 1, a batch_size larger than the dataset (with drop_last: no batch at "
        "all), and seed=None (a fresh generator).",
        probe="loader_properties",
        fixture=Spec(seed=75, inputs=_loader_combos),
    ),
    Check(
        "idx-roundtrip",
        points=2,
        title="load_idx reads uint8, int32 and float32 IDX files, plain and gzip-compressed, into arrays of their "
        "shape and values in native byte order",
        hint="Decompress when the file starts with 1f 8b, read the sizes with struct.unpack('>dI'), and convert the "
        "big-endian values with .astype(dtype.newbyteorder('=')).",
        probe="idx_roundtrip",
        fixture=Spec(seed=76, inputs=_idx_inputs, **EXACT),
    ),
    Check(
        "idx-errors",
        points=1,
        title="load_idx raises ValueError naming the file for a file that is not IDX, one byte short, one byte too "
        "long or of an unknown type",
        hint="Compare the data's size with the product of the sizes times the value's size, both ways, and check the "
        "two zero bytes and the type code first.",
        probe="idx_errors",
        fixture=Spec(
            seed=77,
            inputs=lambda rng: {
                "good": np.frombuffer(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5]), np.uint8).copy()
            },
        ),
    ),
    Check(
        "idx-hidden-types",
        points=1,
        title="load_idx reads every IDX type code (uint8, int8, int16, int32, float32, float64) in 1 to 4 dimensions, "
        "gzip-compressed or not, into arrays of native byte order, and refuses a header cut short",
        hint="Use the type code table for the dtype (big-endian) and convert to native order; check that the file "
        "holds the whole header before reading the sizes.",
        probe="idx_types",
        fixture=Spec(seed=78, inputs=_idx_type_inputs, **EXACT),
    ),
    Check(
        "train-epoch",
        points=3,
        title="train_epoch returns the mean loss per sample (a short last batch counts for its samples), runs in "
        "training mode and steps like the reference over three epochs of plain SGD",
        hint="model.train() first; for every batch zero_grad, forward, loss, backward, step; add loss * batch size "
        "and divide by the number of samples.",
        probe="train_steps",
        fixture=Spec(seed=79, inputs=_train_inputs, **TRAJECTORY),
    ),
    Check(
        "train-hidden-trajectory",
        points=2,
        title="train_epoch keeps dropout on in every forward pass and brings the loss of a tiny seeded problem, with "
        "Dropout(0.25), below 0.05 within 40 epochs of plain SGD",
        hint="Every batch of the loader gets exactly one zero_grad, backward and step, in training mode.",
        probe="train_trajectory",
        fixture=Spec(seed=80, inputs=_trajectory_inputs),
    ),
    Check(
        "evaluate-accuracy",
        points=2,
        title="evaluate returns the share of samples whose highest logit is their label, whatever the batch size",
        hint="Count correct samples (argmax over the last axis equal to the label) and samples over every batch, and "
        "divide once at the end.",
        probe="evaluate_accuracy",
        fixture=Spec(seed=81, inputs=_accuracy_inputs, **EXACT),
    ),
    Check(
        "evaluate-modes",
        points=2,
        title="evaluate runs every batch in evaluation mode under no_grad() and hands the model back in the mode it "
        "found",
        hint="was_training = model.training; model.eval(); the loop inside `with no_grad():`; then "
        "model.train(was_training) in a finally block.",
        probe="evaluate_modes",
        fixture=Spec(seed=82, inputs=_accuracy_inputs),
    ),
    Check(
        "evaluate-hidden-dropout",
        points=1,
        title="evaluate gives the reference's accuracy, the same on 5 repeated calls, for a model with Dropout(0.9) "
        "handed over in training mode, and builds no graph",
        hint="Switch to evaluation mode before the first batch, so that dropout is the identity.",
        probe="evaluate_dropout",
        fixture=Spec(seed=83, inputs=_dropout_inputs, **EXACT),
    ),
    Check(
        "updates-names",
        points=2,
        title="check_parameters_update names nothing for a healthy model, and names a bias parameters() forgets and "
        "both tensors of a layer the forward pass skips",
        hint="Copy every tensor of named_tensors(model) before the step (.data.copy()), zero the gradients, and name "
        "those np.array_equal to their copy after it.",
        probe="updates_names",
        rules=(expected_outputs, frozen_names_rule),
        fixture=Spec(seed=84, inputs=_update_inputs),
    ),
    Check(
        "updates-hidden-small-steps",
        points=2,
        title="check_parameters_update notices steps as small as one float32 rounding unit, names nothing for a model "
        "whose every tensor moves, and names a forgotten tensor of a layer nested two levels deep",
        hint="Compare exactly (np.array_equal), not within a tolerance, and walk the model with named_tensors rather "
        "than model.parameters().",
        probe="updates_small_steps",
        rules=(expected_outputs, frozen_names_rule),
        fixture=Spec(seed=85, inputs=_update_inputs),
    ),
)
