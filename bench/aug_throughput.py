"""Augmentation throughput: images per second of each Albumentations preset, next to the closest torchvision v2 pipeline.

For each preset (none, light, medium, heavy) and image size (48 px, FER2013's; 224 px, ImageNet models'), it times
the pipeline on real FER2013 faces (or the built-in synthetic faces when FER2013 is absent), as uint8 H x W x 3 arrays:

- Albumentations: `emotion_nb.augment.aug_pipeline(preset)` on numpy arrays (its native input);
- torchvision v2: the same transforms where v2 has them (see `tv_pipeline`), on tensors (its native input), with
  the transforms it lacks (GridDistortion, MotionBlur, ISONoise, RandomGamma, CLAHE) listed, not faked.

Each is timed in one process (1 core) and in a `DataLoader` with 2 worker processes (the 2 cores of this machine).
Figures go to bench/results/aug_throughput.json (read by nbs/04_augmentation.ipynb). About 3 minutes on 2 cores."""
import argparse, json, os, platform, time
from pathlib import Path
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
import numpy as np, torch
from torchvision.transforms import v2

ROOT = Path(__file__).resolve().parents[1]
MISSING = {'GridDistortion', 'MotionBlur', 'ISONoise', 'RandomGamma'}  # no torchvision v2 counterpart
APPROX = {'CLAHE': 'RandomEqualize (global, not local, equalisation)', 'CoarseDropout': 'RandomErasing (one hole, not several)',
          'Perspective': 'RandomPerspective (distortion_scale ~ 2 x scale)'}

def _rng(v): return v if isinstance(v, (tuple, list)) else (-v, v)

def tv_pipeline(preset:str):
    "The torchvision v2 pipeline closest to `preset`, and the transforms it has no counterpart for"
    from emotion_nb.augment import aug_spec
    spec, geo, jpeg, col, rest, missing = aug_spec(preset), [], [], [], [], []
    ra = lambda t, p: v2.RandomApply([t], p=p)
    for n, kw in spec.items():
        p = kw.get('p', 0.5)
        if n in MISSING: missing.append(n)
        elif n == 'HorizontalFlip': geo.append(v2.RandomHorizontalFlip(p))
        elif n == 'Affine':
            t = kw.get('translate_percent', (0, 0)); s = kw.get('scale', (1, 1)); sh = kw.get('shear', 0)
            geo.append(ra(v2.RandomAffine(degrees=_rng(kw.get('rotate', 0)), translate=(max(map(abs, t)),) * 2, scale=s,
                                          shear=_rng(sh) if sh else None), p))
        elif n == 'Perspective': geo.append(v2.RandomPerspective(distortion_scale=2 * max(_rng(kw['scale'])), p=p))
        elif n == 'ElasticTransform': geo.append(ra(v2.ElasticTransform(alpha=float(kw.get('alpha', 1)), sigma=float(kw.get('sigma', 50))), p))
        elif n == 'ImageCompression': jpeg.append(ra(v2.JPEG(quality=tuple(kw.get('quality_range', (99, 100)))), p))
        elif n == 'RandomBrightnessContrast':
            b, c = kw.get('brightness_limit', 0.2), kw.get('contrast_limit', 0.2)
            col.append(ra(v2.ColorJitter(brightness=max(_rng(b)), contrast=max(_rng(c))), p))
        elif n == 'HueSaturationValue': col.append(ra(v2.ColorJitter(saturation=kw['sat_shift_limit'] / 100, hue=kw['hue_shift_limit'] / 180), p))
        elif n == 'CLAHE': jpeg.append(v2.RandomEqualize(p))
        elif n == 'GaussianBlur': rest.append(ra(v2.GaussianBlur(kernel_size=5, sigma=tuple(kw.get('sigma_limit', (0.5, 3)))), p))
        elif n == 'GaussNoise': rest.append(ra(v2.GaussianNoise(sigma=max(kw.get('std_range', (0.2, 0.44)))), p))
        elif n in ('CoarseDropout', 'Erasing'): rest.append(v2.RandomErasing(p=p, scale=tuple(kw.get('scale', (0.01, 0.04))), value=0))
        else: missing.append(n)
    return v2.Compose([v2.ToImage(), *geo, *jpeg, v2.ToDtype(torch.float32, scale=True), *col, *rest]), missing

class Faces(torch.utils.data.Dataset):
    def __init__(self, imgs, fn): self.imgs, self.fn = imgs, fn
    def __len__(self): return len(self.imgs)
    def __getitem__(self, i): return torch.as_tensor(np.asarray(self.fn(self.imgs[i]), dtype=np.float32).sum())  # keep the result

def rate(imgs, fn, workers):
    "Images per second of `fn` over `imgs` in one process (workers=0) or in a DataLoader with `workers` processes"
    if workers == 0:
        for im in imgs[:20]: fn(im)  # warm up
        t = time.perf_counter()
        for im in imgs: fn(im)
        return len(imgs) / (time.perf_counter() - t)
    dl = torch.utils.data.DataLoader(Faces(imgs, fn), batch_size=64, num_workers=workers, persistent_workers=False)
    t = time.perf_counter(); sum(1 for _ in dl)
    return len(imgs) / (time.perf_counter() - t)

def load_faces(data, n):
    from emotion_nb.data import load_dataset
    from emotion_nb.preprocess import read_image
    try: ds = load_dataset(data)
    except Exception: ds, data = load_dataset('synthetic'), 'synthetic'
    rows = ds.items.sample(min(n, len(ds.items)), random_state=0)
    return [np.asarray(read_image(r.path, r.pixels if isinstance(r.pixels, str) else None).convert('RGB')) for _, r in rows.iterrows()], data

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='fer2013')
    ap.add_argument('--n', type=int, default=1500, help='images per measurement at 48 px (224 px: a quarter)')
    ap.add_argument('--results', default=str(ROOT/'bench'/'results'/'aug_throughput.json'))
    a = ap.parse_args()
    torch.set_num_threads(1)
    import cv2; cv2.setNumThreads(1)
    from PIL import Image
    from emotion_nb.augment import aug_pipeline, PRESETS
    faces, data = load_faces(a.data, a.n)
    rows = []
    for size in (48, 224):
        imgs = [np.asarray(Image.fromarray(f).resize((size, size), Image.BILINEAR)) for f in faces[: a.n if size == 48 else a.n // 4]]
        for preset in PRESETS:
            alb = aug_pipeline(preset, seed=0); tv, missing = tv_pipeline(preset)
            albf, tvf = (lambda im: alb(image=im)['image']), (lambda im: tv(im))
            r = {'size': size, 'preset': preset, 'n_transforms': len(alb.transforms), 'tv_missing': missing,
                 **{f'{lib}_{w}w': round(rate(imgs, f, w), 1) for lib, f in (('albumentations', albf), ('torchvision', tvf)) for w in (0, 2)}}
            rows.append(r); print(r, flush=True)
    res = {'data': str(data), 'approximations': APPROX, 'rows': rows,
           'machine': {'cpu_count': os.cpu_count(), 'platform': platform.platform(), 'torch': torch.__version__}}
    Path(a.results).write_text(json.dumps(res, indent=1))
    print(f"\n{'size':>4} {'preset':7} {'n':>3} {'alb 1 core':>10} {'tv 1 core':>10} {'alb 2 workers':>13} {'tv 2 workers':>12}")
    for r in rows:
        print(f"{r['size']:4d} {r['preset']:7} {r['n_transforms']:3d} {r['albumentations_0w']:10.0f} {r['torchvision_0w']:10.0f} "
              f"{r['albumentations_2w']:13.0f} {r['torchvision_2w']:12.0f}")

if __name__ == '__main__': main()
