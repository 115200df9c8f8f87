"""Which layers cost an int8 model its accuracy? A sensitivity scan of static int8 quantization on FER2013 PublicTest.

For the fp32 ONNX model of bench/deploy_benchmark.py (by default the Lite0 it benchmarked, at its own input size), this
quantizes the graph several ways with chapter 05's `quantize_int8` (QDQ, per-channel, minmax calibration on the same
256 stratified training images) and scores each on all PublicTest faces, against the fp32 graph:

  variants    everything in int8 with 7-bit weights (the default) and with 8-bit weights; the first convolution (the
              stem) kept in float; the last convolution and the classifier kept in float; every depthwise convolution
              kept in float
              (each also run unfused, graph optimizations off, to tell the graph's error from the fused kernels')
  one_float   every convolution in turn kept in float, the rest int8 (7-bit weights): if one layer caused most of the
              loss, keeping it in float would win most of it back

Figures go to bench/results/int8_sensitivity.json (read by nbs/05_deployment). Not a test: about ten minutes on a
2-core CPU."""
import argparse, json, os, platform, tempfile, time
from pathlib import Path
os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
import numpy as np, onnx

ROOT = Path(__file__).resolve().parents[1]

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--data', default='fer2013')
    ap.add_argument('--onnx', default=str(ROOT/'runs'/'deploy_bench'/'efficientnet_lite0_deploy_model.onnx'), help='fp32 model (bench/deploy_benchmark.py --model ... writes it)')
    ap.add_argument('--n-calib', type=int, default=256)
    ap.add_argument('--results', default=str(ROOT/'bench'/'results'/'int8_sensitivity.json'))
    a = ap.parse_args()
    from onnxruntime.quantization import quant_pre_process
    from emotion_nb.data import load_dataset
    from emotion_nb.audit import clean_dataset
    from emotion_nb.deploy import calibration_items, items_images, quantize_int8, onnx_runner, predicted_classes
    from emotion_nb.runtime import OnnxClassifier
    fp32, t0 = Path(a.onnx), time.time()
    clf = OnnxClassifier(fp32)
    test = clean_dataset(load_dataset(a.data), verbose=False).split('test')
    x = np.stack([clf.preprocess(im) for im in items_images(test)]); y = test.label.map(list(clf.classes).index).to_numpy()
    ref = predicted_classes(onnx_runner(fp32), x)
    calib = items_images(calibration_items(a.data, a.n_calib))
    d = Path(tempfile.mkdtemp()); pre = d/'pre.onnx'; quant_pre_process(str(fp32), str(pre))  # the node names quantize_int8 sees
    nodes = onnx.load(pre).graph.node
    convs = [n for n in nodes if n.op_type == 'Conv']
    depthwise = [n.name for n in convs if any(t.name == 'group' and t.i > 1 for t in n.attribute)]
    classifier = [n.name for n in nodes if n.op_type in ('Gemm', 'MatMul')]
    def scored(keep=(), reduce_range=True, unfused=False)->dict:
        q = quantize_int8(fp32, d/'q.onnx', calib, reduce_range=reduce_range, keep_float=list(keep))
        p = predicted_classes(onnx_runner(q), x)
        r = {'accuracy': float((p == y).mean()), 'top1_agreement': float((p == ref).mean()), 'size_MB': round(q.stat().st_size / 2**20, 2)}
        if unfused: r['unfused_accuracy'] = float((OnnxClassifier(q, optimize=False).run(x).argmax(1) == y).mean())  # the graph as written
        return r
    variants = {'all int8, 7-bit weights': ((), True), 'all int8, 8-bit weights': ((), False), 'stem in float': ([convs[0].name], True),
                'last conv + classifier in float': ([convs[-1].name] + classifier, True), 'depthwise convs in float': (depthwise, True)}
    res = {'model': str(fp32.resolve().relative_to(ROOT)) if fp32.resolve().is_relative_to(ROOT) else str(fp32), 'n_test': len(y), 'fp32_accuracy': float((ref == y).mean()), 'n_convs': len(convs), 'n_depthwise': len(depthwise),
           'variants': {}, 'one_float': {}}
    for k, (keep, rr) in variants.items():
        res['variants'][k] = {**scored(keep, rr, unfused=True), 'kept_float': len(keep)}; print(k, res['variants'][k], flush=True)
    for n in convs:
        res['one_float'][n.name] = scored([n.name]); print(n.name, res['one_float'][n.name], flush=True)
    res.update(seconds=round(time.time() - t0, 1), machine={'cpu_count': os.cpu_count(), 'platform': platform.platform()})
    Path(a.results).write_text(json.dumps(res, indent=1)); print(f"wrote {a.results}")

if __name__ == '__main__': main()
