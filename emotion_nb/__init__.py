__version__ = "0.1.0"

# The one hand-written module (as in nbdev itself): shortcuts to the entry points later chapters and users need,
# resolved lazily so that `import emotion_nb` stays fast and does not import torch.
_LAZY = {'TrainConfig': 'learner', 'load_model': 'inference', 'evaluate': 'inference', 'predict': 'inference',
         'load_dataset': 'data', 'image_array': 'preprocess', 'OnnxClassifier': 'runtime',
         'load_members': 'ensemble', 'ensemble_probs': 'ensemble', 'soft_vote': 'ensemble', 'train_members': 'ensemble'}

def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f'.{_LAZY[name]}', __name__), name)
    raise AttributeError(f"module 'emotion_nb' has no attribute {name!r}")
