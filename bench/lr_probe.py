"""Learning-rate probe: how fast should the pretrained backbone move on FER2013?

Fine-tunes ImageNet EfficientNet-Lite0 at 48 px for 5 epochs on a quarter of the FER2013 training faces (half of the
validation and test splits), once per backbone learning rate, everything else at the defaults (head 3e-3, head alone
for one epoch, then the last block, then everything). Writes the per-epoch validation accuracy of each run to
bench/results/lr_probe.json, which nbs/01_transfer_learning reads. About 10 minutes per rate on a 2-core CPU.

    python bench/lr_probe.py --lrs 3e-4 3e-5            # train and record
    python bench/lr_probe.py --collect DIR --lrs 3e-4    # record runs already in DIR (e.g. one stopped early)"""
import argparse, json, sys, time
from pathlib import Path
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

def record(run_dir:Path)->dict:
    "The per-epoch log of a probe run, read from its history.csv (a run stopped early keeps the epochs it finished)"
    import yaml
    h, cfg = pd.read_csv(run_dir/'history.csv'), yaml.safe_load((run_dir/'config.yaml').read_text())
    return {'config': {k: cfg[k] for k in ('arch', 'img_size', 'bs', 'lr_backbone', 'lr_head', 'unfreeze', 'fastai_aug', 'epochs')},
            'epochs_run': len(h), 'valid_accuracy': h.accuracy.round(4).tolist(), 'trainable': h.trainable.tolist(),
            'train_seconds': h.train_seconds.tolist()}

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--fer', default='fer2013')
    ap.add_argument('--lrs', nargs='+', type=float, default=[3e-4, 3e-5])
    ap.add_argument('--epochs', type=int, default=5)
    ap.add_argument('--out', default=str(ROOT/'runs'/'lr_probe'))
    ap.add_argument('--collect', help='only record the runs already in this folder (p<lr>/history.csv)')
    ap.add_argument('--results', default=str(ROOT/'bench'/'results'/'lr_probe.json'))
    a = ap.parse_args()
    res = {'setup': {'arch': 'efficientnet_lite0', 'pretrained': 'imagenet', 'img_size': 48, 'epochs': a.epochs,
                     'train_fraction': 0.25, 'unfreeze': [1, 2], 'warmup_epochs': 1, 'lr_head': 3e-3}, 'runs': {}}
    if a.collect:
        for lr in a.lrs: res['runs'][f'{lr:g}'] = record(Path(a.collect)/f'p{lr}')
    else:
        from emotion_nb.data import find_data, load_dataset, stratified_subset
        from emotion_nb.train import train
        from emotion_nb.learner import TrainConfig
        ds = stratified_subset(load_dataset(find_data(a.fer) or a.fer), {'train': 0.25, 'valid': 0.5, 'test': 0.5})
        for lr in a.lrs:
            d = Path(a.out)/f'p{lr}'
            train(ds, d, TrainConfig(lr_backbone=lr, img_size=48, epochs=a.epochs, unfreeze=[1, 2], warmup_epochs=1), verbose=False)
            res['runs'][f'{lr:g}'] = record(d)
    for lr, r in res['runs'].items(): print(f"backbone lr {lr}: valid accuracy per epoch {r['valid_accuracy']}")
    Path(a.results).write_text(json.dumps(res, indent=1))
    print(f"wrote {a.results}")

if __name__ == '__main__': main()
