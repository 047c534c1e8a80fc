# The frame of MMPose's top-down configs (estimator, data preprocessor, flip test) without a
# network: the pieces whose MMPose base carries a network they replace start from it
# (``model = dict(_base_.topdown_frame, _delete_=True)``) and add backbone and head.
topdown_frame = dict(
    _scope_='mmpose',  # as MMPose's config gives it: build in MMPose's registry
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))
