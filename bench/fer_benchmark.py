"""FER2013 benchmark: transfer learning from ImageNet against training from scratch, under one time budget.

Each part runs the console scripts (or, for the cross-validation and the learning curve, the library) as a user
would, and writes its entry of bench/results/fer2013.json as soon as it is done, so a long run can be split over
several sessions (--only / --skip) and every notebook figure is read from that file:

  sweep     ImageNet EfficientNet-Lite0 at 48, 64 and 96 px, --sweep-minutes each: which input size fits the budget
  recipe    emotion_train --data FER2013 --max-minutes 45           (no other flag: the defaults decide)
  small_crop  the recipe with bench/recipe_small_crop.yaml: batches of 64, each training face a random 44 px crop of
            the 64 px image, not resized (`small_crop`); small_crop_lr: the same with the backbone at lr 1e-3 (recipe_small_crop_lr.yaml)
  full_train  the recipe with 5% of the training faces for validation instead of 20% (bench/recipe_full_train.yaml)
  scratch   emotion_train --data FER2013 --pretrained none --max-minutes 45   (the best from-scratch model, fer_cnn)
  sidebyside the recipe and the from-scratch model trained at the same time, one thread each, --sbs-minutes each:
            both get the same share of the CPU whatever else the machine does (the issue's reference protocol)
  baseline  emotion_train --data FER2013 --config bench/baseline.yaml --max-minutes 45   (small CNN, plain training)
  member2   the recipe again with --seed 7: the second member of a two-model ensemble
  ensemble  bench/fer_ensemble.py on recipe + member2 (soft, hard and weighted votes on PublicTest)
  curve     learning curve: 1%, 5%, 20% and 100% of the training faces, ImageNet against scratch, --curve-minutes each
  ckplus    CK+48, subject-grouped 5-fold cross-validation, --ck-epochs each, for four starts: ImageNet -> CK+,
            FER2013 -> CK+ (the scratch model), ImageNet -> FER2013 -> CK+ (the recipe model) and scratch

PublicTest (the Kaggle layout's test folder) is the test split; the validation split is carved from the training faces.
Uses CUDA when present. Not a test: about 5 hours on a 2-core CPU for everything; run it on an otherwise idle machine,
since the budget is wall-clock time."""
import argparse, json, os, platform, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PARTS = ['sweep', 'recipe', 'small_crop', 'small_crop_lr', 'full_train', 'scratch', 'sidebyside', 'baseline', 'member2', 'ensemble', 'curve', 'ckplus']

def run(*args, log=None):
    "Run a console script, echoing the end of its output (and writing all of it to `log`)"
    print('$', ' '.join(map(str, args)), flush=True)
    t = time.time()
    p = subprocess.run([str(BIN/args[0]) if (BIN/args[0]).exists() else args[0], *map(str, args[1:])], capture_output=True, text=True)
    if log: Path(log).write_text(p.stdout + p.stderr)
    print(p.stdout[-2000:], p.stderr[-2000:], sep='', flush=True)
    if p.returncode: sys.exit(f"{args[0]} failed with exit status {p.returncode}")
    return p.stdout, time.time() - t

def evaluate(model, data, split='test', tta=False):
    "`emotion_evaluate --json` of one model"
    out, _ = run('emotion_evaluate', '--model', model, '--data', data, '--split', split, '--json', *(['--tta'] if tta else []))
    m = json.loads(out.strip().splitlines()[-1])
    return {k: m[k] for k in ('n', 'accuracy', 'macro_f1', 'per_class', 'confusion', 'classes')}

def run_record(d, wall, command)->dict:
    "What a finished run in folder `d` reports: its settings, speed, curve and validation figures"
    m = json.loads((d/'metrics.json').read_text())
    return {'command': command, 'wall_seconds': round(wall, 1), 'history_csv': (d/'history.csv').read_text(),
            **{k: m[k] for k in ('arch', 'pretrained', 'img_size', 'epochs_run', 'epochs_planned', 'stopped_by', 'best_epoch',
                                 'train_images', 'train_images_per_s', 'fit_seconds', 'device', 'precision', 'overfitting')},
            'config': m['config'], 'valid': {k: m['valid'][k] for k in ('n', 'accuracy', 'macro_f1')}}

def train_cli(name, data, out, *flags, test=True):
    "Train with `emotion_train` into `out/name`, then score PublicTest (plain and with flip TTA)"
    d = out/name
    if d.exists(): shutil.rmtree(d)
    command = ['emotion_train', '--data', data, '--out', d, *flags]
    _, wall = run(*command, log=out/f'{name}.log')
    r = run_record(d, wall, ' '.join(map(str, command)))
    if test: r['test'], r['test_tta'] = evaluate(d/'model.pth', data), evaluate(d/'model.pth', data, tta=True)
    return r

def side_by_side(fer, out, minutes)->dict:
    "ImageNet Lite0 (the recipe) and the from-scratch CNN trained at once, one thread each, `minutes` each; PublicTest scores"
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'NO_ALBUMENTATIONS_UPDATE': '1'}
    procs = {}
    for start, flags in (('imagenet', []), ('scratch', ['--pretrained', 'none'])):
        d = out/f'sbs_{start}'; shutil.rmtree(d, ignore_errors=True)
        cmd = ['emotion_train', '--data', fer, '--out', d, '--max-minutes', minutes, *flags]
        print('$', ' '.join(map(str, cmd)), '(1 thread, in parallel)', flush=True)
        log = open(out/f'sbs_{start}.log', 'w')
        procs[start] = (subprocess.Popen([str(BIN/cmd[0]), *map(str, cmd[1:])], env=env, stdout=log, stderr=subprocess.STDOUT), time.time(), cmd, d)
    res = {}
    for start, (p, t, cmd, d) in procs.items():
        if p.wait(): sys.exit(f"{cmd[0]} ({start}) failed: see {out/f'sbs_{start}.log'}")
        res[start] = {**run_record(d, time.time() - t, ' '.join(map(str, cmd))), 'threads': 1, 'test': evaluate(d/'model.pth', fer)}
    return res

def curve_point(ds, frac, start, minutes, out):
    "One point of the learning curve: `frac` of the training faces, ImageNet or scratch, `minutes` of training"
    from emotion_nb.data import stratified_subset
    from emotion_nb.train import train
    from emotion_nb.learner import TrainConfig
    sub = stratified_subset(ds, {'train': frac}) if frac < 1 else ds
    t = time.time()
    r = train(sub, out/f'curve_{start}_{frac}', TrainConfig(pretrained=start, max_minutes=minutes), verbose=False)
    return {'fraction': frac, 'start': start, 'train_images': r.metrics['train_images'], 'epochs_run': r.metrics['epochs_run'],
            'arch': r.metrics['arch'], 'img_size': r.metrics['img_size'], 'seconds': round(time.time() - t, 1),
            'valid_accuracy': r.metrics['valid']['accuracy'], 'test_accuracy': r.metrics['test']['accuracy'],
            'test_macro_f1': r.metrics['test']['macro_f1']}

def ck_folds(ck, k=5, seed=0):
    "`k` subject-grouped, class-stratified folds of CK+48: (train+valid table per fold)"
    import numpy as np
    from sklearn.model_selection import StratifiedGroupKFold
    from emotion_nb.data import EmotionDataset
    it = ck.items.reset_index(drop=True)
    for _, va in StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(it, it.label, it.group):
        f = it.assign(split='train'); f.loc[va, 'split'] = 'valid'
        yield EmotionDataset(f, ck.classes, ck.fmt, ck.root)

def ckplus_cv(ck_src, starts, epochs, out, res=None, save=lambda: None):
    "Subject-grouped 5-fold cross-validation on CK+48 for each start (saved as each finishes; finished starts are kept)"
    import numpy as np
    from emotion_nb.data import load_dataset
    from emotion_nb.train import train
    from emotion_nb.learner import TrainConfig
    ck, res = load_dataset(ck_src), {} if res is None else res
    for name, pretrained in starts.items():
        if name in res and res[name].get('epochs') == epochs: continue
        folds = []
        for i, ds in enumerate(ck_folds(ck)):
            r = train(ds, out/f'ck_{name}_{i}', TrainConfig(pretrained=str(pretrained), epochs=epochs), verbose=False)
            folds.append({'fold': i, 'n_valid': r.metrics['valid']['n'], 'best_accuracy': r.metrics['valid']['accuracy'],
                          'last_accuracy': float(r.history.accuracy.iloc[-1]), 'macro_f1': r.metrics['valid']['macro_f1'],
                          'arch': r.metrics['arch'], 'img_size': r.metrics['img_size']})
        last = np.array([f['last_accuracy'] for f in folds]); best = np.array([f['best_accuracy'] for f in folds])
        res[name] = {'pretrained': str(pretrained), 'epochs': epochs, 'folds': folds, 'last_mean': float(last.mean()), 'last_std': float(last.std(ddof=1)),
                     'best_mean': float(best.mean()), 'best_std': float(best.std(ddof=1))}
        print(f"CK+ {name}: last-epoch accuracy {last.mean():.3f} +- {last.std(ddof=1):.3f}", flush=True)
        save()
    return res

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--fer', default='fer2013', help='FER2013 folder, archive or dataset name')
    ap.add_argument('--ckplus', default='ckplus48', help='CK+48 folder, archive or dataset name')
    ap.add_argument('--minutes', type=float, default=45, help='time budget of each main FER2013 run')
    ap.add_argument('--sweep-minutes', type=float, default=15, help='time budget of each input size in the sweep')
    ap.add_argument('--sbs-minutes', type=float, default=15, help='time budget of each side-by-side run (one thread each)')
    ap.add_argument('--curve-minutes', type=float, default=10, help='time budget of each learning-curve point')
    ap.add_argument('--ck-epochs', type=int, default=20, help='epochs of each CK+48 fold')
    ap.add_argument('--out', default=str(ROOT/'runs'/'bench'), help='folder for the runs')
    ap.add_argument('--results', default=str(ROOT/'bench'/'results'/'fer2013.json'))
    ap.add_argument('--only', nargs='*', choices=PARTS, help='run only these parts')
    ap.add_argument('--skip', nargs='*', default=[], choices=PARTS, help='skip these parts')
    a = ap.parse_args()
    parts = [p for p in (a.only or PARTS) if p not in a.skip]
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    res_path = Path(a.results); res_path.parent.mkdir(parents=True, exist_ok=True)
    res = json.loads(res_path.read_text()) if res_path.exists() else {}
    import torch
    from emotion_nb.data import find_data, load_dataset
    from emotion_nb.audit import split_stats, contrast_shift
    fer = str(find_data(a.fer) or a.fer)
    res['machine'] = {'cpu_count': os.cpu_count(), 'torch_threads': torch.get_num_threads(), 'platform': platform.platform(),
                      'cuda': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, 'torch': torch.__version__}
    res['budget_minutes'] = a.minutes
    save = lambda: res_path.write_text(json.dumps(res, indent=1))
    stats = split_stats(load_dataset(fer), n=2000, seed=1)
    res['split_stats'] = {'stats': stats.to_dict('index'), 'warnings': contrast_shift(stats)}; save()
    m = str(a.minutes)
    if 'sweep' in parts:
        res['sweep'] = {px: train_cli(f'sweep_{px}', fer, out, '--img-size', px, '--max-minutes', a.sweep_minutes)
                        for px in (48, 64, 96)}
        res['sweep_minutes'] = a.sweep_minutes; save()
    if 'recipe' in parts: res['recipe'] = train_cli('fer_recipe', fer, out, '--max-minutes', m); save()
    for part in ('small_crop', 'small_crop_lr', 'full_train'):  # variants of the recipe, each from its config file
        if part in parts:
            res[f'recipe_{part}'] = train_cli(f'fer_recipe_{part}', fer, out, '--config', ROOT/'bench'/f'recipe_{part}.yaml', '--max-minutes', m); save()
    if 'scratch' in parts: res['scratch'] = train_cli('fer_scratch', fer, out, '--pretrained', 'none', '--max-minutes', m); save()
    if 'sidebyside' in parts: res['sidebyside'] = side_by_side(fer, out, a.sbs_minutes); res['sbs_minutes'] = a.sbs_minutes; save()
    if 'baseline' in parts:
        res['baseline'] = train_cli('fer_baseline', fer, out, '--config', ROOT/'bench'/'baseline.yaml', '--max-minutes', m); save()
    if 'member2' in parts: res['member2'] = train_cli('fer_member2', fer, out, '--seed', 7, '--max-minutes', m); save()
    if 'ensemble' in parts:
        run(sys.executable, ROOT/'bench'/'fer_ensemble.py', '--fer', fer, '--runs', out,
            '--model', out/'fer_recipe'/'model.pth', '--model', out/'fer_member2'/'model.pth')
    if 'curve' in parts:
        ds = load_dataset(fer)
        res['curve'], res['curve_minutes'] = [], a.curve_minutes
        for f in (0.01, 0.05, 0.2, 1.0):
            for s in ('imagenet', 'none'): res['curve'].append(curve_point(ds, f, s, a.curve_minutes, out)); save()  # saved point by point
    if 'ckplus' in parts:
        starts = {'imagenet': 'imagenet', 'scratch': 'none', 'fer2013': out/'fer_scratch'/'model.pth',
                  'imagenet_fer2013': out/'fer_recipe'/'model.pth'}
        missing = [str(p) for p in starts.values() if isinstance(p, Path) and not p.exists()]
        if missing: sys.exit(f"ckplus needs the FER2013 models first (--only scratch recipe): missing {', '.join(missing)}")
        res['ck_epochs'] = a.ck_epochs
        res['ckplus_cv'] = ckplus_cv(str(find_data(a.ckplus) or a.ckplus), starts, a.ck_epochs, out, res.setdefault('ckplus_cv', {}), save)
        save()
    print(f"wrote {res_path}")

if __name__ == '__main__': main()
