"""DeepFind: ``model`` (features, MLP/LightGBM classifier, save/load), ``data`` (variant sets,
TSS tables), ``train`` (fitting). The API lives in ``model``."""
from .model import (  # noqa: F401
    FEATURE_SETS,
    KINDS,
    FORMAT,
    FORMAT_VERSION,
    panel_features,
    feature_matrix,
    MLP,
    DeepFindConfig,
    DeepFindModel,
    model_folder,
    find_model,
    score,
    save,
    load,
)

__all__ = ['FEATURE_SETS', 'KINDS', 'FORMAT', 'FORMAT_VERSION', 'panel_features', 'feature_matrix', 'MLP', 'DeepFindConfig', 'DeepFindModel', 'model_folder', 'find_model', 'score', 'save', 'load']
