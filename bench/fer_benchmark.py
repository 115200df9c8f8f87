"""FER2013 benchmark: the default recipe vs the from-scratch baseline under one time budget, then FER2013 -> CK+48 transfer.

Runs the console scripts exactly as a user would:

    emotion_train --data <FER2013> --pretrained none --max-minutes 45 --out DIR            # the recipe (CLI defaults)
    emotion_train --data <FER2013> --config bench/baseline.yaml --max-minutes 45 --out DIR # small CNN, plain training
    emotion_evaluate --model DIR/model.pth --data <FER2013> --split test --json [--tta]    # PublicTest

and, for transfer, fine-tunes the recipe's FER2013 backbone on CK+48 (subject-grouped split) against the same
architecture trained from scratch on CK+48. Figures go to bench/results/fer2013.json (read by nbs/01_transfer_learning).
Uses CUDA when present. Not a test: it takes about 1.5 hours on a 2-core CPU."""
import argparse, json, os, platform, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def run(*args, log=None):
    "Run a console script, echoing its output (and teeing it to `log`)"
    print('$', ' '.join(map(str, args)), flush=True)
    t = time.time()
    p = subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True)
    if log: Path(log).write_text(p.stdout + p.stderr)
    print(p.stdout[-3000:], p.stderr[-2000:], sep='', flush=True)
    if p.returncode: sys.exit(f"{args[0]} failed with exit status {p.returncode}")
    return p.stdout, time.time() - t

def evaluate(model, data, split, tta=False):
    out, _ = run('emotion_evaluate', '--model', model, '--data', data, '--split', split, '--json', *(['--tta'] if tta else []))
    m = json.loads(out.strip().splitlines()[-1])
    return {k: m[k] for k in ('n', 'accuracy', 'macro_f1', 'per_class', 'confusion', 'classes')}

def split_contrast(data, n=2000, seed=1):
    "Median per-image brightness and contrast of each split (a sample of `n`): `emotion_nb.data.split_stats`"
    from emotion_nb.data import load_dataset, split_stats, contrast_shift
    stats = split_stats(load_dataset(data), n=n, seed=seed)
    return {'stats': stats.to_dict('index'), 'warnings': contrast_shift(stats)}

def train_run(name, data, out, *flags):
    d = out/name
    if d.exists(): shutil.rmtree(d)
    _, wall = run('emotion_train', '--data', data, '--out', d, *flags, log=out/f'{name}.log')
    m = json.loads((d/'metrics.json').read_text())
    hist = (d/'history.csv').read_text()
    return d, {'command': ' '.join(['emotion_train', '--data', str(data), '--out', str(d), *map(str, flags)]),
               'wall_seconds': round(wall, 1), 'history_csv': hist,
               **{k: m[k] for k in ('arch', 'pretrained', 'img_size', 'epochs_run', 'epochs_planned', 'stopped_by', 'best_epoch',
                                    'train_images', 'train_images_per_s', 'fit_seconds', 'device', 'precision', 'overfitting')},
               'contrast': m['config']['contrast'], 'valid': {k: m['valid'][k] for k in ('n', 'accuracy', 'macro_f1')}}

def rescore(res, out, fer, save):
    "Re-evaluate the FER2013 runs in `out`; the earlier PublicTest figures are kept as `test_unmatched`"
    from emotion_nb.train import load_checkpoint, set_input_sharpness
    for name in ('recipe', 'baseline'):
        d = out/f'fer_{name}'
        if name not in res or not (d/'model.pth').exists(): continue
        r = res[name]
        if load_checkpoint(d/'model.pth').get('sharpness') is None:
            r['test_unmatched'], r['test_tta_unmatched'] = r['test'], r['test_tta']
            r['sharpness'] = set_input_sharpness(d/'model.pth', fer)
        r['test'] = evaluate(d/'model.pth', fer, 'test'); r['test_tta'] = evaluate(d/'model.pth', fer, 'test', tta=True)
        save()

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--fer', default='fer2013', help='FER2013 folder, archive or dataset name')
    ap.add_argument('--ckplus', default='ckplus48', help='CK+48 folder, archive or dataset name')
    ap.add_argument('--minutes', type=float, default=45, help='time budget of each FER2013 run')
    ap.add_argument('--out', default=str(ROOT/'runs'/'bench'), help='folder for the runs')
    ap.add_argument('--results', default=str(ROOT/'bench'/'results'/'fer2013.json'))
    ap.add_argument('--skip', nargs='*', default=[], choices=['recipe', 'baseline', 'transfer'])
    ap.add_argument('--rescore', action='store_true', help='only re-evaluate the FER2013 models in --out on PublicTest '
                    '(storing the training sharpness in checkpoints saved before it was recorded)')
    a = ap.parse_args()
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    res_path = Path(a.results); res_path.parent.mkdir(parents=True, exist_ok=True)
    res = json.loads(res_path.read_text()) if res_path.exists() else {}
    import torch
    res['machine'] = {'cpu_count': os.cpu_count(), 'torch_threads': torch.get_num_threads(), 'platform': platform.platform(),
                      'cuda': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, 'torch': torch.__version__}
    res['budget_minutes'] = a.minutes
    save = lambda: res_path.write_text(json.dumps(res, indent=1))
    res['split_contrast'] = split_contrast(a.fer); save()
    if a.rescore: return rescore(res, out, a.fer, save)
    if 'recipe' not in a.skip:
        d, r = train_run('fer_recipe', a.fer, out, '--pretrained', 'none', '--max-minutes', a.minutes)
        r['test'] = evaluate(d/'model.pth', a.fer, 'test'); r['test_tta'] = evaluate(d/'model.pth', a.fer, 'test', tta=True)
        res['recipe'] = r; save()
    if 'transfer' not in a.skip:
        src = out/'fer_recipe'/'model.pth'
        _, r1 = train_run('ck_transfer', a.ckplus, out, '--pretrained', src)
        _, r2 = train_run('ck_scratch', a.ckplus, out, '--pretrained', 'none')
        res['transfer'] = {'from_fer2013': r1, 'from_scratch': r2}; save()
    if 'baseline' not in a.skip:
        d, r = train_run('fer_baseline', a.fer, out, '--config', ROOT/'bench'/'baseline.yaml', '--max-minutes', a.minutes)
        r['test'] = evaluate(d/'model.pth', a.fer, 'test'); r['test_tta'] = evaluate(d/'model.pth', a.fer, 'test', tta=True)
        res['baseline'] = r; save()
    print(f"wrote {res_path}")

if __name__ == '__main__': main()
