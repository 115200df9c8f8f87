"""FER2013 benchmark: transfer learning from ImageNet against training from scratch, under one time budget.

Each part runs the console scripts (or, for the cross-validation and the learning curve, the library) as a user
would, and writes its entry of bench/results/fer2013.json as soon as it is done, so a long run can be split over
several sessions (--only / --skip) and every notebook figure is read from that file:

  rescore   PublicTest of the final weights (last.pth) of the FER2013 runs already in --out, for runs measured before
            train_cli recorded it (test_last_epoch): the best-validation epoch is what the tables show
  throughput  training images/s of the recipe's fastai Learner (every layer training) with fastai's per-image PIL
            crops against crops of whole batches of in-memory tensors (the default), and the plain loop's step
            (bench/plain_loop.py) on the same faces, alternated --tp-repeats times: a few minutes
  sweep     ImageNet EfficientNet-Lite0 at 48, 64 and 96 px, --sweep-minutes each: which input size fits the budget
  recipe    emotion_train --data FER2013 --recipe fine_tune --max-minutes 45   (fine_tune was emotion_train's default until
            full_race; the data decide the rest)
  small_crop  the recipe with bench/recipe_small_crop.yaml: batches of 64, each training face a random 44 px crop of
            the 64 px image, not resized (`small_crop`); small_crop_lr: the same with the backbone at lr 1e-3 (recipe_small_crop_lr.yaml)
  full_train  the recipe with 5% of the training faces for validation instead of 20% (bench/recipe_full_train.yaml)
  loop_settings  the recipe with the plain loop's settings (bench/recipe_loop_settings.yaml): 44 px crops, batches of
            64, a linear head, one learning rate for every layer from the start, wd 0.05, one cycle, 5% validation
  scratch   emotion_train --data FER2013 --pretrained none --max-minutes 45   (the best from-scratch model, fer_cnn)
  sidebyside the recipe and the from-scratch model trained at the same time, one thread each, --sbs-minutes each:
            both get the same share of the CPU whatever else the machine does (the issue's reference protocol)
  loop_sbs  the plain loop (bench/plain_loop.py --clean: the audited faces) and the course's Learner with the loop's
            settings (bench/recipe_loop_settings.yaml), trained at the same time, one thread each, --sbs-minutes each:
            does the fastai Learner learn as much as the loop from the same share of the same machine?
  loop_full the issue's own protocol at the full budget (--minutes), one run after the other with every thread: the plain
            loop on the whole training folder, as the issue ran it (bench/plain_loop.py, kept under `plain_loop_<minutes>`;
            a measurement already made on this host is reused), then the Learner with the loop's settings on the audited
            faces; the Learner's final weights are scored on the same two groups of test faces (with and without a copy)
  loop_clean the plain loop again at the full budget with every thread, on the audited faces (--clean, kept under
            `plain_loop_<minutes>_clean`): with loop_full, it splits the Learner's gap into what the copies of test
            faces give the loop and what is left between the loop and the Learner on the same faces
  loop_matched the Learner as close to the loop as its settings go (bench/recipe_loop_matched.yaml: no dropout, a 3%
            warm-up, 1% held out), at the full budget with every thread; its final weights are scored on the faces of
            loop_clean's entry
  recipe_sbs which settings should `emotion_train --max-minutes 45` pick? The fine_tune recipe (the `recipe` side) against
            full, the Learner closer to the loop (bench/recipe_loop_matched.yaml; `loop_matched`), trained at the same time, one thread each, --sbs-minutes each,
            once per seed of --race-seeds: a race is run on one host, so both sides get the same machine
  full_race the same two (fine_tune and full) one after the other with every thread,
            --minutes each, seed --full-race-seed, on one host: the issue's own conditions (2 threads, 45 minutes), and
            either of them with the bigger EfficientNet-Lite1 or Lite2 (--full-race-sides recipe_lite2, ...); a side
            already run on this host for this budget and seed is kept, so the two can be run in separate sessions;
            seed 42 is saved as `full_race`, another seed as `full_race_<seed>`; the `default` side runs emotion_train
            with no flag but the budget and seed, to check that the data pick the winner (RECIPES['full'] is the loop-matched
            settings); the `plain_loop` side runs the issue's yardstick (bench/plain_loop.py --clean) with the same seed on
            the same host, so the recipe is compared with it on one machine, and `plain_loop_raw` the loop as the issue ran
            it (the whole training folder, test faces' copies included)
  baseline  emotion_train --data FER2013 --config bench/baseline.yaml --max-minutes 45   (small CNN, plain training)
  member2   the fine_tune recipe again with --seed 7: the second member of a two-model ensemble
  ensemble  bench/fer_ensemble.py on recipe + member2 (soft, hard and weighted votes on PublicTest)
  curve     learning curve: 1%, 5%, 20% and 100% of the training faces, ImageNet against scratch, --curve-minutes each
  ckplus    CK+48, subject-grouped 5-fold cross-validation, --ck-epochs each, for four starts: ImageNet -> CK+,
            FER2013 -> CK+ (the scratch model), ImageNet -> FER2013 -> CK+ (the recipe model) and scratch
  recipe_choice  is pick_recipe's data-size rule right? The `full` recipe from ImageNet where `fine_tune` was measured
            on less data: CK+48's five folds (--ck-epochs each) and the learning curve's fractions of FER2013
            (--curve-minutes each, on the same faces and validation split as the curve's fine_tune points)

PublicTest (the Kaggle layout's test folder) is the test split; the validation split is carved from the training faces.
Uses CUDA when present. Not a test: most of a day on a 2-core CPU for everything; run it on an otherwise idle machine,
since the budget is wall-clock time."""
import argparse, json, os, platform, shutil, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PARTS = ['rescore', 'throughput', 'sweep', 'recipe', 'small_crop', 'small_crop_lr', 'full_train', 'loop_settings', 'scratch', 'sidebyside', 'loop_sbs', 'loop_full', 'loop_clean', 'loop_matched', 'recipe_sbs', 'full_race', 'baseline', 'member2', 'ensemble', 'curve', 'ckplus', 'recipe_choice']

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
            'loader': m.get('loader'),
            'config': m['config'], 'valid': {k: m['valid'][k] for k in ('n', 'accuracy', 'macro_f1')}}

def train_cli(name, data, out, *flags, test=True):
    "Train with `emotion_train` into `out/name`, then score PublicTest (plain and with flip TTA)"
    d = out/name
    if d.exists(): shutil.rmtree(d)
    command = ['emotion_train', '--data', data, '--out', d, *flags]
    _, wall = run(*command, log=out/f'{name}.log')
    r = run_record(d, wall, ' '.join(map(str, command)))
    if test: r['test'], r['test_tta'] = evaluate(d/'model.pth', data), evaluate(d/'model.pth', data, tta=True)
    if test: r['test_last_epoch'] = last_epoch_test(d, data)
    return r

def last_epoch_test(d, data)->dict:
    "PublicTest accuracy and macro-F1 of the run's final weights (`last.pth`), beside those of its best-validation epoch"
    m = evaluate(d/'last.pth', data)
    return {k: m[k] for k in ('n', 'accuracy', 'macro_f1')}

def run_at_once(cmds:dict, out, prefix)->dict:
    "Run the named commands at once, one thread each (a bare name is this environment's console script, an absolute path runs as is); their wall seconds"
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'NO_ALBUMENTATIONS_UPDATE': '1'}
    procs = {}
    for k, cmd in cmds.items():
        print('$', ' '.join(map(str, cmd)), '(1 thread, in parallel)', flush=True)
        log = open(out/f'{prefix}_{k}.log', 'w')
        procs[k] = (subprocess.Popen([str(BIN/cmd[0]), *map(str, cmd[1:])], env=env, stdout=log, stderr=subprocess.STDOUT), time.time(), log)
    wall = {}
    for k, (p, t, log) in procs.items():
        rc = p.wait(); log.close()
        if rc: sys.exit(f"{k} failed: see {out/f'{prefix}_{k}.log'}")
        wall[k] = time.time() - t
    return wall

def side_by_side(fer, out, minutes)->dict:
    "ImageNet Lite0 (the recipe) and the from-scratch CNN trained at once, one thread each, `minutes` each; PublicTest scores"
    dirs = {start: out/f'sbs_{start}' for start in ('imagenet', 'scratch')}
    for d in dirs.values(): shutil.rmtree(d, ignore_errors=True)
    cmds = {'imagenet': ['emotion_train', '--data', fer, '--out', dirs['imagenet'], '--max-minutes', minutes, '--recipe', 'fine_tune'],
            'scratch': ['emotion_train', '--data', fer, '--out', dirs['scratch'], '--max-minutes', minutes, '--pretrained', 'none']}
    wall = run_at_once(cmds, out, 'sbs')
    return {k: {**run_record(dirs[k], wall[k], ' '.join(map(str, cmds[k]))), 'threads': 1, 'test': evaluate(dirs[k]/'model.pth', fer)} for k in cmds}

def loop_side_by_side(fer, out, minutes)->dict:
    "The plain loop on the audited faces and the Learner with the loop's settings, at once, one thread each; PublicTest scores"
    d, pj = out/'loop_sbs_fastai', out/'loop_sbs_plain.json'
    shutil.rmtree(d, ignore_errors=True); pj.unlink(missing_ok=True)
    cmds = {'plain_loop': [sys.executable, ROOT/'bench'/'plain_loop.py', '--fer', fer, '--minutes', minutes, '--clean', '--results', pj, '--key', 'plain'],
            'fastai': ['emotion_train', '--data', fer, '--out', d, '--config', ROOT/'bench'/'recipe_loop_settings.yaml', '--max-minutes', minutes]}
    wall = run_at_once(cmds, out, 'loop_sbs')
    fa = {**run_record(d, wall['fastai'], ' '.join(map(str, cmds['fastai']))), 'threads': 1, 'test': evaluate(d/'model.pth', fer),
          'test_last_epoch': last_epoch_test(d, fer)}
    return {'plain_loop': json.loads(pj.read_text())['plain'], 'fastai': fa, 'host': platform.platform()}

def recipe_race(fer, out, minutes, seed)->dict:
    "The default recipe and the loop-matched settings, at once, one thread each, with seed `seed`; PublicTest of best and final weights"
    cfgs = {'recipe': ['--recipe', 'fine_tune'], 'loop_matched': ['--config', ROOT/'bench'/'recipe_loop_matched.yaml']}
    dirs = {k: out/f'race_{seed}_{k}' for k in cfgs}
    for d in dirs.values(): shutil.rmtree(d, ignore_errors=True)
    cmds = {k: ['emotion_train', '--data', fer, '--out', dirs[k], '--max-minutes', minutes, '--seed', seed, *c] for k, c in cfgs.items()}
    wall = run_at_once(cmds, out, f'race_{seed}')
    return {'seed': seed, **{k: {**run_record(dirs[k], wall[k], ' '.join(map(str, cmds[k]))), 'threads': 1,
                                 'test': evaluate(dirs[k]/'model.pth', fer), 'test_last_epoch': last_epoch_test(dirs[k], fer)} for k in cmds}}

FULL_RACE_SIDES = [f'{k}{a}' for a in ('', '_lite1', '_lite2') for k in ('loop_matched', 'recipe')] + ['default', 'plain_loop', 'plain_loop_raw']

def plain_loop_entry(p:dict, command:str)->dict:
    "A result of bench/plain_loop.py in the shape of a train_cli entry (its weights are its final ones: it keeps no best epoch)"
    test = {'n': p['test_n'], 'accuracy': p['test_accuracy'], 'macro_f1': p['test_macro_f1'], 'recall': p['test_recall']}
    return {'command': command, 'wall_seconds': p['fit_seconds'], 'train_images': p['train_images'], 'epochs_run': p['epochs'],
            'train_images_per_s': p['train_images_per_s'], 'threads': p['threads'], 'stopped_by': 'time budget',
            'test': test, 'test_last_epoch': test, 'test_tta': {'accuracy': p['test_accuracy_tta']}, 'plain_loop': p}

def plain_loop_side(fer, out, minutes, seed, side='plain_loop')->dict:
    "full_race's `plain_loop` side: bench/plain_loop.py with every thread, on the audited faces (--clean) or, `plain_loop_raw`, the whole training folder as the issue ran it"
    pj, log = out/f'full_{seed}_{side}.json', out/f'full_{seed}_{side}.log'
    args = [ROOT/'bench'/'plain_loop.py', '--fer', fer, '--minutes', minutes, *(['--clean'] if side == 'plain_loop' else []), '--seed', seed, '--results', pj, '--key', 'plain']
    run(sys.executable, *args, log=log)
    return plain_loop_entry(json.loads(pj.read_text())['plain'], 'python ' + ' '.join(map(str, args)))

def full_race_side(fer, out, minutes, seed, side)->dict:
    "One side of `full_race` (`recipe`, `loop_matched` or `default`, `_lite1`/`_lite2`: with that backbone), trained with every thread; PublicTest of best and final weights"
    if side.startswith('plain_loop'): return plain_loop_side(fer, out, minutes, seed, side)
    settings, _, lite = side.partition('_lite')
    flags = {'recipe': ['--recipe', 'fine_tune'], 'default': [], 'loop_matched': ['--config', ROOT/'bench'/'recipe_loop_matched.yaml']}[settings]
    if lite: flags += ['--arch', f'efficientnet_lite{lite}']
    r = train_cli(f'full_{seed}_{side}', fer, out, '--max-minutes', minutes, '--seed', seed, *flags)
    import torch
    return {**r, 'threads': torch.get_num_threads()}

def curve_point(ds, frac, start, minutes, out, recipe='fine_tune'):
    "One point of the learning curve: `frac` of the training faces, ImageNet or scratch, `minutes` of training with `recipe`"
    from emotion_nb.data import stratified_subset
    from emotion_nb.train import train
    from emotion_nb.learner import recipe_config
    sub = stratified_subset(ds, {'train': frac}) if frac < 1 else ds
    t = time.time()
    d = out/(f'curve_{start}_{frac}' if recipe == 'fine_tune' else f'curve_{recipe}_{start}_{frac}')
    r = train(sub, d, recipe_config(recipe, pretrained=start, max_minutes=minutes), verbose=False)
    return {'fraction': frac, 'start': start, 'recipe': recipe, 'train_images': r.metrics['train_images'], 'epochs_run': r.metrics['epochs_run'],
            'arch': r.metrics['arch'], 'img_size': r.metrics['img_size'], 'seconds': round(time.time() - t, 1),
            'valid_accuracy': r.metrics['valid']['accuracy'], 'test_accuracy': r.metrics['test']['accuracy'],
            'test_macro_f1': r.metrics['test']['macro_f1']}

def ck_folds(ck, k=5, seed=0):
    "`k` subject-grouped, class-stratified folds of CK+48: (train+valid table per fold)"
    from sklearn.model_selection import StratifiedGroupKFold
    from emotion_nb.data import EmotionDataset
    it = ck.items.reset_index(drop=True)
    for _, va in StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(it, it.label, it.group):
        f = it.assign(split='train'); f.loc[va, 'split'] = 'valid'
        yield EmotionDataset(f, ck.classes, ck.fmt, ck.root)

def source_run(model:Path)->dict:
    "What a FER2013 start for CK+ is: its run's architecture, input size, budget and PublicTest accuracy (from its metrics.json)"
    m = json.loads((model.parent/'metrics.json').read_text())
    return {'arch': m['arch'], 'img_size': m['img_size'], 'max_minutes': m['config'].get('max_minutes'), 'epochs_run': m['epochs_run'],
            'test_accuracy': m.get('test', {}).get('accuracy')}

def ckplus_cv(ck_src, starts, epochs, out, res=None, save=lambda: None, recipes=None):
    "Subject-grouped 5-fold cross-validation on CK+48 for each start, with its recipe (`recipes`, default fine_tune); saved as each finishes, a start already run from the same model is kept"
    import numpy as np
    from emotion_nb.data import load_dataset
    from emotion_nb.train import train
    from emotion_nb.learner import recipe_config
    ck, res, recipes = load_dataset(ck_src), {} if res is None else res, recipes or {}
    for name, pretrained in starts.items():
        src, done, recipe = (source_run(pretrained) if isinstance(pretrained, Path) else None), res.get(name, {}), recipes.get(name, 'fine_tune')
        if (done.get('epochs'), done.get('pretrained'), done.get('source'), done.get('recipe', 'fine_tune')) == (epochs, str(pretrained), src, recipe): continue  # run from this very start
        folds = []
        for i, ds in enumerate(ck_folds(ck)):
            r = train(ds, out/f'ck_{name}_{i}', recipe_config(recipe, pretrained=str(pretrained), epochs=epochs), verbose=False)
            folds.append({'fold': i, 'n_valid': r.metrics['valid']['n'], 'best_accuracy': r.metrics['valid']['accuracy'],
                          'last_accuracy': float(r.history.accuracy.iloc[-1]), 'macro_f1': r.metrics['valid']['macro_f1'],
                          'arch': r.metrics['arch'], 'img_size': r.metrics['img_size']})
        last = np.array([f['last_accuracy'] for f in folds]); best = np.array([f['best_accuracy'] for f in folds])
        res[name] = {'pretrained': str(pretrained), 'source': src, 'recipe': recipe, 'epochs': epochs, 'folds': folds, 'last_mean': float(last.mean()), 'last_std': float(last.std(ddof=1)),
                     'best_mean': float(best.mean()), 'best_std': float(best.std(ddof=1))}
        print(f"CK+ {name}: last-epoch accuracy {last.mean():.3f} +- {last.std(ddof=1):.3f}", flush=True)
        save()
    return res

THROUGHPUT = {'recipe (crop_flip, bs 32)': ('crop_flip', 32, {}), 'small_crop, bs 64': ('small_crop', 64, {}),
              'small_crop, bs 64, linear head, no clipping': ('small_crop', 64, {'hidden': [], 'clip': 0.})}

def per_item_tfms(kind, size):
    "The fastai per-image PIL transforms the recipe used before its crops moved to whole batches"
    from fastai.vision.all import RandomResizedCrop, RandomCrop, FlipItem
    if kind == 'crop_flip': return [RandomResizedCrop(size, min_scale=0.75, ratio=(1, 1), val_xtra=0), FlipItem(0.5)]
    crop = RandomCrop(round(size * 11 / 16)); crop.split_idx = 0
    return [crop, FlipItem(0.5)]

def fit_rate(learn, lr, batches, warm=20)->float:
    "Training images/s of `learn.fit` (every layer training) over `batches` steps, after `warm` steps"
    from fastai.callback.core import Callback, CancelFitException
    class Rate(Callback):
        order = 99
        def before_fit(self): self.n, self.t, self.seen = 0, None, 0
        def after_batch(self):
            self.n += 1
            if self.n == warm: self.t = time.perf_counter()
            elif self.t is not None: self.seen += len(self.yb[0])
            if self.n == warm + batches: self.ips = self.seen / (time.perf_counter() - self.t); raise CancelFitException
    cb = Rate()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, lr=lr, cbs=cb)
    return cb.ips

def loop_rate(ds, batches, warm=20, bs=64)->float:
    "Training images/s of the plain loop's step (bench/plain_loop.py) on the same faces"
    import torch, torch.nn.functional as F
    sys.path.insert(0, str(ROOT/'bench')); from plain_loop import face_tensors, batch_view, lite0
    tr = ds.items[ds.items.split == 'train']
    x, y = face_tensors(tr, 64), torch.tensor(tr.label.map({c: i for i, c in enumerate(ds.classes)}).to_numpy())
    m = lite0(len(ds.classes)).train(); opt = torch.optim.AdamW(m.parameters(), lr=1e-4, weight_decay=0.05)
    for k in range(warm + batches):
        if k == warm: t = time.perf_counter()
        idx = torch.randint(0, len(x), (bs,))
        loss = F.cross_entropy(m(batch_view(x[idx], 44)), y[idx], label_smoothing=0.1)
        opt.zero_grad(); loss.backward(); opt.step()
    return batches * bs / (time.perf_counter() - t)

def throughput(fer, batches=120, repeats=2, frac=0.5)->dict:
    "Training images/s: the recipe's fastai `Learner` with per-image PIL crops against crops of whole tensor batches, and the plain loop"
    import numpy as np
    from fastai.vision.all import Normalize
    from emotion_nb.data import load_dataset, stratified_subset
    from emotion_nb.audit import clean_dataset
    from emotion_nb.learner import TrainConfig, resolve_config, emotion_learner, group_lrs, get_arch
    from emotion_nb.loaders import emotion_dataloaders
    ds = clean_dataset(stratified_subset(load_dataset(fer), {'train': frac}), verbose=False)
    rates = {}
    for _ in range(repeats):  # alternated, so that a slow spell of the machine hits every setting
        for name, (kind, bs, extra) in THROUGHPUT.items():
            cfg, _ = resolve_config(TrainConfig(fastai_aug=kind, bs=bs, unfreeze=[0, 0], **extra), ds)
            for loader in ('per-image PIL crops', 'tensor batch crops'):
                learn = emotion_learner(ds, cfg, '/tmp/emotion_nb_throughput')
                if loader.startswith('per-image'):
                    learn.dls = emotion_dataloaders(ds, cfg.img_size, bs, seed=cfg.seed, item_tfms=per_item_tfms(kind, cfg.img_size), tensors=False,
                                                    batch_tfms=[Normalize.from_stats(*get_arch(cfg.arch).stats)])
                    for _ in learn.dls.train: pass  # fill the image cache first: decoding is not the point here
                rates.setdefault(name, {}).setdefault(loader, []).append(fit_rate(learn, group_lrs(cfg), batches))
                print(name, loader, f"{rates[name][loader][-1]:.0f} img/s", flush=True)
        rates.setdefault('plain loop (bs 64, 44 px crops)', {}).setdefault('tensor batch crops', []).append(loop_rate(ds, batches))
        print('plain loop', f"{rates['plain loop (bs 64, 44 px crops)']['tensor batch crops'][-1]:.0f} img/s", flush=True)
    return {'batches': batches, 'repeats': repeats, 'train_faces': int((ds.items.split == 'train').sum()),
            'images_per_s': {n: {l: float(np.median(v)) for l, v in d.items()} for n, d in rates.items()}, 'all': rates}

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--fer', default='fer2013', help='FER2013 folder, archive or dataset name')
    ap.add_argument('--ckplus', default='ckplus48', help='CK+48 folder, archive or dataset name')
    ap.add_argument('--minutes', type=float, default=45, help='time budget of each main FER2013 run')
    ap.add_argument('--sweep-minutes', type=float, default=15, help='time budget of each input size in the sweep')
    ap.add_argument('--sbs-minutes', type=float, default=15, help='time budget of each side-by-side run (one thread each)')
    ap.add_argument('--race-seeds', type=int, nargs='*', default=[42, 7], help='seeds of the recipe_sbs races')
    ap.add_argument('--full-race-seed', type=int, default=42, help='seed of the full_race runs')
    ap.add_argument('--full-race-sides', nargs='*', default=['loop_matched', 'recipe'], choices=FULL_RACE_SIDES, help='sides of full_race to run, in order (a _lite1/_lite2 side: the same settings with that backbone)')
    ap.add_argument('--curve-minutes', type=float, default=10, help='time budget of each learning-curve point')
    ap.add_argument('--tp-batches', type=int, default=120, help='timed training steps of each throughput measurement')
    ap.add_argument('--tp-repeats', type=int, default=2, help='throughput measurements of each setting')
    ap.add_argument('--ck-epochs', type=int, default=20, help='epochs of each CK+48 fold')
    ap.add_argument('--ck-recipe-model', help='FER2013 model of the ImageNet -> FER2013 -> CK+ start (default: the recipe run)')
    ap.add_argument('--ck-scratch-model', help='FER2013 model of the FER2013 -> CK+ start (default: the from-scratch run)')
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
    if 'machine' not in res: res['machine'] = {'cpu_count': os.cpu_count(), 'torch_threads': torch.get_num_threads(), 'platform': platform.platform(),
                      'cuda': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, 'torch': torch.__version__}
    host = platform.platform()  # hosts of the same size differ in speed: a new host is noted, and runs record their images/s
    if host != res['machine']['platform']: res['machine']['other_hosts'] = sorted({*res['machine'].get('other_hosts', []), host})
    res['budget_minutes'] = a.minutes
    save = lambda: res_path.write_text(json.dumps(res, indent=1))
    stats = split_stats(load_dataset(fer), n=2000, seed=1)
    res['split_stats'] = {'stats': stats.to_dict('index'), 'warnings': contrast_shift(stats)}; save()
    m = str(a.minutes)
    loop_py = [sys.executable, ROOT/'bench'/'plain_loop.py', '--fer', fer, '--results', res_path, '--key']  # the plain loop writes its own entry
    if 'rescore' in parts:
        for key, r in res.items():
            d = Path(r['command'].split('--out ')[1].split()[0]) if isinstance(r, dict) and '--out ' in str(r.get('command')) else None
            same = d and (d/'metrics.json').exists() and json.loads((d/'metrics.json').read_text())['fit_seconds'] == r.get('fit_seconds')
            if same and 'test_last_epoch' not in r: r['test_last_epoch'] = last_epoch_test(d, fer); save()  # that folder still holds this run
    if 'throughput' in parts: res['throughput'] = throughput(fer, a.tp_batches, a.tp_repeats); save()
    if 'sweep' in parts:
        res['sweep'], res['sweep_minutes'] = {}, a.sweep_minutes
        for px in (48, 64, 96):  # saved size by size
            res['sweep'][str(px)] = train_cli(f'sweep_{px}', fer, out, '--recipe', 'fine_tune', '--img-size', px, '--max-minutes', a.sweep_minutes); save()
    if 'recipe' in parts: res['recipe'] = train_cli('fer_recipe', fer, out, '--recipe', 'fine_tune', '--max-minutes', m); save()
    for part in ('small_crop', 'small_crop_lr', 'full_train', 'loop_settings'):  # variants of the recipe, each from its config file
        if part in parts:
            res[f'recipe_{part}'] = train_cli(f'fer_recipe_{part}', fer, out, '--config', ROOT/'bench'/f'recipe_{part}.yaml', '--max-minutes', m); save()
    if 'scratch' in parts: res['scratch'] = train_cli('fer_scratch', fer, out, '--pretrained', 'none', '--max-minutes', m); save()
    if 'sidebyside' in parts: res['sidebyside'] = side_by_side(fer, out, a.sbs_minutes); res['sbs_minutes'] = a.sbs_minutes; save()
    if 'loop_sbs' in parts: res['loop_sbs'] = {**loop_side_by_side(fer, out, a.sbs_minutes), 'minutes': a.sbs_minutes}; save()
    if 'loop_full' in parts:
        key = f'plain_loop_{a.minutes:g}'
        if res.get(key, {}).get('host') != host or res[key]['minutes'] != a.minutes:  # measured on another host, or for another budget
            save(); run(*loop_py, key, '--minutes', m); res = json.loads(res_path.read_text())
        cfg = ROOT/'bench'/'recipe_loop_settings.yaml'
        res['loop_full'] = {**train_cli('fer_loop_full', fer, out, '--config', cfg, '--max-minutes', m), 'host': host, 'plain_loop': key}; save()
        run(*loop_py, key, '--score', out/'fer_loop_full'/'last.pth'); res = json.loads(res_path.read_text())  # the same two groups of faces
    clean_key = f'plain_loop_{a.minutes:g}_clean'
    if 'loop_clean' in parts:
        save(); run(*loop_py, clean_key, '--minutes', m, '--clean', log=out/f'{clean_key}.log'); res = json.loads(res_path.read_text())
    if 'loop_matched' in parts:
        if res.get(clean_key, {}).get('host') != host: sys.exit("loop_matched is read against loop_clean on the same host: run --only loop_clean loop_matched")
        cfg = ROOT/'bench'/'recipe_loop_matched.yaml'
        res['loop_matched'] = {**train_cli('fer_loop_matched', fer, out, '--config', cfg, '--max-minutes', m), 'host': host, 'plain_loop': clean_key}; save()
        run(*loop_py, clean_key, '--score', out/'fer_loop_matched'/'last.pth'); res = json.loads(res_path.read_text())
    if 'recipe_sbs' in parts:
        rs = res.get('recipe_sbs', {})
        if (rs.get('host'), rs.get('minutes')) != (host, a.sbs_minutes): rs = res['recipe_sbs'] = {'host': host, 'minutes': a.sbs_minutes, 'races': []}
        for seed in a.race_seeds:  # saved race by race; a seed already raced on this host for this budget is kept
            if seed not in [r['seed'] for r in rs['races']]: rs['races'].append(recipe_race(fer, out, a.sbs_minutes, seed)); save()
    if 'full_race' in parts:  # seed 42 under `full_race`, another seed under `full_race_<seed>`
        key = 'full_race' if a.full_race_seed == 42 else f'full_race_{a.full_race_seed}'
        fr = res.get(key, {})
        if (fr.get('host'), fr.get('minutes'), fr.get('seed')) != (host, a.minutes, a.full_race_seed):
            fr = res[key] = {'host': host, 'minutes': a.minutes, 'seed': a.full_race_seed}
        for side in a.full_race_sides:  # saved side by side
            if side not in fr: fr[side] = full_race_side(fer, out, m, a.full_race_seed, side); save()
    if 'baseline' in parts:
        res['baseline'] = train_cli('fer_baseline', fer, out, '--config', ROOT/'bench'/'baseline.yaml', '--max-minutes', m); save()
    if 'member2' in parts: res['member2'] = train_cli('fer_member2', fer, out, '--recipe', 'fine_tune', '--seed', 7, '--max-minutes', m); save()
    if 'ensemble' in parts:
        run(sys.executable, ROOT/'bench'/'fer_ensemble.py', '--fer', fer, '--runs', out,
            '--model', out/'fer_recipe'/'model.pth', '--model', out/'fer_member2'/'model.pth')
    if 'curve' in parts:
        ds = load_dataset(fer)
        res['curve'], res['curve_minutes'] = [], a.curve_minutes
        for f in (0.01, 0.05, 0.2, 1.0):
            for s in ('imagenet', 'none'): res['curve'].append(curve_point(ds, f, s, a.curve_minutes, out)); save()  # saved point by point
    if 'ckplus' in parts:
        starts = {'imagenet': 'imagenet', 'scratch': 'none', 'fer2013': Path(a.ck_scratch_model or out/'fer_scratch'/'model.pth'),
                  'imagenet_fer2013': Path(a.ck_recipe_model or out/'fer_recipe'/'model.pth')}
        for k in ('fer2013', 'imagenet_fer2013'):
            if not starts[k].exists(): print(f"ckplus: skipping {k}, no FER2013 model at {starts.pop(k)} (--only scratch recipe, or --ck-*-model)")
        res['ck_epochs'] = a.ck_epochs
        res['ckplus_cv'] = ckplus_cv(str(find_data(a.ckplus) or a.ckplus), starts, a.ck_epochs, out, res.setdefault('ckplus_cv', {}), save)
        save()
    if 'recipe_choice' in parts:  # `full` from ImageNet on the data where `fine_tune` was measured: does the size rule hold?
        rc = res.setdefault('recipe_choice', {})
        rc['ckplus'] = ckplus_cv(str(find_data(a.ckplus) or a.ckplus), {'imagenet_full': 'imagenet'}, a.ck_epochs, out,
                                 rc.setdefault('ckplus', {}), save, recipes={'imagenet_full': 'full'})
        if rc.get('curve_minutes') != a.curve_minutes: rc['curve'], rc['curve_minutes'] = [], a.curve_minutes
        ds, done = load_dataset(fer), {r['fraction'] for r in rc['curve']}
        for f in (0.01, 0.05, 0.2, 1.0):
            if f not in done: rc['curve'].append(curve_point(ds, f, 'imagenet', a.curve_minutes, out, 'full')); save()  # point by point
    print(f"wrote {res_path}")

if __name__ == '__main__': main()
