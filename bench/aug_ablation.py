"""Augmentation ablation on FER2013 (train -> PublicTest): one model, one time budget, seven ways to augment.

    none | crop_flip (the recipe's batch crops) | light | medium | heavy | heavy + MixUp (alpha 0.4) | heavy + CutMix (alpha 1.0)

Every run trains chapter 01's recipe (ImageNet EfficientNet-Lite0 at 64 px, its default schedule, seed 42) under the
same time budget (`TrainConfig.max_minutes`), on the same stratified share of FER2013's training faces (`--train-frac`;
the validation split is the usual 20% of the training folder, whole), changing only the augmentation: fastai's
`crop_flip` (chapter 01's default) or an Albumentations preset of chapter 04, each alone. Then it measures, for the
best checkpoint:

- PublicTest accuracy and macro-F1;
- the final train-valid gap, two ways: accuracy on a sample of the *clean* training images (no augmentation, no
  mixing, as the model is deployed) minus validation accuracy; and the last epoch's running training accuracy (on
  augmented and mixed batches) minus validation accuracy.

Figures go to bench/results/aug_ablation.json (read by nbs/04_augmentation.ipynb); finished runs are kept while the
setup is the same, so an interrupted benchmark continues where it stopped (a new setup starts the file afresh). Not a
test: about 1 hour on a 2-core CPU with the defaults; run it on an otherwise idle machine (the budget is wall-clock)."""
import argparse, json, os, platform
from pathlib import Path
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')

ROOT = Path(__file__).resolve().parents[1]
RUNS = {'none': dict(aug='none'), 'crop_flip': dict(fastai_aug='crop_flip'), 'light': dict(aug='light'), 'medium': dict(aug='medium'), 'heavy': dict(aug='heavy'),
        'heavy+mixup': dict(aug='heavy', mixup=0.4), 'heavy+cutmix': dict(aug='heavy', cutmix=1.0)}

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='fer2013', help='FER2013 folder or dataset name')
    ap.add_argument('--minutes', type=float, default=7, help='time budget of each run')
    ap.add_argument('--train-frac', type=float, default=0.25, help='stratified share of the training images used')
    ap.add_argument('--arch', default='efficientnet_lite0')
    ap.add_argument('--pretrained', default='imagenet', help="'imagenet' or 'none'")
    ap.add_argument('--runs', nargs='*', default=list(RUNS), choices=list(RUNS))
    ap.add_argument('--train-eval-n', type=int, default=3000, help='clean training images scored for the gap')
    ap.add_argument('--out', default=str(ROOT/'runs'/'aug_ablation'))
    ap.add_argument('--results', default=str(ROOT/'bench'/'results'/'aug_ablation.json'))
    ap.add_argument('--redo', action='store_true', help='rerun runs already in the results file')
    a = ap.parse_args()
    import torch
    from emotion_nb.data import load_dataset, stratified_subset, EmotionDataset
    from emotion_nb.audit import clean_dataset
    from emotion_nb.train import train
    from emotion_nb.learner import TrainConfig
    from emotion_nb.inference import evaluate
    res_path = Path(a.results); res_path.parent.mkdir(parents=True, exist_ok=True)
    res = json.loads(res_path.read_text()) if res_path.exists() else {}
    setup = {'data': str(a.data), 'arch': a.arch, 'pretrained': a.pretrained, 'minutes': a.minutes, 'train_frac': a.train_frac,
             'seed': 42, 'train_eval_n': a.train_eval_n}
    if res.get('setup') != setup: res['runs'] = {}  # runs of another setup are not comparable: start afresh
    res.update(setup=setup,
               machine={'cpu_count': os.cpu_count(), 'torch_threads': torch.get_num_threads(), 'platform': platform.platform(),
                        'cuda': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, 'torch': torch.__version__})
    res.setdefault('runs', {})
    ds = clean_dataset(load_dataset(a.data, valid_pct=0.2, seed=42), verbose=False)
    ds = stratified_subset(ds, {'train': a.train_frac}, 42)
    tr = ds.items[ds.items.split == 'train']
    clean_train = EmotionDataset(tr.sample(min(a.train_eval_n, len(tr)), random_state=0).reset_index(drop=True), ds.classes, ds.fmt, ds.root)
    res['faces'] = {s: int((ds.items.split == s).sum()) for s in ('train', 'valid', 'test')}
    print(f"{len(tr)} training images ({a.train_frac:.0%}), {res['faces']['valid']} valid, {res['faces']['test']} test", flush=True)
    for name in a.runs:
        if name in res['runs'] and not a.redo: print(f"{name}: done already, kept"); continue
        cfg = TrainConfig(arch=a.arch, pretrained=a.pretrained, **{'fastai_aug': 'none', **RUNS[name]}, max_minutes=a.minutes, seed=42)
        print(f"\n=== {name}: {RUNS[name]}", flush=True)
        r = train(ds, Path(a.out)/name.replace('+', '_'), cfg)
        m, h = r.metrics, r.history
        train_clean = evaluate(r.model, r.meta, clean_train, 'train')
        last = h.iloc[-1]
        res['runs'][name] = {
            'settings': RUNS[name], 'img_size': r.meta.img_size, 'epochs_run': m['epochs_run'], 'best_epoch': m['best_epoch'] + 1,
            'train_images_per_s': m['train_images_per_s'], 'fit_seconds': m['fit_seconds'],
            'valid': {k: m['valid'][k] for k in ('n', 'accuracy', 'macro_f1')},
            'test': {k: m['test'][k] for k in ('n', 'accuracy', 'macro_f1', 'per_class')},
            'train_clean_accuracy': train_clean['accuracy'],
            'gap_clean': train_clean['accuracy'] - m['valid']['accuracy'],
            'last_epoch': {'train_accuracy_augmented': float(last.train_accuracy), 'valid_accuracy': float(last.accuracy),
                           'train_loss': float(last.train_loss), 'valid_loss': float(last.valid_loss)},
            'gap_running': float(last.train_accuracy - last.accuracy),
            'history': h.to_dict('list')}
        res_path.write_text(json.dumps(res, indent=1))
        print(f"{name}: test acc {m['test']['accuracy']:.4f}, F1 {m['test']['macro_f1']:.4f}, clean train {train_clean['accuracy']:.4f}, "
              f"valid {m['valid']['accuracy']:.4f}", flush=True)
    rows = [(n, r['epochs_run'], r['test']['accuracy'], r['test']['macro_f1'], r['gap_clean'], r['gap_running'])
            for n, r in res['runs'].items()]
    print('\n' + '\n'.join(f"{n:14s} {e:3d} ep  test acc {acc:.4f}  F1 {f1:.4f}  gap clean {g:+.4f}  gap running {gr:+.4f}"
                           for n, e, acc, f1, g, gr in rows))

if __name__ == '__main__': main()
