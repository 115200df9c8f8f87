"""The ONNX path needs no PyTorch: `emotion_predict model.onnx` and `OnnxClassifier` run in a process where `import torch` fails."""
import json, os, subprocess, sys
import numpy as np, pytest

BLOCK_TORCH = "import sys; sys.modules['torch'] = None  # any `import torch` now raises ImportError\n"

def _no_torch(code:str)->subprocess.CompletedProcess:
    "Run `code` in a fresh Python in which torch cannot be imported"
    env = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1'}
    return subprocess.run([sys.executable, '-c', BLOCK_TORCH + code], capture_output=True, text=True, env=env, timeout=300)

@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    "A small model trained for one epoch, its ONNX export, and two test images (this part uses PyTorch)"
    from emotion_nb.train import train
    from emotion_nb.learner import TrainConfig
    from emotion_nb.deploy import export_onnx
    from emotion_nb.data import load_dataset
    d = tmp_path_factory.mktemp('runtime')
    r = train('synthetic', d/'m', TrainConfig(arch='fer_cnn', pretrained='none', img_size=48, epochs=1), verbose=False)
    return r, export_onnx(d/'m'/'model.pth', d/'m.onnx'), list(load_dataset('synthetic').split('test').path[:2])

def test_torch_is_blocked():
    "The harness itself works: torch really is unimportable in the child"
    p = _no_torch("import torch")
    assert p.returncode != 0 and 'import of torch halted' in p.stderr

def test_emotion_predict_onnx_without_torch(exported):
    "The command prints PyTorch's answer for each image, and imports no torch, fastai or timm module"
    from emotion_nb.inference import predict
    r, onnx, imgs = exported
    p = _no_torch(f"""from emotion_nb.runtime import emotion_predict
sys.argv = ['emotion_predict', '--model', {str(onnx)!r}, *{imgs!r}, '--json', '--no-detect']
try: emotion_predict()
finally: print(sorted(m for m, v in sys.modules.items() if v is not None and m.split('.')[0] in ('torch', 'fastai', 'timm')))""")
    assert p.returncode == 0, p.stderr[-3000:]
    *lines, loaded = p.stdout.strip().splitlines()
    assert loaded == '[]', loaded
    recs = [json.loads(l) for l in lines]
    import pandas as pd
    ref = predict(r.model, pd.DataFrame({'path': imgs}), r.meta.img_size, r.meta.mean, r.meta.std, contrast=r.meta.contrast)
    assert [x['label'] for x in recs] == [r.meta.classes[i] for i in ref.argmax(1)]
    np.testing.assert_allclose([x['probability'] for x in recs], ref.max(1), atol=1e-4)

def test_onnx_classifier_without_torch(exported):
    "`OnnxClassifier` preprocesses with `image_array` and matches PyTorch's probabilities"
    from emotion_nb.inference import image_tensor
    from emotion_nb.preprocess import read_image
    r, onnx, imgs = exported
    p = _no_torch(f"""import json
from emotion_nb.runtime import OnnxClassifier
clf = OnnxClassifier({str(onnx)!r})
print(json.dumps({{'probs': clf.predict_proba({imgs!r}).tolist(), 'x': clf.preprocess({imgs[0]!r}).tolist()}}))""")
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout)
    m = r.meta
    x = image_tensor(read_image(imgs[0]), m.img_size, m.mean, m.std, m.contrast).numpy()
    np.testing.assert_array_equal(np.asarray(out['x'], np.float32), x)  # one preprocessing, bit for bit
    from emotion_nb.inference import predict
    import pandas as pd
    np.testing.assert_allclose(out['probs'], predict(r.model, pd.DataFrame({'path': imgs}), m.img_size, m.mean, m.std, contrast=m.contrast), atol=1e-5)

def test_face_detection_without_torch(exported, tmp_path):
    "Finding the faces in a photo (OpenCV) needs no torch either: one record per face, with its box"
    from PIL import Image
    from skimage import data as sk_data
    r, onnx, imgs = exported
    Image.fromarray(sk_data.astronaut()).save(tmp_path/'astronaut.jpg')
    p = _no_torch(f"""from emotion_nb.runtime import emotion_predict
sys.argv = ['emotion_predict', '--model', {str(onnx)!r}, {str(tmp_path/'astronaut.jpg')!r}, '--json']
try: emotion_predict()
finally: print(sorted(m for m, v in sys.modules.items() if v is not None and m.split('.')[0] in ('torch', 'fastai', 'timm')))""")
    assert p.returncode == 0, p.stderr[-3000:]
    *lines, loaded = p.stdout.strip().splitlines()
    assert loaded == '[]', loaded
    (rec,) = [json.loads(l) for l in lines]
    x, y, w, h = rec['box']
    assert rec['face'] == 0 and rec['label'] in r.meta.classes and 100 < x < 300 and 20 < y < 200 and w == h > 60

def test_emotion_serve_without_torch(exported, tmp_path):
    "The console script `emotion_serve` answers over loopback HTTP with an ONNX model, in a Python where torch cannot be imported"
    import socket, time, urllib.request, uuid
    from PIL import Image
    from skimage import data as sk_data
    r, onnx, imgs = exported
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    code = f"""from emotion_nb.serve import emotion_serve
sys.argv = ['emotion_serve', '--model', {str(onnx)!r}, '--port', '{port}']
emotion_serve()"""
    env = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1'}
    proc = subprocess.Popen([sys.executable, '-c', BLOCK_TORCH + code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(600):  # up to a minute for the interpreter to start
            try: health = json.loads(urllib.request.urlopen(url + '/health', timeout=2).read()); break
            except OSError: time.sleep(0.1)
            assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert health == {'status': 'ok'}
        assert json.loads(urllib.request.urlopen(url + '/model').read())['classes'] == r.meta.classes
        b, buf = uuid.uuid4().hex, __import__('io').BytesIO()
        Image.fromarray(sk_data.astronaut()).save(buf, 'JPEG')
        body = (f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n').encode() + buf.getvalue() + f'\r\n--{b}--\r\n'.encode()
        req = urllib.request.Request(url + '/predict', body, {'Content-Type': f'multipart/form-data; boundary={b}'})
        answer = json.loads(urllib.request.urlopen(req, timeout=60).read())
        assert len(answer['faces']) == 1 and answer['faces'][0]['label'] in r.meta.classes
    finally:
        proc.terminate(); out, err = proc.communicate(timeout=30)
    assert 'torch' not in err, err[-2000:]

def test_emotion_web_without_torch(exported, tmp_path):
    "The console script `emotion_web` builds the Try it page (and, with Chromium and `npm ci`, checks it) without PyTorch"
    import shutil
    from emotion_nb.browser import chromium_exe, find_ort_web
    try: find_ort_web()
    except FileNotFoundError: pytest.skip('onnxruntime-web not installed (npm ci)')
    r, onnx, imgs = exported
    ex = tmp_path/'examples'; ex.mkdir()
    for p in imgs: shutil.copy(p, ex)
    check = ['--check'] if chromium_exe() else []
    code = f"""from emotion_nb.browser import emotion_web
sys.argv = ['emotion_web', '--model', {str(onnx)!r}, '--out', {str(tmp_path/'try')!r}, '--examples', {str(ex)!r}, '--json', *{check!r}]
emotion_web()"""
    p = _no_torch(code)
    assert p.returncode == 0, p.stderr[-3000:]
    rep = json.loads(p.stdout)
    assert {'index.html', 'try.js', 'model.onnx', 'ort/ort.wasm.min.js'} <= set(rep['files'])
    assert len([f for f in rep['files'] if f.startswith('examples/')]) == len(imgs)
    if check: assert [c['ok'] for c in rep['check']] == [True] * len(imgs) and max(c['max_abs_diff'] for c in rep['check']) <= 1e-3
    assert 'torch' not in p.stderr, p.stderr[-2000:]
