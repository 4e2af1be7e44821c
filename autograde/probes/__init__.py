"""Probes: one self-contained module per course module, named like its check pack (autograde/packs/<name>.py).

Each runs inside the sandbox, where `tinytorch` is the student's package, and imports nothing but numpy, the stdlib
and `tinytorch.core.*`. A probe is `def name(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]`; the output
key prefixes tell the judges how to compare (see probes/tensor.py). No probe module imports another.
"""
