"""Pack FER2013's training JPEGs into one small file, to carry the data to a machine without the dataset.

    python tools/pack_dataset.py --data ../shared/fer2013 --split train --out .device/fer_train.pack

The JPEG files are stored byte for byte (nothing is re-encoded: the faces decode to exactly the same pixels),
one after another in one ``.npz`` (``jpeg``: the bytes, ``offsets``, ``labels``, ``files``, and ``sha256`` of the
decoded faces, in ``fer_helpers.data.load_split``'s order) compressed with xz: the header every FER2013 JPEG
repeats compresses away. ``tools/train_on_device.py`` reads it back and checks the decoded faces' hash.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import lzma
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fer_helpers import data


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the dataset folder (any layout fer_helpers reads)")
    parser.add_argument("--split", default="train")
    parser.add_argument("--out", required=True, help="the pack file to write")
    args = parser.parse_args(argv)
    split = data.load_split(args.data, args.split)
    folder = data.split_folder(Path(args.data), args.split)
    if folder is None:
        sys.exit(f"{args.data}: packing needs the image-folder layout (the JPEG bytes are what travels)")
    blobs = [(folder / f).read_bytes() for f in split.files]
    offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    buffer = io.BytesIO()
    np.savez(buffer, jpeg=np.frombuffer(b"".join(blobs), np.uint8), offsets=offsets, labels=split.y,
             files=np.asarray(split.files), sha256=np.asarray(hashlib.sha256(split.x.tobytes()).hexdigest()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_bytes(lzma.compress(buffer.getvalue(), preset=6))
    print(f"{args.out}: {len(split.files)} faces, {Path(args.out).stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
