"""tinytorch.core.training: train_epoch's mean per sample and mode, evaluate's accuracy, modes and graph,
check_parameters_update's names, and the milestone: the digits model trained by the reference package reaches 97%."""

import numpy as np
import pytest

import tinytorch.core.autograd  # noqa: F401  (installs gradients on the earlier modules)
from tinytorch.core.activations import Module, ReLU
from tinytorch.core.autograd import GradMode
from tinytorch.core.data import DataLoader, TensorDataset, load_digits_split
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import CrossEntropyLoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import check_parameters_update, evaluate, named_tensors, train_epoch


def clusters(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n points around 3 separated centres in 2-D, labelled by centre."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.array([[3.0, 0.0], [-3.0, 0.0], [0.0, 3.0]])
    return (centres[labels] + 0.5 * rng.standard_normal((n, 2))).astype(np.float32), labels


class ModeRecorder(Module):
    """The identity, recording (training mode, graph recording) at each call."""

    def __init__(self):
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, GradMode.enabled))
        return x


def test_train_epoch_returns_the_mean_loss_per_sample_and_trains_in_training_mode():
    x, y = clusters(23)
    np.random.seed(0)
    recorder = ModeRecorder()
    model = Sequential(Linear(2, 8), ReLU(), recorder, Linear(8, 3)).eval()
    whole = float(CrossEntropyLoss()(model(Tensor(x)), y).data)  # float32 mean of 23 terms
    recorder.calls.clear()
    mean = train_epoch(
        model, DataLoader(TensorDataset(x, y), batch_size=10), CrossEntropyLoss(), SGD(model.parameters(), 0.0)
    )
    assert mean == pytest.approx(whole, rel=1e-6)  # batches of 10, 10, 3, weighted by size; float32 sums: 1e-6
    assert model.training and [mode for mode, _ in recorder.calls] == [True] * 3


def test_train_epoch_learns_a_separable_problem():
    x, y = clusters(60)
    np.random.seed(1)
    model = Sequential(Linear(2, 16), ReLU(), Linear(16, 3))
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True, seed=0)
    optimizer = Adam(model.parameters(), lr=0.05)
    losses = [train_epoch(model, loader, CrossEntropyLoss(), optimizer) for _ in range(20)]
    assert losses[-1] < 0.05 < losses[0]


def test_evaluate_counts_samples_not_batches():
    inputs = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2, 0]]
    labels = np.array([0, 1, 2, 0, 2, 2, 1])  # 5 of 7 right, the wrong ones in the second and last batch
    model = Sequential(Linear(3, 3))
    model[0].weight.data[...], model[0].bias.data[...] = np.eye(3), 0
    for batch_size in (1, 3, 7):
        assert evaluate(model, DataLoader(TensorDataset(inputs, labels), batch_size=batch_size)) == 5 / 7


@pytest.mark.parametrize("training", [True, False])
def test_evaluate_runs_in_eval_mode_without_a_graph_and_restores_the_mode_even_after_an_error(training):
    x, y = clusters(8)
    recorder = ModeRecorder()
    model = Sequential(Linear(2, 3), Dropout(0.5), recorder).train(training)
    evaluate(model, DataLoader(TensorDataset(x, y), batch_size=3))
    assert recorder.calls == [(False, False)] * 3
    assert model.training is training and model[1].training is training and GradMode.enabled

    def failing_batches():
        yield Tensor(x[:2]), Tensor(y[:2], dtype=np.int64)
        raise RuntimeError("the disk went away")

    with pytest.raises(RuntimeError):
        evaluate(model, failing_batches())
    assert model.training is training and GradMode.enabled


class LinearWithoutBias(Linear):
    def parameters(self):
        return [self.weight]


class Head(Module):
    """A model holding a Sequential one attribute deep and a spare layer its forward never uses."""

    def __init__(self):
        self.body = Sequential(Linear(4, 5), ReLU(), LinearWithoutBias(5, 3))
        self.spare = Linear(2, 7)

    def forward(self, x):
        return self.body(x)

    def parameters(self):
        return self.body.parameters() + self.spare.parameters()

    def train(self, mode=True):
        self.training = mode
        self.body.train(mode)
        return self


def test_named_tensors_names_paths_and_says_what_parameters_forgets():
    names = [(name, listed) for name, _, listed in named_tensors(Head())]
    assert names == [
        ("body[0].weight", True),
        ("body[0].bias", True),
        ("body[2].weight", True),
        ("spare.weight", True),
        ("spare.bias", True),
        ("body[2].bias", False),
    ]


def test_check_parameters_update_names_every_tensor_that_did_not_move():
    np.random.seed(0)
    batch = Tensor(np.random.rand(8, 4)), np.array([0, 1, 2, 0, 1, 2, 0, 1])
    model = Head()
    for p in model.parameters():
        p.grad = Tensor(np.ones(p.shape))  # stale gradients: one real step must clear them first
    names = check_parameters_update(model, CrossEntropyLoss(), batch, SGD(model.parameters(), lr=1e-6))
    assert names == ["spare.weight", "spare.bias", "body[2].bias (not in parameters())"]
    healthy = Sequential(Linear(4, 6), ReLU(), Linear(6, 3))
    assert check_parameters_update(healthy, CrossEntropyLoss(), batch, SGD(healthy.parameters(), lr=1e-6)) == []


def test_check_parameters_update_names_a_parameter_no_attribute_leads_to_by_position_and_shape():
    class Hidden(Module):
        def __init__(self):
            self._store = {"w": Tensor(np.ones((4, 3)), requires_grad=True)}  # in a dict: not walked

        def forward(self, x):
            return x @ self._store["w"]

        def parameters(self):
            return [self._store["w"]]

    model = Hidden()
    batch = Tensor(np.ones((2, 4))), np.array([0, 1])
    names = check_parameters_update(model, CrossEntropyLoss(), batch, SGD(model.parameters(), lr=0.0))
    assert names == ["parameter 0 of shape (4, 3)"]


@pytest.mark.slow  # trains the milestone once: 1 s on one BLAS thread, 15 s with two on a busy 2-core VM
def test_reference_package_trains_the_digits_milestone_to_97_percent_on_held_out_data():
    x_train, y_train, x_test, y_test = load_digits_split()
    np.random.seed(0)
    model = Sequential(Linear(64, 256), ReLU(), Dropout(0.5), Linear(256, 10))
    optimizer = Adam(model.parameters(), lr=2e-3)
    loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True, seed=0)
    for _ in range(60):
        train_epoch(model, loader, CrossEntropyLoss(), optimizer)
    accuracy = evaluate(model, DataLoader(TensorDataset(x_test, y_test), batch_size=256))
    assert accuracy >= 0.97, f"{accuracy:.1%} of the 360 held-out digits"
