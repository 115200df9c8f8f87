"""End-to-end tests of `emotion_train` and `emotion_evaluate`, run as console scripts exactly as users run them."""
import json, os, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1'}
SHARED = ROOT.parent/'shared'/'data'
QUICK = ['--arch', 'small_cnn', '--pretrained', 'none', '--epochs', '2', '--img-size', '32']

def run(*args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=ENV, timeout=900, **kw)

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A small model trained on the built-in data by the CLI"
    out = tmp_path_factory.mktemp('run')/'m'
    r = run(BIN/'emotion_train', '--data', 'synthetic', '--out', out, *QUICK)
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r.stdout

def test_train_writes_the_run(trained):
    out, stdout = trained
    for f in ('model.pth', 'last.pth', 'metrics.json', 'history.csv', 'config.yaml', 'curves.png', 'confusion_test.png'):
        assert (out/f).stat().st_size > 0, f
    m = json.loads((out/'metrics.json').read_text())
    assert m['arch'] == 'small_cnn' and m['epochs_run'] == 2 and m['test']['n'] == 63
    assert 'test : accuracy' in stdout and 'mixed precision: off' in stdout

def in_process(cmd:str, *args):
    "Run a command in this process, as its console script calls it (saves each test a fresh interpreter's imports)"
    from emotion_nb.command import run_command
    from emotion_nb.train import emotion_train
    from emotion_nb.ensemble import emotion_evaluate
    return run_command({'emotion_train': emotion_train, 'emotion_evaluate': emotion_evaluate}[cmd], *args)

def test_evaluate_text_and_json(trained):
    "The console script prints the report; --json gives the same figures as training's report"
    out, _ = trained
    r = run(BIN/'emotion_evaluate', '--model', out/'model.pth', '--data', 'synthetic', '--split', 'test')
    assert r.returncode == 0, r.stderr
    assert 'macro-F1' in r.stdout and 'true happy' in r.stdout and 'support' in r.stdout
    r = in_process('emotion_evaluate', '--model', out/'model.pth', '--data', 'synthetic', '--json')
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert {'accuracy', 'macro_f1', 'n', 'per_class'} <= set(m) and m['n'] == 63
    assert m['accuracy'] == json.loads((out/'metrics.json').read_text())['test']['accuracy']  # same as training's report
    assert set(m['per_class']['happy']) == {'precision', 'recall', 'f1', 'support'}

def test_evaluate_folder_of_class_folders(trained, tmp_path):
    "A plain folder of class folders is evaluated as a whole; classes are matched by name, a subset is fine"
    out, _ = trained
    src = Path(json.loads((out/'metrics.json').read_text())['data'])/'test'
    for c in ('sad', 'happy'): shutil.copytree(src/c, tmp_path/'faces'/c)
    r = in_process('emotion_evaluate', '--model', out/'model.pth', '--data', tmp_path/'faces', '--json')
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    assert m['split'] == 'all' and m['n'] == 18 and m['per_class']['angry']['support'] == 0
    shutil.copytree(src/'fear', tmp_path/'faces'/'contempt')  # a class the model does not know
    r = in_process('emotion_evaluate', '--model', out/'model.pth', '--data', tmp_path/'faces')
    assert r.returncode == 1 and 'contempt are not classes of the model' in r.stderr and 'Traceback' not in r.stderr

def test_resume_via_cli(trained, tmp_path):
    "--resume on a finished run says so and leaves it as it was"
    out, _ = trained
    r = in_process('emotion_train', '--data', 'synthetic', '--out', out, '--resume')
    assert r.returncode == 0, r.stderr
    assert 'the run already finished' in r.stdout

def _corrupt(d): p = d/'corrupt.pth'; p.write_bytes(b'PK\x03\x04 this is not a model'); return p
def _sgd_config(d): p = d/'sgd.yaml'; p.write_text('optimizer: sgd\n'); return p
def _pickled(d):
    import torch; p = d/'code.pth'; torch.save({'format': 'emotion_nb.checkpoint/1', 'x': Path('.')}, p); return p

@pytest.mark.parametrize('cmd, args, msg, code', [  # exit status 1: the work failed; 2: the flags are wrong
    ('emotion_evaluate', ['--model', 'no/such/model.pth'], 'no such model file', 1),
    ('emotion_evaluate', [], 'the following arguments are required: --model', 2),
    ('emotion_evaluate', ['--model', _corrupt], 'not a readable model file', 1),
    ('emotion_evaluate', ['--model', _pickled], 'refused, loading it would run code', 1),
    ('emotion_evaluate', ['--model', _corrupt, '--split', 'holdout'], "invalid choice: 'holdout'", 2),
    ('emotion_train', ['--arch', 'resnet19'], "invalid choice: 'resnet19'", 2),
    ('emotion_train', ['--data', 'EMPTY', '--pretrained', 'none'], 'the dataset is empty', 1),
    ('emotion_train', ['--pretrained', 'no/such/model.pth'], 'no such model file', 1),
    ('emotion_train', ['--config', 'no/such.yaml'], 'no such config file', 1),
    ('emotion_train', ['--aug', 'extreme'], 'unknown augmentation preset', 2),
    ('emotion_train', ['--aug', 'no/such_aug.yaml'], 'no such augmentation file', 1),
    ('emotion_train', ['--aug', 'heavy', '--mixup', '0.4', '--cutmix', '1'], 'MixUp or CutMix, not both', 2),
    ('emotion_train', ['--mixup', '-0.5'], 'alpha >= 0', 2),
    ('emotion_train', ['--config', _sgd_config, '--data', 'no/such/folder'], "optimizer must be one of adamw, fastai", 2),  # before the data
])
def test_bad_input(tmp_path, cmd, args, msg, code):
    "Bad input is one clear line on stderr (after the usage, for bad flags) and the exit status of its kind, no traceback (run in this process: the console scripts call the same functions)"
    for c in ('happy', 'sad'): (tmp_path/'empty'/c).mkdir(parents=True)  # class folders without images
    args = [a(tmp_path) if callable(a) else (tmp_path/'empty' if a == 'EMPTY' else a) for a in args]
    extra = ['--data', 'synthetic'] if cmd == 'emotion_evaluate' else ['--out', tmp_path/'run', '--epochs', '1']
    r = in_process(cmd, *args, *extra)  # in this process: an escaping exception fails the test with its traceback
    assert r.returncode == code, (r.stdout[-2000:], r.stderr[-2000:])
    lines = r.stderr.strip().splitlines()
    assert msg in lines[-1] and 'Traceback' not in r.stderr and (code == 2 or len(lines) == 1), r.stderr

@pytest.mark.parametrize('flags, cb', [(['--aug', 'heavy', '--mixup', '0.4'], 'mixup'), (['--aug', 'AUGFILE', '--cutmix', '1.0'], 'cutmix')])
def test_augmentation_flags(tmp_path, flags, cb):
    "--aug (a preset or a YAML pipeline), --mixup and --cutmix reach the run and its saved config"
    (tmp_path/'aug.yaml').write_text('HorizontalFlip: {p: 0.5}\nGaussNoise: {std_range: [0.02, 0.05], p: 0.3}\n')
    flags = [str(tmp_path/'aug.yaml') if f == 'AUGFILE' else f for f in flags]
    r = in_process('emotion_train', '--data', 'synthetic', '--out', tmp_path/'m', *QUICK[:-4], '--epochs', '1', '--img-size', '32', *flags)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "the Albumentations pipeline replaces fastai's augmentation" in r.stdout
    import yaml
    cfg = yaml.safe_load((tmp_path/'m'/'config.yaml').read_text())
    assert cfg['aug'] == flags[1] and cfg['fastai_aug'] == 'none' and cfg[cb] == float(flags[3])

def _offline(tmp_path):
    "An environment with an empty torch hub cache and every proxy pointing at a closed port: no download can succeed"
    return {**ENV, 'TORCH_HOME': str(tmp_path/'torch'), 'HTTPS_PROXY': 'http://127.0.0.1:9', 'HTTP_PROXY': 'http://127.0.0.1:9'}

def test_imagenet_without_network_is_a_clear_error(tmp_path):
    "A torchvision backbone with no cached ImageNet weights and no network: one line naming the missing file"
    r = subprocess.run([str(BIN/'emotion_train'), '--data', 'synthetic', '--out', str(tmp_path/'r'), '--epochs', '1', '--arch', 'resnet18'],
                       capture_output=True, text=True, env=_offline(tmp_path), timeout=600)
    assert r.returncode == 1, r.stderr[-2000:]
    assert 'resnet18-f37072fd.pth' in r.stderr and str(tmp_path/'torch') in r.stderr and 'Traceback' not in r.stderr

def test_default_trains_from_imagenet_offline(tmp_path):
    "With no flag, training starts from EfficientNet-Lite0's ImageNet weights, which come with pip: no network needed"
    r = subprocess.run([str(BIN/'emotion_train'), '--data', 'synthetic', '--out', str(tmp_path/'r'), '--epochs', '1'],
                       capture_output=True, text=True, env=_offline(tmp_path), timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'arch efficientnet_lite0' in r.stdout and 'img_size 64' in r.stdout
    m = json.loads((tmp_path/'r'/'metrics.json').read_text())
    assert (m['arch'], m['pretrained'], m['epochs_run']) == ('efficientnet_lite0', 'imagenet', 1)
    assert not (tmp_path/'torch').exists()  # nothing was downloaded or cached

@pytest.mark.slow  # about 7 minutes on 2 cores: four full passes over FER2013's 35,887 faces
@pytest.mark.skipif(not (SHARED/'fer2013-dev.tar.gz').exists(), reason='FER2013 (shared/data) not present')
def test_fer2013_end_to_end(tmp_path):
    "The CLI trains on the FER2013 folder and evaluates on PublicTest (a tiny budget: this checks the plumbing)"
    r = run(BIN/'emotion_train', '--data', 'fer2013', '--out', tmp_path/'fer', '--arch', 'small_cnn', '--pretrained', 'none',
            '--epochs', '1', '--bs', '256', '--img-size', '24')
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'cross_split_near_duplicate' in r.stdout  # PublicTest faces whose copies sit in the training folder are excluded
    r = run(BIN/'emotion_evaluate', '--model', tmp_path/'fer'/'model.pth', '--data', 'fer2013', '--json')
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads(r.stdout)
    assert m['n'] == 3589 and m['split'] == 'test' and m['accuracy'] > 1 / 7
    # a second member with another seed, then the two as an ensemble with weights fitted on FER2013's valid split
    r = run(BIN/'emotion_train', '--data', 'fer2013', '--out', tmp_path/'fer2', '--arch', 'small_cnn', '--pretrained', 'none',
            '--epochs', '1', '--bs', '256', '--img-size', '24', '--seed', '1')
    assert r.returncode == 0, r.stderr[-3000:]
    r = run(BIN/'emotion_evaluate', '--model', tmp_path/'fer'/'model.pth', '--model', tmp_path/'fer2'/'model.pth',
            '--data', 'fer2013', '--vote', 'weighted', '--json')
    assert r.returncode == 0, r.stderr[-3000:]
    e = json.loads(r.stdout)
    assert e['n'] == 3589 and e['weights_fitted'] and abs(sum(e['weights'].values()) - 1) < 1e-6
    assert set(e['member_scores']) == {'fer', 'fer2'} and e['uncertainty']['accuracy_at_coverage']['100%'] == e['accuracy']
