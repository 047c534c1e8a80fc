#!/usr/bin/env python
"""Export the student of a multi-branch model or distiller as a plain MMPose model.

    python tools/export_student.py CONFIG CHECKPOINT --branch {k|best} --out DIR

Writes DIR/<name>.py (MMPose types only; a student with our released stacked hourglass also
imports okdhp_mm, and the tool says so), DIR/<name>-<sha256[:8]>_<date>.pth (meta +
state_dict) and DIR/<name>.yml (model-index entry with params, FLOPs and the branch's metric).
"""
import argparse
import json
import sys

from okdhp_mm.export import ExportError, export_student


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--branch', default='best',
                   help='branch index, or "best" (highest last validation metric); '
                        'ignored for single-student distillers')
    p.add_argument('--out', required=True, help='output folder')
    p.add_argument('--name', help='file name stem (default: <config>_student-branch<k>)')
    p.add_argument('--onnx', action='store_true',
                   help='also write DIR/<name>.onnx (dynamic batch) and check it with ONNX '
                        'Runtime against PyTorch (max |difference| <= 1e-4)')
    p.add_argument('--check-ann', help='COCO keypoint file whose persons the ONNX check '
                                       'crops (default: random crops)')
    p.add_argument('--check-img-dir', help='image folder of --check-ann')
    args = p.parse_args(argv)
    try:
        info = export_student(args.config, args.checkpoint, args.out, branch=args.branch,
                              name=args.name, onnx=args.onnx, check_ann=args.check_ann,
                              check_img_dir=args.check_img_dir)
    except (ExportError, FileNotFoundError) as err:
        print(f'export_student: error: {err}', file=sys.stderr)
        return 2
    if info['requires']:
        print(f'export_student: note: this student needs {", ".join(info["requires"])} at '
              f'inference (its config imports it): it is not a plain MMPose model',
              file=sys.stderr)
    if args.onnx:
        print(f'export_student: {info["onnx"]}: max |onnxruntime - pytorch| = '
              f'{info["max_abs_diff"]:.2e} on {info["checked_crops"]} crops', file=sys.stderr)
    print(json.dumps(info))  # one line, last: scripts read it
    return 0


if __name__ == '__main__':
    sys.exit(main())
