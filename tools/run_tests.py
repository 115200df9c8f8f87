"""Run the whole test suite: every notebook with `nbdev_test`, and the pytest tests under `tests/`.

Prints one line per job (each notebook, then pytest) and ends with a summary line `tests: N passed, N failed[, N skipped]`.
Exit status 0 only when nothing failed.

Jobs run `--n_workers` at a time (default: one per two CPU cores, at least two), each with an equal share of the
cores for torch's threads: on a 2-core machine two single-threaded jobs train about 30% faster than one job with two
threads, and one job's imports overlap the other's training. Lessons that need the same trained model share it
through `cached_train`, whose lock makes the second job wait for the first rather than train it again."""
import argparse, os, re, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

def job_env(threads:int)->dict:
    "The environment of one job: `threads` threads for torch and the maths libraries (an explicit setting wins)"
    env = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1'}
    for k in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS'): env.setdefault(k, str(threads))
    return env

def test_notebook(nb:Path, flags:str, env:dict)->tuple:
    "Run `nbdev_test` on one notebook: (name, passed, seconds, output, counts)"
    t = time.time()
    cmd = [str(BIN/'nbdev_test'), '--path', str(nb.relative_to(ROOT))] + (['--flags', flags] if flags else [])
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    ok = r.returncode == 0
    return str(nb.relative_to(ROOT)), ok, time.time() - t, r.stdout + r.stderr, {'passed': int(ok), 'failed': int(not ok)}

def test_pytest(flags:str, env:dict)->tuple:
    "Run the pytest tests: (name, passed, seconds, output, counts)"
    t = time.time()
    slow = ['--slow'] if 'slow' in flags.split() else []  # pytest's `slow` tests follow the notebooks' flag
    r = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', *slow, str(ROOT/'tests')],
                       cwd=ROOT, capture_output=True, text=True, env=env)
    last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ''
    counts = {k: int(n) for n, k in re.findall(r'(\d+) (passed|failed|skipped|error|errors)', last)}
    counts['failed'] = counts.get('failed', 0) + counts.pop('error', 0) + counts.pop('errors', 0)
    if r.returncode not in (0, 5) and not counts.get('failed'): counts['failed'] += 1  # pytest itself broke
    return 'pytest tests/', not counts['failed'], time.time() - t, r.stdout[-6000:] + r.stderr[-2000:], counts

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--flags', default='', help='nbdev test flags to run, e.g. "slow"')
    ap.add_argument('--n_workers', type=int, default=max(2, (os.cpu_count() or 2) // 2), help='jobs run at once')
    ap.add_argument('--no-pytest', action='store_true', help='only the notebooks')
    a = ap.parse_args()
    env = job_env(max(1, (os.cpu_count() or 1) // a.n_workers))
    nbs = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_'))
    jobs = [lambda: test_pytest(a.flags, env)] * (not a.no_pytest and (ROOT/'tests').exists())  # pytest starts first, beside the notebooks
    jobs += [lambda nb=nb: test_notebook(nb, a.flags, env) for nb in nbs]
    totals, t0 = {'passed': 0, 'failed': 0, 'skipped': 0}, time.time()
    with ThreadPoolExecutor(a.n_workers) as ex:
        for name, ok, dt, out, counts in ex.map(lambda job: job(), jobs):
            print(f"{'PASS' if ok else 'FAIL'}  {name}  ({dt:.0f}s)", flush=True)
            if name.startswith('pytest') or not ok: print(out[-6000:], flush=True)
            for k in totals: totals[k] += counts.get(k, 0)
    print(f"{len(jobs)} jobs, {a.n_workers} at a time, in {time.time() - t0:.0f}s")
    print(f"tests: {totals['passed']} passed, {totals['failed']} failed" + (f", {totals['skipped']} skipped" if totals['skipped'] else ''))
    sys.exit(1 if totals['failed'] else 0)

if __name__ == '__main__': main()
