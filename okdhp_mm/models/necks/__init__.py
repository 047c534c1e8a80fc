from .feature_aggregation_unit import FeatureAggregationUnit  # noqa: F401
