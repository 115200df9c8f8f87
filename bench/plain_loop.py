"""The issue's reference: a plain PyTorch training loop over in-memory tensors, for comparison with the course's recipe.

Not the course's way to train (that is fastai's `Learner`, chapter 01): a yardstick, measured on the same machine and
data, for what the recipe should match. As issue #15 describes it: ImageNet EfficientNet-Lite0 (timm's
`tf_efficientnet_lite0` with the packaged weights) at 64 px, a linear classifier, every layer trained from the first
step at one learning rate, each training face a random 44 px crop of the 64 px image plus a mirror half the time,
AdamW, label smoothing 0.1, a 3% linear warm-up and one cosine cycle sized to the time budget (planned after 30 steps,
re-planned at the end of each epoch to the speed so far, as the course's `TimeBudget` does), trained on the whole
training folder (no validation split carved out) and, unless --clean, without the audit that removes the training
copies of test faces. PublicTest is scored at the end on whole 64 px faces, plain and with flip TTA, and separately on
the test faces that have a copy among the training faces and on the rest. Writes its figures into bench/results/fer2013.json under `plain_loop`.

    python bench/plain_loop.py --minutes 15            # on an otherwise idle machine: the budget is wall-clock time
    python bench/plain_loop.py --score runs/bench/fer_recipe_full_train/model.pth   # the recipe's model on the same faces
    python bench/plain_loop.py --minutes 0.2 --limit 700 --results /tmp/x.json   # a smoke test"""
import argparse, json, math, os, platform, time
from pathlib import Path
import numpy as np, torch, torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]

def face_tensors(items, size:int)->torch.Tensor:
    "The grey faces of the table `items`, resized to `size` px, as one uint8 tensor (n, 1, size, size)"
    from emotion_nb.data import row_image
    ims = [np.asarray(row_image(r).convert('L').resize((size, size), 2)) for _, r in items.iterrows()]  # 2: bilinear
    return torch.from_numpy(np.stack(ims))[:, None]

def batch_view(x:torch.Tensor, crop:int|None=None)->torch.Tensor:
    "uint8 faces -> normalised 3-channel floats; with `crop`, a random `crop` px square and a random mirror per face"
    if crop:
        n, s = len(x), x.shape[-1]
        i, j = torch.randint(0, s - crop + 1, (2, n))
        x = torch.stack([f[:, a:a + crop, b:b + crop] for f, a, b in zip(x, i.tolist(), j.tolist())])
        flip = torch.rand(n) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    x = (x.float() / 255 - 0.5) / 0.5  # the Lite0 weights' input statistics
    return x.expand(-1, 3, -1, -1).contiguous(memory_format=torch.channels_last)

def lite0(n_classes:int)->torch.nn.Module:
    "timm's EfficientNet-Lite0 with the packaged ImageNet weights and a new linear classifier"
    import timm
    from emotion_nb.models import lite_imagenet_state_dict
    m = timm.create_model('tf_efficientnet_lite0', pretrained=False)
    m.load_state_dict(lite_imagenet_state_dict(0))
    m.reset_classifier(n_classes)
    return m.to(memory_format=torch.channels_last)

@torch.no_grad()
def predictions(m, x, tta=False, bs=256)->torch.Tensor:
    "The classes `m` predicts for the uint8 faces `x` (whole images; with `tta`, averaged with their mirror)"
    m.eval(); out = []
    for k in range(0, len(x), bs):
        v = batch_view(x[k:k + bs]); p = m(v).softmax(1)
        if tta: p = p + m(v.flip(-1)).softmax(1)
        out.append(p.argmax(1))
    return torch.cat(out)

def score(m, x, y, tta=False)->float:
    "Top-1 accuracy of `m` on the uint8 faces `x`"
    return (predictions(m, x, tta) == y).float().mean().item() if len(x) else float('nan')

def per_class(pred, y, classes)->dict:
    "Macro-F1 and the recall of each class, as the course's evaluation reports them"
    from sklearn.metrics import f1_score, recall_score
    lab = list(range(len(classes)))
    return {'test_macro_f1': float(f1_score(y, pred, labels=lab, average='macro', zero_division=0)),
            'test_recall': dict(zip(classes, map(float, recall_score(y, pred, labels=lab, average=None, zero_division=0))))}

def test_copies(ds)->set:
    "Paths of the test faces the audit finds a copy of (exact or near-identical) in another split"
    from emotion_nb.audit import audit_dataset
    iss = audit_dataset(ds).issues
    kept = iss.partner[iss.issue.isin(['cross_split_duplicate', 'cross_split_near_duplicate'])]
    split_of = dict(zip(ds.items.path.astype(str), ds.items.split))
    return {p for p in kept if split_of.get(p) == 'test'}

def score_checkpoints(paths, te, copied)->dict:
    "Accuracy of trained checkpoints of this project on the test faces with and without a copy in the training folder"
    from emotion_nb.inference import load_model, predict
    out = {}
    for p in map(Path, paths):
        m, meta = load_model(p)
        ok = torch.tensor(predict(m, te, meta.img_size, meta.mean, meta.std, contrast=meta.contrast).argmax(1) == te.label.map(meta.classes.index).to_numpy())
        out[p.parent.name] = {'accuracy': ok.float().mean().item(), 'with_train_copy': ok[copied].float().mean().item(),
                              'without_train_copy': ok[~copied].float().mean().item()}
        print(p.parent.name, out[p.parent.name], flush=True)
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--fer', default='fer2013'); ap.add_argument('--minutes', type=float, default=15)
    ap.add_argument('--lr', type=float, default=1e-3); ap.add_argument('--bs', type=int, default=64)
    ap.add_argument('--wd', type=float, default=0.05); ap.add_argument('--size', type=int, default=64)
    ap.add_argument('--crop', type=int, default=44); ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--clean', action='store_true', help="train on the audited faces (no copies of test faces), as the recipe does")
    ap.add_argument('--score', nargs='*', default=[], help="only score these checkpoints (e.g. the recipe's model.pth) on the same two groups of test faces")
    ap.add_argument('--limit', type=int, help='use only this many training and test faces (smoke tests)')
    ap.add_argument('--results', default=str(ROOT/'bench'/'results'/'fer2013.json')); ap.add_argument('--key', default='plain_loop')
    a = ap.parse_args()
    from emotion_nb.data import find_data, load_dataset
    torch.manual_seed(a.seed)
    ds = load_dataset(str(find_data(a.fer) or a.fer))
    copies = test_copies(ds)  # test faces with a copy among the training faces
    if a.clean:
        from emotion_nb.audit import clean_dataset
        ds = clean_dataset(ds, verbose=False)
    it = ds.items.sample(frac=1, random_state=a.seed)
    tr, te = it[it.split.isin(['train', 'valid'])][:a.limit], it[it.split == 'test'][:a.limit]
    copied = torch.tensor(te.path.isin(copies).to_numpy())
    cls = {c: i for i, c in enumerate(ds.classes)}
    if a.score:  # a model of the recipe never trained on the copies (the audit drops them): how easy are those faces anyway?
        p = Path(a.results); res = json.loads(p.read_text()) if p.exists() else {}
        res.setdefault(a.key, {}).setdefault('same_faces', {}).update(score_checkpoints(a.score, te, copied))
        p.write_text(json.dumps(res, indent=1)); return
    print(f"{int(copied.sum())} of {len(te)} test faces have a copy in the training folder; trained {'without' if a.clean else 'with'} those copies", flush=True)
    t0 = time.time()
    xtr, xte = face_tensors(tr, a.size), face_tensors(te, a.size)
    ytr, yte = torch.tensor(tr.label.map(cls).to_numpy()), torch.tensor(te.label.map(cls).to_numpy())
    print(f"{len(xtr)} training and {len(xte)} test faces in memory in {time.time() - t0:.0f} s", flush=True)
    m = lite0(len(ds.classes))
    opt = torch.optim.AdamW(m.parameters(), lr=a.lr, weight_decay=a.wd)
    budget, step, seen, total, t0 = a.minutes * 60, 0, 0, None, time.time()
    while True:
        perm = torch.randperm(len(xtr))
        for k in range(0, len(xtr) - a.bs + 1, a.bs):
            el = time.time() - t0
            if total is None and step == 30: total = max(31, int(budget / (el / step)))  # steps that fit the budget
            if (total and step >= total) or el > budget: break
            n = total or 10**9
            warm = max(1, int(0.03 * n))
            lr = a.lr * (step + 1) / warm if step < warm else a.lr * 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, n - warm)))
            for g in opt.param_groups: g['lr'] = lr
            idx = perm[k:k + a.bs]
            m.train(); loss = F.cross_entropy(m(batch_view(xtr[idx], a.crop)), ytr[idx], label_smoothing=0.1)
            opt.zero_grad(); loss.backward(); opt.step()
            step += 1; seen += len(idx)
        else:
            el = time.time() - t0
            if total: total = max(step + 1, int(budget * step / el))  # re-planned to the rate so far: the cycle ends with the budget
            print(f"epoch {seen / len(xtr):.1f}: {el:.0f} s, {seen / el:.0f} img/s, loss {loss.item():.3f}, {total} steps planned", flush=True)
            continue
        break
    fit_s = time.time() - t0
    r = {'minutes': a.minutes, 'train_images': len(xtr), 'epochs': round(seen / len(xtr), 2), 'steps': step, 'fit_seconds': round(fit_s, 1),
         'train_images_per_s': round(seen / fit_s, 1), 'threads': torch.get_num_threads(), 'host': platform.platform(),
         'settings': {k: getattr(a, k) for k in ('lr', 'bs', 'wd', 'size', 'crop', 'seed')},
         'clean': a.clean, 'test_n': len(xte), 'test_accuracy': score(m, xte, yte), 'test_accuracy_tta': score(m, xte, yte, tta=True),
         **per_class(predictions(m, xte), yte, ds.classes),
         'test_with_train_copy': {'n': int(copied.sum()), 'accuracy': score(m, xte[copied], yte[copied])},
         'test_without_train_copy': {'n': int((~copied).sum()), 'accuracy': score(m, xte[~copied], yte[~copied])}}
    print(json.dumps(r), flush=True)
    p = Path(a.results); res = json.loads(p.read_text()) if p.exists() else {}
    res[a.key] = {**r, 'same_faces': res.get(a.key, {}).get('same_faces', {})}; p.write_text(json.dumps(res, indent=1))

if __name__ == '__main__': main()
