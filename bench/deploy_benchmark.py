"""Deployment benchmark: a FER2013 model (by default resnet18 at 224 px; --model: any checkpoint, at its own size) on this CPU — PyTorch fp32 eager vs onnxruntime fp32 vs onnxruntime int8.

One run, one table (bench/results/deploy.json, shown by nbs/05_deployment.ipynb):

    file size | latency p50/p95 at batch 1 and batch 32 | throughput | FER2013 PublicTest accuracy | top-1 agreement with fp32

for PyTorch fp32 (eager), PyTorch with a dynamically quantized int8 head, onnxruntime fp32, onnxruntime int8 static
(QDQ, per-channel 7-bit weights, calibrated on `--n-calib` FER2013 training images, stratified: 252 of the default 256),
the same with 8-bit weights, and onnxruntime int8 dynamic (the wrong tool for CNNs, for contrast). For both static
models, `int8_weights` records the 16-bit pair bound of their weights and their accuracy with onnxruntime's fused
integer kernels and unfused (graph optimizations off), and `machine.cpu_int8` whether this CPU has VNNI:
without it, the fused kernels add pairs of products in 16 bits, which 8-bit weights can overflow. Targets checked and printed: int8 >= 4x faster than PyTorch fp32 at batch 1, >= 3.9x smaller,
accuracy within 1 point, top-1 agreement >= 98%.

The model: a resnet18 trained on FER2013 by this project (no ImageNet weights can be downloaded here). Training at
224 px from scratch on 2 CPU cores does not fit a session (about 14 images/s), so the default model is trained with
progressive resizing, as in fastai's course: from scratch at 64 px (`--minutes-64`), then the whole model, head
included, trained on at 224 px (`--minutes-224`, on `--frac-224` of the training images, at `--lr-224`); give
`--model PATH` to benchmark your own checkpoint instead."""
import argparse, json, os, platform, time
from pathlib import Path
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
import numpy as np, pandas as pd, torch
from fastai.callback.core import Callback

ROOT = Path(__file__).resolve().parents[1]

class StartFrom(Callback):
    "Start the fit from every weight of a checkpoint, head included (progressive resizing keeps what the head learned)"
    order = 0
    def __init__(self, path): self.path = path
    def before_fit(self):
        from emotion_nb.learner import load_checkpoint
        self.learn.model.load_state_dict(load_checkpoint(self.path)['model'])

def train_resnet18(data, out, m64, m224, frac, lr224):
    "resnet18 from scratch at 64 px, then trained on at 224 px (all weights kept) on a stratified share of the training images"
    from emotion_nb.data import load_dataset, stratified_subset
    from emotion_nb.audit import clean_dataset
    from emotion_nb.train import train
    from emotion_nb.learner import TrainConfig
    ds = clean_dataset(load_dataset(data, valid_pct=0.2, seed=42), verbose=False)
    s1 = out/'r18_64'
    if not (s1/'model.pth').exists():
        train(ds, s1, TrainConfig(arch='resnet18', pretrained='none', img_size=64, max_minutes=m64, seed=42))
    small = stratified_subset(ds, {'train': frac, 'valid': 0.25})
    s2 = out/'r18_224'
    if not (s2/'model.pth').exists():
        train(small, s2, TrainConfig(arch='resnet18', pretrained=str(s1/'model.pth'), img_size=224, max_minutes=m224, seed=42,
                                     unfreeze=[0, 0], lr_backbone=lr224, lr_head=lr224, warmup_epochs=0.3),
              cbs=[StartFrom(s1/'model.pth')])
    return s2/'model.pth', ds

def compare_calibration(fp32, stem, calib, x, y, methods):
    "Accuracy and top-1 agreement with onnxruntime fp32 of a static int8 model per calibration method, and how long each took"
    from emotion_nb.deploy import quantize_int8, onnx_runner, predicted_classes
    def preds(path): return predicted_classes(onnx_runner(path), x)
    ref, rows = preds(fp32), {}
    for m in methods:
        t = time.time()
        try: q = quantize_int8(fp32, f'{stem}.int8_{m}.onnx', calib, method=m)
        except Exception as e: rows[m] = {'error': f'{type(e).__name__}: {e}'}; print(f"calibration {m} failed: {e}", flush=True); continue
        s, p = time.time() - t, preds(q)
        rows[m] = {'accuracy': float((p == y).mean()), 'top1_agreement': float((p == ref).mean()), 'calibration_s': round(s, 1)}
        print(f"calibration {m}: {rows[m]}", flush=True)
    return pd.DataFrame(rows).T

def cpu_int8_kernels()->str:
    "Which x86 int8 dot-product instructions this CPU has, read from /proc/cpuinfo (onnxruntime picks its fused kernels by them)"
    try: flags = set(next(l for l in open('/proc/cpuinfo') if l.startswith('flags')).split(':')[1].split())
    except (OSError, StopIteration): return 'unknown'
    have = [f for f in ('avx512_vnni', 'avx_vnni') if f in flags]
    return ('VNNI (' + ', '.join(have) + ')') if have else ('no VNNI (AVX2 only)' if 'avx2' in flags else 'no VNNI, no AVX2')

def batch_probs(clf, x, bs:int=64):
    "Probabilities of an `OnnxClassifier` for preprocessed images `x`, in batches"
    return np.concatenate([clf.run(x[i:i + bs]) for i in range(0, len(x), bs)])

def fused_vs_unfused(path, x, y):
    "An int8 model run with onnxruntime's fused integer kernels and unfused (graph optimizations off: every operator as the file writes it, dequantized to floats)"
    from emotion_nb.deploy import int16_pair_bound
    from emotion_nb.runtime import OnnxClassifier
    pf, pe = batch_probs(OnnxClassifier(path), x), batch_probs(OnnxClassifier(path, optimize=False), x)
    return {'int16_pair_bound': int16_pair_bound(path), 'fused_accuracy': float((pf.argmax(1) == y).mean()),
            'unfused_accuracy': float((pe.argmax(1) == y).mean()), 'fused_vs_unfused_top1_agreement': float((pf.argmax(1) == pe.argmax(1)).mean()),
            'fused_vs_unfused_max_abs_diff': float(np.abs(pf - pe).max())}

def flip_confidence(fp32, int8, x):
    "How sure the fp32 model was of the faces whose top class int8 changes, and of those it keeps (median top probability)"
    from emotion_nb.runtime import OnnxClassifier
    p, q = batch_probs(OnnxClassifier(fp32), x), batch_probs(OnnxClassifier(int8), x)
    flip = p.argmax(1) != q.argmax(1)
    return {'flipped': int(flip.sum()), 'median_fp32_top_prob_flipped': float(np.median(p.max(1)[flip])) if flip.any() else None,
            'median_fp32_top_prob_kept': float(np.median(p.max(1)[~flip]))}

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='fer2013')
    ap.add_argument('--model', default=None, help="a checkpoint of this project to benchmark, at its own input size (default: train a resnet18, see above)")
    ap.add_argument('--minutes-64', type=float, default=20); ap.add_argument('--minutes-224', type=float, default=15)
    ap.add_argument('--frac-224', type=float, default=0.25); ap.add_argument('--lr-224', type=float, default=1e-3)
    ap.add_argument('--n-test', type=int, default=0, help='PublicTest images scored (0: all)')
    ap.add_argument('--n-runs', type=int, default=40, help='timed runs at batch 1 (batch 32: a third)')
    ap.add_argument('--calib-method', default='minmax', help="calibration of the benchmarked int8 model: minmax, percentile or entropy")
    ap.add_argument('--n-calib', type=int, default=256, help='calibration images, drawn from the training split')
    ap.add_argument('--compare-calib', default='minmax,percentile,entropy', help="calibration methods compared on accuracy and agreement ('' to skip)")
    ap.add_argument('--out', default=str(ROOT/'runs'/'deploy_bench'))
    ap.add_argument('--results', default=str(ROOT/'bench'/'results'/'deploy.json'))
    a = ap.parse_args()
    from emotion_nb.data import load_dataset
    from emotion_nb.audit import clean_dataset
    from emotion_nb.inference import load_model
    from emotion_nb.deploy import (export_onnx, verify_onnx, verification_text, quantize_int8, quantize_dynamic_int8,
                                   calibration_items, items_images, torch_runner, onnx_runner,
                                   torch_dynamic_head, compare_variants, state_dict_bytes)
    from emotion_nb.runtime import OnnxClassifier
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    if a.model: model_path, ds = Path(a.model), clean_dataset(load_dataset(a.data), verbose=False)
    else: model_path, ds = train_resnet18(a.data, out, a.minutes_64, a.minutes_224, a.frac_224, a.lr_224)
    net, meta = load_model(model_path)
    test = ds.split('test')
    if a.n_test: test = test.sample(min(a.n_test, len(test)), random_state=0)
    tag = meta.arch + ('' if not a.model else f'_{Path(a.model).parent.name}')
    fp32 = export_onnx(model_path, out/f'{tag}.onnx')
    ver = verify_onnx(fp32, model_path, items_images(test.head(64))); print(verification_text(ver), flush=True)
    calib = calibration_items(a.data, a.n_calib)
    t = time.time(); int8 = quantize_int8(fp32, out/f'{tag}.int8.onnx', calib, method=a.calib_method); q_s = time.time() - t
    int8_8bit = quantize_int8(fp32, out/f'{tag}.int8_8bit.onnx', calib, method=a.calib_method, reduce_range=False)
    dyn = quantize_dynamic_int8(fp32, out/f'{tag}.dyn.onnx')
    clf = OnnxClassifier(fp32)
    print(f"preprocessing {len(test)} PublicTest images ...", flush=True)
    x = np.stack([clf.preprocess(im) for im in items_images(test)]); y = test.label.map(meta.classes.index).to_numpy()
    calib_tab = compare_calibration(fp32, out/f'{tag}', calib, x, y, [m for m in a.compare_calib.split(',') if m])
    dyn_head = torch_dynamic_head(load_model(model_path)[0])
    variants = {'PyTorch fp32 (eager)': (torch_runner(net), state_dict_bytes(net)),  # weights only, as torch.save writes them
                'PyTorch, dynamic int8 head': (torch_runner(dyn_head), state_dict_bytes(dyn_head)),
                'onnxruntime fp32': (onnx_runner(fp32), fp32.stat().st_size),
                'onnxruntime int8 static (QDQ)': (onnx_runner(int8), int8.stat().st_size),
                'onnxruntime int8 static, 8-bit weights': (onnx_runner(int8_8bit), int8_8bit.stat().st_size),
                'onnxruntime int8 dynamic': (onnx_runner(dyn), dyn.stat().st_size)}
    tab = compare_variants(variants, x, y, n_runs=a.n_runs)
    weights = {'7-bit (reduce_range, the default)': fused_vs_unfused(int8, x, y), '8-bit': fused_vs_unfused(int8_8bit, x, y)}
    for k, v in weights.items(): print(f"int8, {k} weights: {v}", flush=True)
    ref, q = tab.loc['PyTorch fp32 (eager)'], tab.loc['onnxruntime int8 static (QDQ)']
    targets = {'int8 >= 4x faster than PyTorch fp32 at batch 1': bool(q.speedup_b1 >= 4),
               'int8 >= 3.9x smaller': bool(q.smaller >= 3.9),
               'int8 accuracy within 1 point of fp32': bool(abs(q.accuracy - ref.accuracy) <= 0.01),
               'int8 top-1 agreement >= 98%': bool(q.top1_agreement >= 0.98)}
    m = json.loads((model_path.parent/'metrics.json').read_text()) if (model_path.parent/'metrics.json').exists() else {}
    res = {'model': {'path': str(model_path), 'arch': meta.arch, 'img_size': meta.img_size, 'epochs': meta.epoch,
                     'trained': 'from scratch at 64 px, then trained on at 224 px (progressive resizing)' if not a.model
                                else f"given: {m.get('epochs_run', '?')} epochs at {meta.img_size} px, pretrained {m.get('pretrained', '?')}", 'test_accuracy': m.get('test', {}).get('accuracy'),
                     'test_macro_f1': m.get('test', {}).get('macro_f1'),
                     'valid_accuracy': m.get('valid', {}).get('accuracy')},
           'bench_size': meta.img_size, 'test_images': len(test), 'verification': ver, 'quantize_seconds': round(q_s, 1),
           'variants': tab.to_dict('index'), 'targets': targets,
           'int8_weights': weights, 'int8_flips': flip_confidence(fp32, int8, x),
           'int8_calibration': {'method': a.calib_method, 'images': len(calib), 'compared': calib_tab.to_dict('index')},
           'machine': {'cpu_count': os.cpu_count(), 'platform': platform.platform(), 'torch': torch.__version__,
                       'torch_threads': torch.get_num_threads(), 'onnxruntime': __import__('onnxruntime').__version__,
                       'cpu_int8': cpu_int8_kernels()}}
    Path(a.results).write_text(json.dumps(res, indent=1))
    pd.set_option('display.width', 200)
    print(tab.round(3).to_string())
    if len(calib_tab): print(calib_tab.round(4).to_string())
    for k, v in targets.items(): print(f"{'met' if v else 'NOT MET'}: {k}")

if __name__ == '__main__': main()
