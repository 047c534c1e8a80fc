"""Report figures: MMEngine scalar logs, curves without validation, prediction rows."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from okdhp_mm.visualization import training_report
from okdhp_mm.visualization.training_report import (draw_prediction_rows, plot_training_curves,
                                               read_scalars)


def _scalars(work_dir, stamp, records):
    path = work_dir / stamp / 'vis_data'
    path.mkdir(parents=True)
    with open(path / 'scalars.json', 'w') as f:
        f.write('\n'.join(json.dumps(r) for r in records) + '\n')


def test_read_scalars_takes_the_newest_training_not_a_later_evaluation(tmp_path):
    _scalars(tmp_path, '20261202_010000', [dict(loss=1.0, step=1), dict(loss=0.5, step=2)])
    _scalars(tmp_path, '20261202_020000', [dict(loss=0.9, step=1), {'coco/AP': 0.3, 'step': 1}])
    _scalars(tmp_path, '20261202_030000', [{'coco/AP': 0.4, 'step': 1}])  # evaluate-only run
    logs = read_scalars(str(tmp_path))
    assert [r['loss'] for r in logs['train']] == [0.9]
    assert logs['val'] == [{'coco/AP': 0.3, 'step': 1}]
    with pytest.raises(FileNotFoundError, match='LocalVisBackend'):
        read_scalars(str(tmp_path / 'nothing'))


def test_curves_without_validation_draw_the_loss_panel_only(tmp_path):
    _scalars(tmp_path / 'a', 's', [dict(loss=1.0 / (i + 1), step=i) for i in range(5)])
    _scalars(tmp_path / 'b', 's', [dict(loss=1.0, loss_gt_b0=0.5, loss_gt_b1=0.6, step=i)
                                   for i in range(5)])
    out = tmp_path / 'curves.png'
    plot_training_curves({'alone': str(tmp_path / 'a'), 'method': str(tmp_path / 'b')},
                         str(out))
    h, w = cv2.imread(str(out)).shape[:2]
    assert (w, h) == (round(6.5 * 110), round(4.5 * 110))  # one panel at 110 dpi
    _scalars(tmp_path / 'c', 's', [dict(loss=1.0, step=1), {'coco/AP': 0.3, 'step': 1}])
    plot_training_curves({'with val': str(tmp_path / 'c')}, str(out))
    assert cv2.imread(str(out)).shape[1] == 12 * 110  # loss and AP panels


def test_prediction_rows_stack_labelled_rows_of_each_model(tmp_path, monkeypatch):
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(dict(images=[], annotations=[])))
    widths = {'a.py': 40, 'b.py': 60}
    calls = []

    def fake_row(config, checkpoint, coco, img_dir, num_images, device):
        calls.append((config, checkpoint, num_images))
        return np.full((10, widths[config], 3), 100, np.uint8)

    monkeypatch.setattr(training_report, '_prediction_row', fake_row)
    out = tmp_path / 'rows.png'
    draw_prediction_rows([('alone', 'a.py', 'a.pth'), ('method', 'b.py', 'b.pth')], str(ann),
                         str(tmp_path), str(out), num_images=3)
    img = cv2.imread(str(out))
    assert calls == [('a.py', 'a.pth', 3), ('b.py', 'b.pth', 3)]
    assert img.shape == (2 * (28 + 10), 60, 3)       # label band + row, padded to the widest
    assert (img[28:38, :40] == 100).all() and (img[28:38, 40:] == 0).all()
    assert (img[66:76] == 100).all()
    assert img[:28].min() < 255                       # the label is written in the band
