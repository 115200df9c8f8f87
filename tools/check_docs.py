"""Open the docs preview in headless Chromium, take screenshots, and fail when the title, the sidebar links or the
notebooks' figures are missing.

Usage: python tools/check_docs.py [--docs _docs] [--shots DIR]"""
import argparse, base64, functools, http.server, io, re, shutil, subprocess, sys, tempfile, threading
from pathlib import Path
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
# page -> (title it must show, least number of figures it must show)
PAGES = {'index.html': ('emotion_nb', 1), 'data.html': ('Data: images and labels in', 6), 'transfer_learning.html': ('Transfer learning', 5),
         'ensembles.html': ('Ensembles: many models, one answer', 4),
         'gradcam.html': ('Grad-CAM: what the model looks at', 5), 'augmentation.html': ('Augmentation', 6), 'deployment.html': ('Deployment', 3),
         'faces.html': ('Faces in photos', 4), 'serve.html': ('Serving', 1)}
FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
         '--disable-component-update', '--disable-sync', '--hide-scrollbars', '--virtual-time-budget=5000']

def chromium()->str:
    exe = next((shutil.which(n) for n in ('chromium', 'chromium-browser', 'google-chrome') if shutil.which(n)), None)
    if exe is None: sys.exit('check_docs: error: chromium not found (apt-get install chromium)')
    return exe

def browse(exe, url, *args, profile)->subprocess.CompletedProcess:
    return subprocess.run([exe, *FLAGS, f'--user-data-dir={profile}', *args, url], capture_output=True, text=True, timeout=120)

def check_page(exe, base, name, title, min_figs, shots:Path, nav_expected)->list[str]:
    "Problems found on one page (empty when it is fine)"
    problems, url = [], f'{base}/{name}'
    with tempfile.TemporaryDirectory() as prof:
        dom = browse(exe, url, '--dump-dom', profile=prof).stdout
    with tempfile.TemporaryDirectory() as prof:
        browse(exe, url, f'--screenshot={shots/(Path(name).stem + ".png")}', '--window-size=1280,1600', profile=prof)
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

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--docs', default=str(ROOT/'_docs'))
    ap.add_argument('--shots', default=str(ROOT/'_docs'/'_screenshots'))
    a = ap.parse_args()
    docs, shots = Path(a.docs), Path(a.shots)
    shots.mkdir(parents=True, exist_ok=True)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args): pass
    handler = functools.partial(Quiet, directory=str(docs))
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base, exe = f'http://127.0.0.1:{srv.server_address[1]}', chromium()
    nav_expected = re.findall(r'class="nav-link[^"]*" href="([^"]+)"', (docs/'index.html').read_text())
    problems = [] if nav_expected else ['index.html: no sidebar links']
    for n in nav_expected:
        if not (docs/n).exists(): problems.append(f'sidebar link {n} points to a missing page')
    for name, (title, min_figs) in PAGES.items(): problems += check_page(exe, base, name, title, min_figs, shots, nav_expected)
    srv.shutdown()
    for p in problems: print('check_docs: error:', p, file=sys.stderr)
    sys.exit(1 if problems else 0)

if __name__ == '__main__': main()
