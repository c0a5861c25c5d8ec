"""The one canonical class order of emolens, and the names other datasets use for the same classes.

No heavy imports here: both the inference path and the training stack read this module.
"""
from __future__ import annotations

CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
NUM_CLASSES = len(CLASSES)
INPUT_SIZE = 48

# Official fer2013.csv label codes -> our class index.
FER_CSV_CODES = {0: "angry", 1: "disgust", 2: "fear", 3: "happy", 4: "sad", 5: "surprise", 6: "neutral"}

SYNONYMS = {
    "angry": "angry", "anger": "angry", "mad": "angry",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happy": "happy", "happiness": "happy", "joy": "happy", "happ": "happy",
    "neutral": "neutral", "calm": "neutral",
    "sad": "sad", "sadness": "sad",
    "surprise": "surprise", "surprised": "surprise", "suprise": "surprise",
}


def class_index(name: str) -> int | None:
    """Map a folder/class name (any case, common synonyms) to our index, or None if it is not one of ours."""
    key = name.strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    canon = SYNONYMS.get(key)
    return None if canon is None else CLASSES.index(canon)
