"""Faces in photos: how much face detection and the crop's framing matter, measured on FER2013 faces pasted into photos.

No dataset of uncropped photos with emotion labels ships here, so this script makes one: each of `--n` PublicTest
faces (a fixed random sample) is resized to 64, 96 and 160 px and pasted at a random place into one of scikit-image's
photos (480x360). For each pasted size it measures
  - how often the Haar cascade finds the face (a detection overlapping the pasted box with IoU > 0.3),
  - accuracy when the whole photo is classified as one face (`emotion_predict --no-detect`),
  - accuracy when the detected face is cropped with `find_faces` at each margin,
  - and, on the same faces, accuracy on the original 48 px crops (the ceiling).
The model is the FER2013 benchmark model (`bench/fer_benchmark.py`, `runs/bench/fer_recipe/model.pth`) unless
`--model` names another. Writes bench/results/faces.json; chapter 05b reads its figures from there. Takes about a
minute on a 2-core CPU."""
import argparse, json, platform, time
from pathlib import Path
import numpy as np, torch
from PIL import Image
from skimage import data as sk_data
from emotion_nb.data import find_data, load_dataset
from emotion_nb.preprocess import read_image
from emotion_nb.inference import load_model, image_tensor
from emotion_nb.faces import HaarDetector, crop_face, paste_face

ROOT = Path(__file__).resolve().parents[1]
MARGINS = [-0.1, -0.05, 0., 0.05, 0.1, 0.2, 0.3]
SIZES = [64, 96, 160]

def backgrounds()->list:
    "Photos from scikit-image, 480x360: objects, an animal, a rocket, a micrograph, stars"
    imgs = [sk_data.coffee(), sk_data.chelsea(), sk_data.rocket(), sk_data.immunohistochemistry(), sk_data.hubble_deep_field()[:400, :600]]
    return [Image.fromarray(b).convert('RGB').resize((480, 360)) for b in imgs]

def iou(a, b)->float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])); iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    return ix * iy / (a[2] * a[3] + b[2] * b[3] - ix * iy)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default=str(ROOT/'runs/bench/fer_recipe/model.pth'))
    ap.add_argument('--n', type=int, default=600, help='PublicTest faces sampled')
    ap.add_argument('--out', default=str(ROOT/'bench/results/faces.json'))
    a = ap.parse_args()
    t0, rng = time.time(), np.random.default_rng(0)
    fer = load_dataset(find_data('fer2013'))
    rows = fer.split('test').sample(a.n, random_state=0)
    model, meta = load_model(a.model)
    def predict(imgs):
        x = torch.stack([image_tensor(im, meta.img_size, meta.mean, meta.std, meta.contrast) for im in imgs])
        with torch.no_grad(): return np.concatenate([model(b).argmax(1).numpy() for b in x.split(128)])
    y = np.array([meta.classes.index(l) for l in rows.label])
    faces, bgs, detect = [read_image(p) for p in rows.path], backgrounds(), HaarDetector()
    hits = predict(faces) == y
    res = {'model': a.model, 'model_arch': meta.arch, 'img_size': meta.img_size, 'classes': meta.classes, 'n_faces': a.n,
           'detector': repr(detect), 'original_crops': float(hits.mean()), 'sizes': {}}
    for size in SIZES:
        whole, found, crops, ratios = [], [], {m: [] for m in MARGINS}, []
        for f in faces:
            photo, truth = paste_face(f, bgs[rng.integers(len(bgs))], size, rng)
            whole.append(photo)
            boxes = detect(photo)
            best = max(boxes, key=lambda b: iou(b, truth), default=None)
            ok = best is not None and iou(best, truth) > 0.3
            found.append(ok)
            if ok:
                ratios.append(best[2] / size)
                for m in MARGINS: crops[m].append(crop_face(photo, best, m))
        found = np.array(found)
        res['sizes'][str(size)] = {
            'detected': float(found.mean()), 'box_to_face': float(np.median(ratios)) if ratios else None,
            'whole_photo': float((predict(whole) == y).mean()),
            'original_crop_detected': float(hits[found].mean()),
            'margin_accuracy': {f'{m:g}': float((predict(crops[m]) == y[found]).mean()) for m in MARGINS}}
        print(size, json.dumps(res['sizes'][str(size)]), flush=True)
    mean_acc = {m: np.mean([r['margin_accuracy'][f'{m:g}'] for r in res['sizes'].values()]) for m in MARGINS}
    res['best_margin'] = float(max(mean_acc, key=mean_acc.get))
    res.update(seconds=round(time.time() - t0, 1), machine=platform.processor() or platform.machine(), torch_threads=torch.get_num_threads())
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(f"best margin {res['best_margin']:g}; wrote {a.out} in {res['seconds']:.0f} s")

if __name__ == '__main__': main()
