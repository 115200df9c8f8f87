"""`emotion_serve` under load: requests per second and latency at 1, 4 and 16 concurrent clients, then a soak test.

The model is the FER2013 benchmark model (`runs/bench/fer_recipe/model.pth`) exported to int8 ONNX with
`emotion_export --quantize int8 --calib-data fer2013` unless `--model` names an .onnx file. The server runs as its
console script on a free loopback port, in its own process; the clients are threads of this process posting one JPEG
photo (scikit-image's astronaut, 512x512, one face) to `/predict` again and again. For each concurrency it reports
requests/s and the p50/p95 latency over `--seconds`; the soak then runs `--soak-minutes` at 4 clients, counts
errors and samples the server's resident memory every 10 s. The memory bound checked is: the last sample at most
`--rss-growth-mb` above the sample taken after the first minute (warm-up allocations excluded).
Writes bench/results/serve.json; chapter 05c reads its figures from there."""
import argparse, io, json, os, platform, socket, subprocess, sys, threading, time, urllib.request, uuid
from pathlib import Path
import numpy as np
from PIL import Image
from skimage import data as sk_data

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def rss_mb(pid:int)->float:
    "Resident memory of a process, from /proc (Linux)"
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'): return int(line.split()[1]) / 1024
    return float('nan')

def multipart(data:bytes)->tuple[bytes, str]:
    b = uuid.uuid4().hex
    body = (f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n').encode() + data + f'\r\n--{b}--\r\n'.encode()
    return body, f'multipart/form-data; boundary={b}'

def load(url:str, body:bytes, ctype:str, clients:int, seconds:float)->dict:
    "`clients` threads posting for `seconds`: requests/s, latency percentiles, errors"
    lat, errors, stop = [], [], time.time() + seconds
    def client():
        while time.time() < stop:
            t = time.perf_counter()
            try:
                with urllib.request.urlopen(urllib.request.Request(url + '/predict', body, {'Content-Type': ctype}), timeout=60) as r:
                    ok = r.status == 200 and len(json.loads(r.read())['faces']) == 1
            except Exception as e: ok = False; errors.append(repr(e))
            if ok: lat.append(time.perf_counter() - t)
            elif not errors: errors.append('wrong answer')
    t0 = time.time(); ts = [threading.Thread(target=client) for _ in range(clients)]
    for t in ts: t.start()
    for t in ts: t.join()
    wall, ms = time.time() - t0, np.array(lat) * 1000
    return {'clients': clients, 'requests': len(lat), 'errors': len(errors), 'requests_per_s': len(lat) / wall,
            'p50_ms': float(np.percentile(ms, 50)) if len(ms) else None, 'p95_ms': float(np.percentile(ms, 95)) if len(ms) else None}

def int8_model(out:Path)->Path:
    "The FER2013 benchmark model exported to int8 ONNX (once)"
    onnx = out/'fer_recipe_int8.onnx'
    if not onnx.exists():
        subprocess.run([str(BIN/'emotion_export'), '--model', str(ROOT/'runs/bench/fer_recipe/model.pth'), '--out', str(onnx),
                        '--quantize', 'int8', '--calib-data', 'fer2013'], check=True)
    return onnx

def model_info(model:Path)->dict:
    "What the served model is: architecture, input size, quantization (ONNX metadata) and how it was trained (its run's metrics.json)"
    info = {}
    if model.suffix == '.onnx':
        from emotion_nb.runtime import read_metadata
        m = read_metadata(model); info = {k: m.get(k) for k in ('arch', 'img_size', 'quantization', 'source')}
    run = Path(info.get('source') or model).parent/'metrics.json'
    if run.is_file():
        r = json.loads(run.read_text())
        info['trained'] = {'data': Path(r['data']).name, 'epochs': r['epochs_run'], 'minutes': round(r['wall_seconds'] / 60, 1),
                           'test_accuracy': r.get('test', {}).get('accuracy')}
    import onnxruntime; info['onnxruntime'] = onnxruntime.__version__
    return info

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--model', default=None, help='an .onnx or .pth model (default: the FER2013 benchmark model, int8)')
    ap.add_argument('--seconds', type=float, default=20.)
    ap.add_argument('--soak-minutes', type=float, default=5.)
    ap.add_argument('--rss-growth-mb', type=float, default=50.)
    ap.add_argument('--out', default=str(ROOT/'bench/results/serve.json'))
    a = ap.parse_args()
    model = Path(a.model) if a.model else int8_model(ROOT/'runs/bench')
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    env = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1'}
    srv = subprocess.Popen([str(BIN/'emotion_serve'), '--model', str(model), '--port', str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(1200):
            try: urllib.request.urlopen(url + '/health', timeout=2); break
            except OSError: time.sleep(0.1)
        buf = io.BytesIO(); Image.fromarray(sk_data.astronaut()).save(buf, 'JPEG', quality=90)
        body, ctype = multipart(buf.getvalue())
        res = {'model': str(model), 'model_info': model_info(model), 'photo': 'skimage astronaut, 512x512 JPEG, one face', 'cpus': os.cpu_count(),
               'machine': platform.processor() or platform.machine(), 'load': []}
        for c in (1, 4, 16):
            res['load'].append(load(url, body, ctype, c, a.seconds)); print(json.dumps(res['load'][-1]), flush=True)
        samples, errors, requests, t_end = [], 0, 0, time.time() + a.soak_minutes * 60
        while time.time() < t_end:
            r = load(url, body, ctype, 4, min(10., t_end - time.time()))
            errors += r['errors']; requests += r['requests']; samples.append(round(rss_mb(srv.pid), 1))
        warm = samples[min(5, len(samples) - 1)]
        res['soak'] = {'minutes': a.soak_minutes, 'clients': 4, 'requests': requests, 'errors': errors, 'rss_mb': samples,
                       'rss_growth_after_warmup_mb': samples[-1] - warm, 'bound_mb': a.rss_growth_mb,
                       'ok': errors == 0 and samples[-1] - warm <= a.rss_growth_mb}
        print(json.dumps(res['soak']))
    finally: srv.terminate(); srv.wait(30)
    Path(a.out).write_text(json.dumps(res, indent=2))
    print('wrote', a.out)

if __name__ == '__main__': main()
