"""Run the whole test suite: every notebook with `nbdev_test`, then the pytest tests under `tests/`.

Prints one line per notebook and ends with a summary line `tests: N passed, N failed[, N skipped]`.
Exit status 0 only when nothing failed."""
import argparse, os, re, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def test_notebook(nb:Path, flags:str)->tuple[Path, bool, float, str]:
    "Run `nbdev_test` on one notebook"
    t = time.time()
    cmd = [str(BIN/'nbdev_test'), '--path', str(nb.relative_to(ROOT))] + (['--flags', flags] if flags else [])
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    return nb, r.returncode == 0, time.time() - t, r.stdout + r.stderr

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--flags', default='', help='nbdev test flags to run, e.g. "slow"')
    ap.add_argument('--n_workers', type=int, default=1, help='notebooks tested at once (torch already uses every core)')
    ap.add_argument('--no-pytest', action='store_true', help='only the notebooks')
    a = ap.parse_args()
    os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
    nbs = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_'))
    passed = failed = skipped = 0
    with ThreadPoolExecutor(a.n_workers) as ex:
        for nb, ok, dt, out in ex.map(lambda nb: test_notebook(nb, a.flags), nbs):
            print(f"{'PASS' if ok else 'FAIL'}  {nb.relative_to(ROOT)}  ({dt:.0f}s)", flush=True)
            if ok: passed += 1
            else: failed += 1; print(out[-6000:], flush=True)
    if not a.no_pytest and (ROOT/'tests').exists():
        slow = ['--slow'] if 'slow' in a.flags.split() else []  # pytest's `slow` tests follow the notebooks' flag
        r = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', *slow, str(ROOT/'tests')], cwd=ROOT, capture_output=True, text=True)
        print(r.stdout[-6000:], r.stderr[-2000:], sep='', flush=True)
        counts = {k: int(n) for n, k in re.findall(r'(\d+) (passed|failed|skipped|error|errors)', r.stdout.strip().splitlines()[-1] if r.stdout.strip() else '')}
        passed += counts.get('passed', 0); skipped += counts.get('skipped', 0)
        failed += counts.get('failed', 0) + counts.get('error', 0) + counts.get('errors', 0)
        if r.returncode not in (0, 5) and not counts: failed += 1  # pytest itself broke
    print(f"tests: {passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ''))
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
