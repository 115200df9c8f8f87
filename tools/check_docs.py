"""Open the docs preview in headless Chromium, take screenshots, and fail when the title, the sidebar links or the
notebooks' figures are missing, or when the "Try it" page's in-browser probabilities differ from Python's.

Usage: python tools/check_docs.py [--docs _docs] [--shots DIR]"""
import argparse, base64, io, re, sys
from pathlib import Path
from PIL import Image
from emotion_nb.browser import check_try_page, chromium_exe, page_screenshot, run_chromium, serve_folder

ROOT = Path(__file__).resolve().parents[1]
# page -> (title it must show, least number of figures it must show)
PAGES = {'index.html': ('emotion_nb', 1), 'data.html': ('Data: images and labels in', 6), 'transfer_learning.html': ('Transfer learning', 5),
         'ensembles.html': ('Ensembles: many models, one answer', 4),
         'gradcam.html': ('Grad-CAM: what the model looks at', 5), 'augmentation.html': ('Augmentation', 6), 'deployment.html': ('Deployment', 3),
         'faces.html': ('Faces in photos', 4), 'serve.html': ('Serving', 1), 'browser.html': ('Try it in the browser', 1)}
TRY_TOL = 1e-3  # the browser's probabilities against OnnxClassifier's

def check_page(base, name, title, min_figs, shots:Path, nav_expected)->list[str]:
    "Problems found on one page (empty when it is fine)"
    problems, url = [], f'{base}/{name}'
    dom = run_chromium(url, '--dump-dom', budget_ms=5000)
    page_screenshot(url, shots/(Path(name).stem + '.png'), (1280, 1600))
    if not dom.strip(): return [f'{name}: the browser returned no page']
    t = re.search(r'<h1 class="title">(.*?)</h1>', dom, re.S)
    if not t or title not in t.group(1): problems.append(f'{name}: title {title!r} missing (found {t.group(1) if t else None!r})')
    if title not in (re.search(r'<title>(.*?)</title>', dom, re.S) or [None, ''])[1]: problems.append(f'{name}: <title> lacks {title!r}')
    nav = re.search(r'<nav id="sidebar">(.*?)</nav>', dom, re.S)
    hrefs = re.findall(r'class="nav-link[^"]*" href="([^"]+)"', nav.group(1)) if nav else []
    if hrefs != nav_expected: problems.append(f'{name}: sidebar links {hrefs} != {nav_expected}')
    figs = 0
    for src in re.findall(r'<img[^>]+src="data:image/png;base64,([^"]+)"', dom):
        try: Image.open(io.BytesIO(base64.b64decode(src))).verify(); figs += 1
        except Exception as e: problems.append(f'{name}: a figure does not decode ({e})')
    if figs < min_figs: problems.append(f'{name}: {figs} figures, expected at least {min_figs}')
    print(f"{'ok  ' if not problems else 'FAIL'} {name}: title {title!r}, {len(hrefs)} sidebar links, {figs} figures, screenshot {shots/(Path(name).stem + '.png')}")
    return problems

def check_try(docs:Path, base:str, shots:Path)->list[str]:
    "The Try it page: every example classified in the browser as Python classifies it (chapter 05d's `check_try_page`)"
    if not (docs/'try'/'index.html').is_file(): return ['try/index.html: missing (run `npm ci`, then `make docs`)']
    rows, problems = check_try_page(docs/'try', TRY_TOL), []
    if len(rows) < 2: problems.append(f'try/index.html: {len(rows)} examples, expected at least 2')
    for r in rows:
        ok = r['ok'] and r['input_mean_diff'] <= 1e-6 if 'input_mean_diff' in r else False
        print(f"{'ok  ' if ok else 'FAIL'} try/index.html?image=examples/{r['image']}: "
              + (f"browser {r['browser']} {r['p_browser']:.4f}, python {r['python']} {r['p_python']:.4f}, max |diff| {r['max_abs_diff']:.1e}, "
                 f"input mean |diff| {r['input_mean_diff']:.1e}" if 'browser' in r else str(r.get('error'))))
        if not ok: problems.append(f"try/index.html: {r['image']}: the browser disagrees with OnnxClassifier ({r})")
    page_screenshot(f'{base}/try/index.html?image=examples/{rows[-1]["image"]}' if rows else f'{base}/try/index.html', shots/'try.png')
    return problems

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--docs', default=str(ROOT/'_docs'))
    ap.add_argument('--shots', default=str(ROOT/'_docs'/'_screenshots'))
    a = ap.parse_args()
    docs, shots = Path(a.docs), Path(a.shots)
    shots.mkdir(parents=True, exist_ok=True)
    if chromium_exe() is None: sys.exit('check_docs: error: chromium not found (apt-get install chromium)')
    srv, base = serve_folder(docs)
    nav_expected = re.findall(r'class="nav-link[^"]*" href="([^"]+)"', (docs/'index.html').read_text())
    problems = [] if nav_expected else ['index.html: no sidebar links']
    for n in nav_expected:
        if not (docs/n).exists(): problems.append(f'sidebar link {n} points to a missing page')
    for name, (title, min_figs) in PAGES.items(): problems += check_page(base, name, title, min_figs, shots, nav_expected)
    problems += check_try(docs, base, shots)
    srv.shutdown()
    for p in problems: print('check_docs: error:', p, file=sys.stderr)
    sys.exit(1 if problems else 0)

if __name__ == '__main__': main()
