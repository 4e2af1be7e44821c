"""Probes: one self-contained module per course module, named like its check pack (autograde/packs/<name>.py).

Each runs inside the sandbox, where `tinytorch` is the student's package, and imports nothing but numpy, the stdlib,
`tinytorch.core.*` and this folder's `common` and `protocol`. A probe is `def name(inputs: dict[str, np.ndarray])
-> Outputs`: it records each output with the method of its kind (`common.Outputs`), which says how the grader judges
it (`protocol`, the probe protocol: the one module here that the grader imports too). No probe module imports another.
"""
