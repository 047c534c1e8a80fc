# Metadata lives in setup.cfg; this shim lets `pip install -e .` work.
from setuptools import setup

setup()
