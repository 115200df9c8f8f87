"""End-to-end tests of what cannot live in a notebook: the installed package and its console scripts."""
import configparser, json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1'}
SHARED = ROOT.parent/'shared'/'data'

def run(*args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=ENV, timeout=600, **kw)

def test_install_smoke():
    "The package imports with a working torchvision, at the version settings.ini declares"
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    r = run(sys.executable, '-c', 'import torchvision, torchvision.ops, torch, emotion_nb; '
            'print(emotion_nb.__version__); torchvision.ops.nms(torch.rand(2, 4), torch.rand(2), 0.5)')
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == cfg['DEFAULT']['version']

def test_emotion_data_synthetic(tmp_path):
    "The quick start's main job writes its summary, audit and charts"
    r = run(BIN/'emotion_data', '--data', 'synthetic', '--out', tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'EmotionDataset(synthetic' in r.stdout and 'Audit of 420 images: 0 excluded' in r.stdout
    s = json.loads((tmp_path/'summary.json').read_text())
    assert s['n_images'] == 420 and s['excluded'] == 0 and len(s['classes']) == 7
    for f in ('audit.csv', 'class_distribution.png', 'samples.png'): assert (tmp_path/f).stat().st_size > 0

def test_emotion_data_bad_folder(tmp_path):
    "A folder with broken files is audited, and each bad file is named in the report"
    for c in ('happy', 'sad'): (tmp_path/'d'/c).mkdir(parents=True)
    from PIL import Image
    for i in range(3):
        Image.new('L', (48, 48), 10 * i).save(tmp_path/'d'/'happy'/f'{i}.png'); Image.new('L', (48, 48), 100 + i).save(tmp_path/'d'/'sad'/f'{i}.png')
    (tmp_path/'d'/'sad'/'broken.jpg').write_bytes(b'\xff\xd8\xff garbage')
    from emotion_nb.audit import emotion_data
    from emotion_nb.command import run_command
    r = run_command(emotion_data, '--data', tmp_path/'d', '--out', tmp_path/'out')  # in this process (the console script runs above)
    assert r.returncode == 0, r.stderr
    assert 'broken.jpg' in r.stdout and '1 excluded' in r.stdout
    assert 'broken.jpg' in (tmp_path/'out'/'audit.csv').read_text()

@pytest.mark.parametrize('data, msg', [('no/such/place', 'no such file or folder'), ('EMPTY', 'cannot tell the dataset format')])
def test_emotion_data_bad_input(tmp_path, data, msg):
    "Bad input is one clear line on stderr and exit status 1 (an error, not a usage mistake), no traceback"
    if data == 'EMPTY': data = tmp_path
    from emotion_nb.audit import emotion_data
    from emotion_nb.command import run_command
    r = run_command(emotion_data, '--data', data)  # in this process, as the console script calls it
    assert r.returncode == 1
    assert msg in r.stderr and 'Traceback' not in r.stderr and len(r.stderr.strip().splitlines()) == 1

@pytest.mark.skipif(not (SHARED/'fer2013_sample.csv').exists(), reason='shared/data is absent')
def test_emotion_data_fer_csv():
    "A FER2013-format CSV is read as a dataset"
    from emotion_nb.audit import emotion_data
    from emotion_nb.command import run_command
    r = run_command(emotion_data, '--data', SHARED/'fer2013_sample.csv')
    assert r.returncode == 0, r.stderr
    assert 'EmotionDataset(fer_csv, 385 images' in r.stdout

def _console_scripts()->dict:
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    return dict(e.split('=') for e in cfg['DEFAULT']['console_scripts'].split())

def test_each_command_defined_once():
    "Each console script is one function, defined in one module; any other module only re-exports that same object"
    import importlib
    mods = [importlib.import_module(f'emotion_nb.{m}') for m in ('preprocess', 'command', 'data', 'audit', 'loaders', 'train', 'ensemble', 'gradcam', 'deploy', 'runtime', 'faces', 'serve', 'browser')]
    for name, target in _console_scripts().items():
        mod, fn = target.split(':')
        func = getattr(importlib.import_module(mod), fn)
        assert func.__module__ == mod, f'{name} -> {target} is defined in {func.__module__}'
        assert [m.__name__ for m in mods if getattr(m, fn, func) is not func] == [], f'{fn} is defined more than once'

def test_help_spells_flags_alike():
    "Every command's --help spells its flags with dashes; the flags commands share have one name"
    import importlib, re
    from emotion_nb.command import run_command
    helps = {}
    for name, target in _console_scripts().items():
        mod, fn = target.split(':')
        r = run_command(getattr(importlib.import_module(mod), fn), '--help')
        assert r.returncode == 0, r.stderr
        helps[name] = set(re.findall(r'(?<![\w-])(--[a-z][\w-]*)', r.stdout))
        assert not [f for f in helps[name] if '_' in f], (name, helps[name])
    for name in ('emotion_evaluate', 'emotion_predict', 'emotion_export', 'emotion_serve', 'emotion_web'): assert '--model' in helps[name], (name, helps[name])
    for name in ('emotion_data', 'emotion_train', 'emotion_export', 'emotion_web'): assert '--out' in helps[name], (name, helps[name])
    for name, flags in helps.items(): assert {'--json', '--version', '--help'} <= flags, (name, flags)

def test_version_and_exit_statuses_in_help():
    "Every command answers --version, and its --help explains its exit statuses"
    import importlib
    from emotion_nb.command import run_command, EXIT_STATUS
    for name, target in _console_scripts().items():
        mod, fn = target.split(':')
        cmd = getattr(importlib.import_module(mod), fn)
        r = run_command(cmd, '--version')
        assert r.returncode == 0 and r.stdout.startswith(f'{fn} (emotion_nb) '), (name, r.stdout, r.stderr)
        assert EXIT_STATUS in ' '.join(run_command(cmd, '--help').stdout.split()), name
