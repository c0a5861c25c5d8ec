"""Make chapter 8's derived demo photos from the two public-domain portraits in data/photos/.

    python tools/make_demo_photos.py

Writes, deterministically:

- ``data/photos/group_composite.jpg``: a *composite* (not a real group photo: no public-domain group photo is
  available offline): the two portraits pasted four times on one canvas, at four sizes, two of them mirrored;
- ``data/photos/no_face_shuttle.jpg``: the right-hand strip of the astronaut portrait (a space-shuttle model
  and a helmet), a photo with no face in it;
- ``data/photos/faces.json``: the faces in every demo photo as boxes (x, y, w, h) drawn by hand on the two
  portraits (forehead to chin, cheek to cheek) and carried through the same scaling and mirroring into the
  composite. Chapter 8 measures the detectors' recall against them.

Nothing is downloaded. ``grace_hopper.jpg`` is copied from matplotlib's bundled sample data if it is missing.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from PIL import Image, ImageOps

PHOTOS = Path(__file__).resolve().parent.parent / "data" / "photos"

#: Hand-drawn face boxes (x, y, w, h) in the original portraits.
PORTRAIT_FACES = {
    "astronaut.jpg": [[180, 70, 90, 110]],
    "grace_hopper.jpg": [[165, 165, 185, 170]],
}
CANVAS = (1280, 720)
BACKGROUND = (214, 214, 210)
#: (portrait, scale, mirrored, left, top) for each tile of the composite.
TILES = [
    ("astronaut.jpg", 1.0, False, 24, 104),
    ("grace_hopper.jpg", 0.85, True, 560, 100),
    ("astronaut.jpg", 0.5, True, 1010, 70),
    ("grace_hopper.jpg", 0.4, False, 1030, 390),
]
NO_FACE_STRIP = (340, 0, 512, 512)  # left, top, right, bottom in astronaut.jpg


def main() -> None:
    hopper = PHOTOS / "grace_hopper.jpg"
    if not hopper.exists():
        import matplotlib
        shutil.copy(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg", hopper)

    canvas = Image.new("RGB", CANVAS, BACKGROUND)
    composite_faces = []
    for name, scale, mirrored, left, top in TILES:
        portrait = Image.open(PHOTOS / name).convert("RGB")
        width, height = round(portrait.width * scale), round(portrait.height * scale)
        tile = portrait.resize((width, height), Image.Resampling.LANCZOS)
        if mirrored:
            tile = ImageOps.mirror(tile)
        canvas.paste(tile, (left, top))
        for x, y, w, h in PORTRAIT_FACES[name]:
            x_scaled = (portrait.width - x - w) * scale if mirrored else x * scale
            composite_faces.append([round(left + x_scaled), round(top + y * scale), round(w * scale), round(h * scale)])
    canvas.save(PHOTOS / "group_composite.jpg", quality=88, optimize=True)

    Image.open(PHOTOS / "astronaut.jpg").crop(NO_FACE_STRIP).save(PHOTOS / "no_face_shuttle.jpg", quality=90,
                                                                   optimize=True)
    truth = dict(PORTRAIT_FACES)
    truth["group_composite.jpg"] = composite_faces
    truth["no_face_shuttle.jpg"] = []
    lines = [f" {json.dumps(name)}: {json.dumps(boxes)}" for name, boxes in sorted(truth.items())]
    (PHOTOS / "faces.json").write_text("{\n" + ",\n".join(lines) + "\n}\n")
    for path in sorted(PHOTOS.iterdir()):
        print(f"{path.name:24s} {path.stat().st_size / 1024:6.1f} KiB")


if __name__ == "__main__":
    main()
