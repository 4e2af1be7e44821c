"""Course tooling for TinyTorch: settings, notebook export and execution, release and grading helpers.

Instructors and CI use this package; students never need it.
"""
