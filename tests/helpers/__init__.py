"""Helpers shared by the tests (no tests here): paths, tiny models and batches, in-process
training, reference implementations, crafted checkpoints.

Importable as ``helpers`` because setup.cfg's ``[tool:pytest]`` puts ``tests/`` on the path.
"""
