"""Grad-CAM speed: this project's GradCAM / GradCAMPlusPlus against pytorch-grad-cam's, same model, layer and batch.

resnet18 (torchvision, random weights: speed does not depend on them), a batch of 32 images of 224 px, target layer
`layer4.1`, targets = the predicted classes. Each implementation is timed `--repeats` times, alternating, after a
warm-up; the median is reported as maps per second. Figures go to bench/results/gradcam_speed.json (read by
nbs/03_gradcam). Not a test."""
import argparse, json, os, platform, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--bs', type=int, default=32); ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--results', default=str(ROOT/'bench'/'results'/'gradcam_speed.json'))
    a = ap.parse_args()
    import numpy as np, torch, torchvision
    from pytorch_grad_cam import GradCAM as RefCAM, GradCAMPlusPlus as RefPP
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
    from emotion_nb.gradcam import GradCAM, GradCAMPlusPlus
    torch.manual_seed(0)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    model = torchvision.models.resnet18().eval().to(device)
    x = torch.randn(a.bs, 3, a.size, a.size, device=device)
    with torch.no_grad(): targets = model(x).argmax(1)
    ref_targets = [ClassifierOutputTarget(int(t)) for t in targets]
    def ours(cls):
        def f():
            with cls(model, 'layer4.1') as cam: return cam(x, targets)
        return f
    def ref(cls):
        def f():
            with cls(model=model, target_layers=[model.layer4[1]]) as cam: return cam(input_tensor=x, targets=ref_targets)
        return f
    runs = {'ours GradCAM': ours(GradCAM), 'pytorch-grad-cam GradCAM': ref(RefCAM),
            'ours GradCAM++': ours(GradCAMPlusPlus), 'pytorch-grad-cam GradCAM++': ref(RefPP)}
    times = {k: [] for k in runs}
    for f in runs.values(): f()  # warm-up
    for _ in range(a.repeats):
        for k, f in runs.items():
            if device == 'cuda': torch.cuda.synchronize()
            t = time.perf_counter(); f()
            if device == 'cuda': torch.cuda.synchronize()
            times[k].append(time.perf_counter() - t)
    res = {k: {'seconds_per_batch': float(np.median(v)), 'maps_per_s': a.bs / float(np.median(v))} for k, v in times.items()}
    ratio = res['ours GradCAM']['maps_per_s'] / res['pytorch-grad-cam GradCAM']['maps_per_s']
    ratio_pp = res['ours GradCAM++']['maps_per_s'] / res['pytorch-grad-cam GradCAM++']['maps_per_s']
    note = (f"resnet18, batch {a.bs} x {a.size} px on {device} ({os.cpu_count()} CPUs), median of {a.repeats}: ours / pytorch-grad-cam "
            f"= {ratio:.2f}x (Grad-CAM), {ratio_pp:.2f}x (Grad-CAM++)")
    out = {'machine': {'cpu_count': os.cpu_count(), 'platform': platform.platform(), 'torch': torch.__version__, 'device': device},
           'bs': a.bs, 'size': a.size, 'repeats': a.repeats, 'results': res, 'ratio_gradcam': ratio, 'ratio_gradcam_pp': ratio_pp, 'note': note}
    Path(a.results).parent.mkdir(parents=True, exist_ok=True); Path(a.results).write_text(json.dumps(out, indent=1))
    print(json.dumps(res, indent=1)); print(note)

if __name__ == '__main__': main()
