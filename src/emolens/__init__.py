"""emolens: facial emotion recognition (seven FER2013 classes) with a bundled model, offline."""
__version__ = "0.1.0"

from .labels import CLASSES  # noqa: E402


def __getattr__(name):  # lazy: `import emolens` stays fast and needs no onnxruntime until used
    if name in ("Recognizer", "Classifier", "Face", "Result"):
        from . import predict
        return getattr(predict, name)
    if name in ("FaceTracker", "TrackedFace"):
        from . import track
        return getattr(track, name)
    if name == "EmolensError":
        from .errors import EmolensError
        return EmolensError
    raise AttributeError(name)


__all__ = ["CLASSES", "Recognizer", "Classifier", "Face", "Result", "FaceTracker", "TrackedFace", "EmolensError",
           "__version__"]
