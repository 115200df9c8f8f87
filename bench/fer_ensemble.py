"""FER2013 ensemble benchmark: members alone and as soft / hard / weighted ensembles on PublicTest.

The members are the models that bench/fer_benchmark.py trains under one time budget (the recipe and the baseline),
or any checkpoints given with --model. Each image is read once for all members (`ensemble_probs`) and the
predictions are cached, so every voting rule is scored from the same arrays. Weights and temperature are fitted on
the training-folder faces that *every* member held out (each member's validation split, rebuilt from its valid_pct and
seed, by the library's `held_out_by_all`), never on PublicTest and never on faces a member trained on; with fewer than --min-fit such faces (members with
different seeds and a small valid_pct share few), the weighted vote and the temperature are not fitted, and the
results say so. Figures go to bench/results/fer2013_ensemble.json (read by
nbs/02_ensembles). Not a test: about a minute on a 2-core CPU once the members exist."""
import argparse, json, os, platform, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--fer', default='fer2013', help='FER2013 folder, archive or dataset name')
    ap.add_argument('--runs', default=str(ROOT/'runs'/'bench'), help='the --out folder of bench/fer_benchmark.py')
    ap.add_argument('--model', action='append', help='member checkpoints (default: fer_recipe and fer_baseline in --runs)')
    ap.add_argument('--tta', action='store_true', help='mirrored test-time augmentation for every member')
    ap.add_argument('--min-fit', type=int, default=200, help='fewest held-out faces to fit weights and temperature on')
    ap.add_argument('--results', default=str(ROOT/'bench'/'results'/'fer2013_ensemble.json'))
    a = ap.parse_args()
    import numpy as np, torch
    from emotion_nb.data import EmotionDataset, load_dataset
    from emotion_nb.audit import clean_dataset
    from emotion_nb.ensemble import (load_members, cached_probs, fit_weights, fit_temperature, apply_temperature, soft_vote,
                                     compare_votes, score_row, uncertainty_summary, held_out_by_all)
    from emotion_nb.inference import eval_items
    paths = a.model or [Path(a.runs)/n/'model.pth' for n in ('fer_recipe', 'fer_baseline')]
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing: sys.exit(f"fer_ensemble: missing member(s) {', '.join(missing)}: run bench/fer_benchmark.py first")
    t0 = time.time()
    ens = load_members(paths)
    ds = clean_dataset(load_dataset(a.fer), verbose=False)
    cache = Path(a.runs)/'ensemble_cache'
    held = held_out_by_all(ds, ens.metas)  # faces no member trained on: the only fair ones to fit on (chapter 02)
    fit = ds.items.assign(split=np.where(ds.items.split == 'test', 'test', np.where(held, 'valid', 'train')))
    items = {s: eval_items(EmotionDataset(fit, ds.classes, ds.fmt, ds.root), s, ens.classes) for s in ('valid', 'test')}
    fitted = len(items['valid']) >= a.min_fit
    if not fitted: print(f"only {len(items['valid'])} faces held out by every member (< --min-fit {a.min_fit}): weights and temperature not fitted")
    y = {s: it.label.map(ens.classes.index).to_numpy() for s, it in items.items()}
    t1 = time.time(); probs = {s: cached_probs(ens, it, cache, tta=a.tta) for s, it in items.items()}; t_pred = time.time() - t1
    w = fit_weights(probs['valid'], y['valid']) if fitted else None
    table = compare_votes(probs['test'], y['test'], ens.names, ens.classes, weights=w)
    t = fit_temperature(soft_vote(probs['valid']), y['valid']) if fitted else None
    if fitted: table.loc[f'soft vote, T={t:.2f}'] = score_row(apply_temperature(soft_vote(probs['test']), t), y['test'], ens.classes)
    res = {'machine': {'cpu_count': os.cpu_count(), 'platform': platform.platform(), 'torch': torch.__version__,
                       'cuda': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
           'members': ens.names, 'member_paths': [str(p) for p in paths], 'tta': a.tta,
           'n_valid': len(y['valid']), 'n_test': len(y['test']), 'fit_on': 'faces held out by every member', 'fitted': fitted,
           'weights': {n: round(float(x), 4) for n, x in zip(ens.names, w)} if fitted else None, 'temperature': round(t, 3) if fitted else None,
           'predict_seconds': round(t_pred, 1), 'images_per_s_all_members': round((len(y['valid']) + len(y['test'])) / max(t_pred, 1e-9), 1),
           'table': {k: {c: (None if v != v else round(float(v), 4)) for c, v in row.items()} for k, row in table.iterrows()},
           'uncertainty': uncertainty_summary(probs['test'], y['test']), 'seconds': round(time.time() - t0, 1)}
    Path(a.results).parent.mkdir(parents=True, exist_ok=True)
    Path(a.results).write_text(json.dumps(res, indent=1))
    print(table.round(4).to_string()); print(f"wrote {a.results}")

if __name__ == '__main__': main()
