"""Deterministic synthetic person-keypoint data set in COCO keypoint format.

The generator draws articulated "paper-doll" people: a 3-D kinematic skeleton (pelvis, torso,
head, arms, legs) with random but plausible joint angles (standing, walking, arms raised, arms
out / hands on hips, sitting, crouching and free poses), random body proportions, facing the
camera or facing away (with some yaw), leaning and sometimes rotated. The skeleton is projected
orthographically and every body part is painted as a textured, outlined capsule/polygon in
back-to-front order, so what is drawn and what is annotated are the same geometry:

* body joints (shoulders, elbows, wrists, hips, knees, ankles) sit exactly at limb ends,
* face keypoints sit at the centre of the drawn face markers (eyes, nose, ears),
* a keypoint is ``v=2`` when the pixel under it belongs to one of its own body parts,
  ``v=1`` when it is inside the image but covered (by an occluder, another person or another
  part of the same person) and ``v=0`` with coordinates ``(0, 0)`` when it is outside the image.
  Face points on the far side of the head (eyes and nose of a person facing away, an eye or an
  ear turned away) are not drawn and get ``v=0``, as COCO annotators leave them unlabelled.

Each annotation is real COCO: ``segmentation`` is the outline (``cv2.findContours``) of the
visible part of the figure, ``bbox`` its tight box and ``area`` the area of the polygons as
pycocotools rasterises them.

Every image has its own random stream derived from ``(seed, split, image index)``, so the output
is byte-identical for the same settings, whatever the number of worker processes.

Example::

    from okdhp_mm.datasets.synthetic import generate_synthetic_coco
    info = generate_synthetic_coco('data/synthetic_coco', num_train_images=600,
                                   num_val_images=100, seed=0)
    info['train']['ann_file']  # 'data/synthetic_coco/annotations/person_keypoints_train.json'

Modules: ``params`` (the settings and the COCO person category), ``geometry``, ``figure``
(poses, the articulated figure, placement), ``texture`` (colours, textures, background),
``render`` (painting, :func:`render_synthetic_image`), ``annotate`` (visibility, polygons,
boxes, areas), ``write`` (:func:`generate_synthetic_coco`) and ``splits`` (training, report
and tune splits, :func:`prepare_splits`). Only numpy and OpenCV are needed
(pycocotools, when installed, computes ``area`` exactly as COCO does). Nothing here registers
MMPose modules, so ``import okdhp_mm`` does not load the renderer.
"""
from .params import (COCO_KEYPOINT_NAMES, COCO_SKELETON, SyntheticCocoParams, add_arguments,
                     coco_person_category, params_from_args)
from .render import render_synthetic_image
from .splits import prepare_splits
from .write import generate_synthetic_coco

__all__ = [
    'COCO_KEYPOINT_NAMES', 'COCO_SKELETON', 'SyntheticCocoParams', 'coco_person_category',
    'render_synthetic_image', 'generate_synthetic_coco', 'add_arguments', 'params_from_args',
    'prepare_splits'
]
