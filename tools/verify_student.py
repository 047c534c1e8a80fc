#!/usr/bin/env python
"""Predict keypoints for every annotated person of a COCO file with MMPose's own API.

    python tools/verify_student.py CONFIG CHECKPOINT --ann ANN.json --img-dir DIR --out P.npz
        [--forbid okdhp_mm] [--api topdown|inferencer] [--crop] [--cfg-options k=v ...]

Runs ``okdhp_mm/export/verify_student.py`` by path, without importing ``okdhp_mm``: with
``--forbid okdhp_mm`` the package cannot be imported at all, so a successful run proves the
exported student needs plain MMPose only.
"""
import importlib.util
import os.path as osp
import runpy
import sys

if __name__ == '__main__':
    # find_spec of a top-level package locates it without importing it.
    package = osp.dirname(importlib.util.find_spec('okdhp_mm').origin)
    sys.path.pop(0)  # this folder
    runpy.run_path(osp.join(package, 'export', 'verify_student.py'), run_name='__main__')
