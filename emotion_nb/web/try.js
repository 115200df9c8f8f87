// emotion_nb "Try it": an emotion_nb ONNX model run in the browser by onnxruntime-web (WebAssembly).
// The image never leaves the page. Preprocessing follows the model's own ONNX metadata (the numbers
// `emotion_nb.preprocess.preprocess_spec` wrote there) and reproduces `image_array` exactly, so the
// browser's probabilities match Python's `OnnxClassifier` on the same file.
'use strict';
const META_PREFIX = 'emotion_nb.';
ort.env.wasm.wasmPaths = new URL('ort/', document.baseURI).href;  // vendored next to this page: no CDN
ort.env.wasm.numThreads = 1;  // threads need cross-origin isolation, which a static site cannot promise
const $ = id => document.getElementById(id);

// ---- 1. The model's metadata: ModelProto field 14 holds metadata_props (key = field 1, value = field 2) ----
function readVarint(buf, pos) {
  let v = 0, mul = 1, b;
  do { b = buf[pos++]; v += (b & 0x7f) * mul; mul *= 128; } while (b & 0x80);
  return [v, pos];
}
function protoFields(buf) {  // the top-level fields of one protobuf message
  const out = []; let pos = 0;
  while (pos < buf.length) {
    let key, n; [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8), wire = key % 8;
    if (wire === 0) { [n, pos] = readVarint(buf, pos); out.push({field, value: n}); }
    else if (wire === 2) { [n, pos] = readVarint(buf, pos); out.push({field, bytes: buf.subarray(pos, pos + n)}); pos += n; }
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else throw new Error(`not an ONNX file (protobuf wire type ${wire})`);
  }
  return out;
}
function onnxMetadata(bytes) {  // {classes, img_size, mean, std, ...}: what emotion_nb's export wrote
  const dec = new TextDecoder(), meta = {};
  for (const f of protoFields(bytes)) {
    if (f.field !== 14 || !f.bytes) continue;
    const kv = {}; for (const g of protoFields(f.bytes)) if (g.bytes) kv[g.field] = dec.decode(g.bytes);
    if ((kv[1] || '').startsWith(META_PREFIX)) meta[kv[1].slice(META_PREFIX.length)] = JSON.parse(kv[2]);
  }
  return meta;
}
function checkSpec(m) {  // the preprocessing this page implements; anything else is refused, not guessed
  const need = ['classes', 'img_size', 'mean', 'std', 'scale', 'resize', 'layout', 'contrast'];
  const missing = need.filter(k => !(k in m));
  if (missing.length) throw new Error(`the model has no emotion_nb metadata (${missing.join(', ')}): export it with emotion_export`);
  if (m.resize !== 'bilinear' || m.layout !== 'NCHW' || m.channels !== 3)
    throw new Error(`unsupported preprocessing: resize ${m.resize}, layout ${m.layout}, ${m.channels} channels`);
  if (m.contrast !== 'none') throw new Error(`this page does not implement contrast '${m.contrast}'; use emotion_predict`);
}

// ---- 2. Pillow's bilinear resize, exactly: a triangle filter widened by the scale when shrinking,
//         weights in 22-bit fixed point, 8-bit rounding after the horizontal pass and after the vertical one ----
const PRECISION_BITS = 22, ONE = 2 ** PRECISION_BITS, HALF = 2 ** (PRECISION_BITS - 1);
function resizeCoeffs(inSize, outSize) {
  const scale = inSize / outSize, filterscale = Math.max(scale, 1), support = filterscale, ss = 1 / filterscale;
  const out = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const w = []; let ww = 0;
    for (let x = 0; x < n; x++) { const t = Math.abs((x + xmin - center + 0.5) * ss); const k = t < 1 ? 1 - t : 0; w.push(k); ww += k; }
    out.push({xmin, k: w.map(k => { const v = ww !== 0 ? k / ww : k; return Math.trunc(v < 0 ? -0.5 + v * ONE : 0.5 + v * ONE); })});
  }
  return out;
}
function clip8(ss) { const v = Math.floor(ss / ONE); return v < 0 ? 0 : v > 255 ? 255 : v; }
function resizePass(src, w, h, size, horizontal) {  // RGBA bytes in, RGBA bytes out; one axis resized to `size`
  const cs = resizeCoeffs(horizontal ? w : h, size), ow = horizontal ? size : w, oh = horizontal ? h : size;
  const dst = new Uint8ClampedArray(ow * oh * 4);
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
    const {xmin, k} = cs[horizontal ? x : y], o = (y * ow + x) * 4;
    for (let c = 0; c < 3; c++) {
      let ss = HALF;
      for (let i = 0; i < k.length; i++) ss += src[(horizontal ? y * w + xmin + i : (xmin + i) * w + x) * 4 + c] * k[i];
      dst[o + c] = clip8(ss);
    }
    dst[o + 3] = 255;
  }
  return dst;
}
function resizeBilinear(rgba, w, h, size) {
  if (w !== size) { rgba = resizePass(rgba, w, h, size, true); w = size; }
  if (h !== size) rgba = resizePass(rgba, w, h, size, false);
  return rgba;
}

// ---- 3. image_array: RGB (transparency on white), resize, 0..1, (x - mean) / std, channels first, float32 ----
function onWhite(rgba) {
  const out = new Uint8ClampedArray(rgba);
  for (let i = 0; i < out.length; i += 4) {
    const a = out[i + 3] / 255;
    if (a < 1) for (let c = 0; c < 3; c++) out[i + c] = Math.round(out[i + c] * a + 255 * (1 - a));
    out[i + 3] = 255;
  }
  return out;
}
function imageArray(rgba, w, h, m) {
  const s = m.img_size, px = resizeBilinear(onWhite(rgba), w, h, s), x = new Float32Array(3 * s * s);
  const f = Math.fround, d = f(1 / m.scale);
  for (let c = 0; c < 3; c++) {
    const mean = f(m.mean[c]), std = f(m.std[c]);
    for (let i = 0; i < s * s; i++) x[c * s * s + i] = f(f(f(px[i * 4 + c] / d) - mean) / std);
  }
  return {x, px};
}

// ---- 4. The page: load the model, read an image (file, URL, webcam), classify, draw the bars, publish JSON ----
const state = {session: null, meta: null, modelName: null};
async function loadModel(bytes, name) {
  const meta = onnxMetadata(bytes); checkSpec(meta);
  state.session = await ort.InferenceSession.create(bytes, {executionProviders: ['wasm']});
  Object.assign(state, {meta, modelName: name});
  const q = meta.quantization || 'fp32';
  $('model-info').textContent = `${name}: ${meta.arch || 'model'}, ${meta.img_size} px input, ${q}, classes ${meta.classes.join(', ')}`;
}
async function pixelsOf(source) {  // an <img>, ImageBitmap, video frame or canvas -> its RGBA bytes, unscaled
  const w = source.videoWidth || source.naturalWidth || source.width, h = source.videoHeight || source.naturalHeight || source.height;
  const cv = $('photo'); cv.width = w; cv.height = h;
  const ctx = cv.getContext('2d', {willReadFrequently: true});
  ctx.clearRect(0, 0, w, h); ctx.drawImage(source, 0, 0);
  return {rgba: ctx.getImageData(0, 0, w, h).data, w, h};
}
function showInput(px, s) {  // what the model sees, drawn large
  const cv = $('seen'); cv.width = s; cv.height = s;
  cv.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(px), s, s), 0, 0);
}
function drawBars(probs, classes) {
  const top = probs.indexOf(Math.max(...probs));
  $('bars').innerHTML = classes.map((c, i) => `<div class="bar${i === top ? ' top' : ''}"><span class="name">${c}</span>` +
    `<span class="track"><span class="fill" style="width:${(100 * probs[i]).toFixed(1)}%"></span></span>` +
    `<span class="val">${(100 * probs[i]).toFixed(1)}%</span></div>`).join('');
}
async function classify(source, imageName) {
  const t0 = performance.now(), m = state.meta, s = m.img_size;
  const {rgba, w, h} = await pixelsOf(source), {x, px} = imageArray(rgba, w, h, m);
  showInput(px, s);
  const feeds = {[state.session.inputNames[0]]: new ort.Tensor('float32', x, [1, 3, s, s])};
  const names = state.session.outputNames, out = await state.session.run(feeds);
  const p = Array.from(out[names.includes('probs') ? 'probs' : names[0]].data);  // export_onnx names its softmax output 'probs'
  const top = p.indexOf(Math.max(...p)), probs = Object.fromEntries(m.classes.map((c, i) => [c, p[i]]));
  let sum = 0, sq = 0; for (const v of x) { sum += v; sq += v * v; }
  drawBars(p, m.classes);
  const rec = {status: 'done', image: imageName, size: [w, h], model: state.modelName, label: m.classes[top], probability: p[top],
               probs, input: {shape: [1, 3, s, s], mean: sum / x.length, l2: Math.sqrt(sq)}, ms: Math.round(performance.now() - t0)};
  $('summary').textContent = `${m.classes[top]} (${(100 * p[top]).toFixed(1)}%)`;
  $('result').textContent = JSON.stringify(rec, null, 1);
  return rec;
}
function fail(e) {
  $('summary').textContent = `error: ${e.message || e}`;
  $('result').textContent = JSON.stringify({status: 'error', error: String(e.message || e)});
}
function loadImage(url) {
  return new Promise((ok, bad) => { const im = new Image(); im.onload = () => ok(im); im.onerror = () => bad(new Error(`${url}: not an image the browser can read`)); im.src = url; });
}
async function classifyUrl(url, name) { return classify(await loadImage(url), name || url); }
let stream = null, timer = null;
async function webcam() {
  if (stream) { clearInterval(timer); stream.getTracks().forEach(t => t.stop()); stream = null; $('webcam').textContent = 'Use the webcam'; return; }
  stream = await navigator.mediaDevices.getUserMedia({video: true});
  const v = $('video'); v.srcObject = stream; await v.play();
  $('webcam').textContent = 'Stop the webcam';
  timer = setInterval(() => classify(v, 'webcam').catch(fail), 500);
}
async function main() {
  const q = new URLSearchParams(location.search), modelUrl = q.get('model') || 'model.onnx';
  try {
    const r = await fetch(modelUrl); if (!r.ok) throw new Error(`${modelUrl}: HTTP ${r.status}`);
    await loadModel(new Uint8Array(await r.arrayBuffer()), modelUrl.split('/').pop());
  } catch (e) { return fail(e); }
  $('pick').onchange = async e => { const f = e.target.files[0]; if (!f) return;
    const url = URL.createObjectURL(f); try { await classifyUrl(url, f.name); } catch (err) { fail(err); } finally { URL.revokeObjectURL(url); } };
  $('pick-model').onchange = async e => { const f = e.target.files[0]; if (!f) return;
    try { await loadModel(new Uint8Array(await f.arrayBuffer()), f.name); $('summary').textContent = 'model loaded: pick an image'; } catch (err) { fail(err); } };
  $('webcam').onclick = () => webcam().catch(fail);
  for (const a of document.querySelectorAll('#examples img')) a.onclick = () => classifyUrl(a.getAttribute('src')).catch(fail);
  const image = q.get('image');
  if (image) await classifyUrl(image).catch(fail);
  else $('summary').textContent = 'pick an image, click an example, or use the webcam';
}
main();
