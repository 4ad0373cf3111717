/**
 * Evaluate page wiring: choose a series (a bundled NAB example or an upload)
 * and detectors, run the evaluation in the background (polled for progress),
 * then show the series, detections and scores; thresholds and label windows
 * re-score on the server without running the detectors again. URLs come from
 * data-* attributes that Flask's url_for filled in.
 */
import { getJSON, postForm, postJSON } from '../lib/api.js';
import { createPoller } from '../lib/poller.js';
import * as charts from './chart.js';
import { createWindowDrawer } from './draw.js';
import { mergeWindows, rowFinder } from './math.js';
import { createScoreTable } from './table.js';
import { createThresholds } from './thresholds.js';
import { parseSeries, windowsFromLabels } from './upload.js';
import { currentTheme, onThemeChange, palette, toggleTheme } from '../lib/theme.js';

const root = document.getElementById('evaluate');
const withId = (template, id) => template.replace('{id}', encodeURIComponent(id));
const urls = {
  examples: root.dataset.examplesUrl,
  example: (id) => withId(root.dataset.exampleUrl, id),
  evaluations: root.dataset.evaluationsUrl,
  evaluation: (id) => withId(root.dataset.evaluationUrl, id),
  series: (id) => withId(root.dataset.seriesUrl, id),
  score: (id) => withId(root.dataset.scoreUrl, id),
};

/** Threshold changes wait this long for the next one (a slider fires on every step). */
const SCORE_DEBOUNCE_MS = 150;
const POLL_MS = 400;
/** NAB v1.1: the first 15 % of the rows, at most 750, are not scored (the server's number wins once known). */
const PROBATIONARY_SHARE = 0.15;
const PROBATIONARY_MAX = 750;

const $ = (id) => document.getElementById(id);
const ui = {
  form: $('evaluate-form'),
  sourceExample: $('source-example'),
  sourceUpload: $('source-upload'),
  exampleFields: $('example-fields'),
  exampleSelect: $('example-select'),
  exampleAbout: $('example-about'),
  uploadFields: $('upload-fields'),
  uploadLimits: $('upload-limits'),
  csvFile: $('csv-file'),
  labelsFile: $('labels-file'),
  detectorChoices: $('detector-choices'),
  referenceChoices: $('reference-choices'),
  referencesNote: $('references-note'),
  evaluateButton: $('evaluate-button'),
  progressBox: $('progress-box'),
  progressStep: $('progress-step'),
  progressCount: $('progress-count'),
  progressBar: $('progress-bar'),
  runStatus: $('run-status'),
  pageError: $('page-error'),
  seriesTitle: $('series-title'),
  rowCount: $('row-count'),
  windowCount: $('window-count'),
  windowWord: $('window-word'),
  drawToggle: $('draw-toggle'),
  clearWindows: $('clear-windows'),
  resetZoom: $('reset-zoom'),
  drawHint: $('draw-hint'),
  laneBox: $('lane-chart').parentElement,
  results: $('results'),
  scoreStatus: $('score-status'),
  scoreNote: $('score-note'),
  themeToggle: $('theme-toggle'),
};

let colours = themeColours();
const seriesChart = charts.createSeriesChart($('series-chart'), colours);
const laneChart = charts.createLaneChart($('lane-chart'), colours);
const allCharts = [seriesChart, laneChart];
charts.linkRowAxes(allCharts);
const drawer = createWindowDrawer(seriesChart, {
  windows: () => state.windows,
  onAdd: (window) => setWindows(mergeWindows([...state.windows, window])),
  onRemove: (index) => setWindows(state.windows.filter((_, i) => i !== index)),
});
const table = createScoreTable($('score-rows'));
const thresholds = createThresholds($('thresholds'), $('threshold-template'), { onChange: thresholdChanged });

const state = {
  catalog: null,
  series: null, // {title, timestamps, values}
  findRow: null,
  windows: [], // [firstRow, lastRow] pairs
  windowsEdited: false, // drawn or cleared by the user: sent instead of the file's labels
  probationary: 0,
  // Bumped whenever the series changes: answers for an older one are dropped.
  generation: 0,
  job: null,
  detectors: [], // [{id, label}] of the finished evaluation
  errors: {},
  thresholds: {},
  results: null,
  scoreSeq: 0,
  scoreTimer: null,
};

function themeColours() {
  return { ...palette(), theme: currentTheme() };
}

// --- errors

function showPageError(message) {
  ui.pageError.textContent = message;
  ui.pageError.hidden = !message;
}

function clearFieldErrors() {
  for (const el of document.querySelectorAll('[data-error-for]')) {
    el.textContent = '';
    el.hidden = true;
  }
  for (const input of [ui.exampleSelect, ui.csvFile, ui.labelsFile]) input.classList.remove('is-invalid');
}

/** A 400/413 answer's message goes next to the field it names; anything else to the page. */
function showRequestError(err) {
  const field = err.body?.field ?? (err.status === 413 ? 'file' : null);
  const target = field && document.querySelector(`[data-error-for="${field}"]`);
  const message = err.body?.message ?? err.message;
  if (!target || target.parentElement.closest('[hidden]')) {
    showPageError(message);
    return;
  }
  target.textContent = message;
  target.hidden = false;
  const input = { example: ui.exampleSelect, file: ui.csvFile, labels: ui.labelsFile }[field];
  input?.classList.add('is-invalid');
}

// --- the series and its windows

function probationaryFor(rows) {
  return Math.min(Math.floor(PROBATIONARY_SHARE * rows), PROBATIONARY_MAX);
}

/** A new series in the chart: results of another one no longer apply. */
function showSeries(series, windowStamps, probationary = null) {
  state.series = series;
  state.findRow = rowFinder(series.timestamps);
  state.probationary = probationary ?? probationaryFor(series.timestamps.length);
  for (const chart of allCharts) charts.setSeries(chart, series.timestamps, series.values);
  ui.seriesTitle.textContent = series.title;
  ui.rowCount.textContent = String(series.timestamps.length);
  applyWindows(toRows(windowStamps));
}

function toRows(windowStamps) {
  if (!state.findRow || !state.series.timestamps.length) return [];
  return mergeWindows((windowStamps ?? []).map(([start, end]) => [state.findRow(start), state.findRow(end)]));
}

function toStamps(windows) {
  const { timestamps } = state.series;
  return windows.map(([a, b]) => [timestamps[a], timestamps[b]]);
}

function applyWindows(windows) {
  state.windows = windows;
  for (const chart of allCharts) charts.setWindows(chart, windows, state.probationary);
  ui.windowCount.textContent = String(windows.length);
  ui.windowWord.textContent = windows.length === 1 ? 'window' : 'windows';
}

/** The user drew, removed or cleared windows: after a run, the server re-scores at once. */
function setWindows(windows) {
  state.windowsEdited = true;
  applyWindows(windows);
  if (state.results) scheduleScore(0);
}

function clearSeries(title) {
  state.series = { title, timestamps: [], values: [] };
  state.findRow = null;
  state.probationary = 0;
  for (const chart of allCharts) charts.setSeries(chart, [], []);
  ui.seriesTitle.textContent = title;
  ui.rowCount.textContent = '0';
  applyWindows([]);
}

function resetResults() {
  state.generation += 1;
  state.job = null;
  state.results = null;
  state.detectors = [];
  state.errors = {};
  state.thresholds = {};
  clearTimeout(state.scoreTimer);
  poller.stop();
  for (const chart of allCharts) charts.setDetectors(chart, []);
  ui.laneBox.hidden = true;
  ui.results.hidden = true;
  table.clear();
  ui.progressBox.hidden = true;
  ui.runStatus.textContent = '';
  ui.evaluateButton.disabled = false;
}

// --- choosing what to evaluate

function selectedExample() {
  return state.catalog?.examples.find((e) => e.id === ui.exampleSelect.value) ?? null;
}

function isUpload() {
  return ui.sourceUpload.checked;
}

async function loadCatalog() {
  const catalog = await getJSON(urls.examples);
  state.catalog = catalog;
  ui.exampleSelect.replaceChildren(...catalog.examples.map((e) => new Option(`${e.title} (${e.category})`, e.id)));
  ui.detectorChoices.replaceChildren(...catalog.detectors.map((d) => choice(d, d.id === 'zscore')));
  ui.referenceChoices.replaceChildren(...catalog.references.map((d) => choice(d, d.id === 'numenta', true)));
  const { limits } = catalog;
  if (limits) {
    ui.uploadLimits.textContent = `up to ${formatBytes(limits.max_upload_bytes)}, `
      + `${limits.min_rows}–${limits.max_rows.toLocaleString('en')} rows`;
  }
}

function choice(detector, checked, reference = false) {
  const wrap = document.createElement('div');
  wrap.className = 'form-check';
  const input = document.createElement('input');
  Object.assign(input, { type: 'checkbox', className: 'form-check-input', id: `detector-${detector.id}`, value: detector.id, checked });
  input.name = 'detectors';
  input.dataset.reference = String(reference);
  input.dataset.label = detector.label;
  const label = document.createElement('label');
  label.className = 'form-check-label';
  label.htmlFor = input.id;
  label.textContent = detector.label;
  wrap.append(input, label);
  return wrap;
}

function formatBytes(bytes) {
  return bytes >= 1048576 ? `${Number((bytes / 1048576).toFixed(1))} MB` : `${Math.round(bytes / 1024)} kB`;
}

function detectorLabel(id) {
  const all = [...(state.catalog?.detectors ?? []), ...(state.catalog?.references ?? [])];
  return all.find((d) => d.id === id)?.label ?? id;
}

/** Published detectors have scores only for the bundled examples that they were run on. */
function renderReferenceChoices() {
  const example = isUpload() ? null : selectedExample();
  for (const input of ui.referenceChoices.querySelectorAll('input')) {
    const available = Boolean(example?.references?.includes(input.value));
    input.disabled = !available;
    if (!available) input.checked = false;
  }
  ui.referencesNote.hidden = !isUpload();
}

async function previewExample() {
  const example = selectedExample();
  if (!example) return;
  resetResults();
  state.windowsEdited = false;
  const { generation } = state;
  ui.exampleAbout.textContent = `${example.name} · ${example.rows.toLocaleString('en')} rows · `
    + `${example.windows.length} label window${example.windows.length === 1 ? '' : 's'}`;
  try {
    const data = await getJSON(urls.example(example.id));
    if (generation !== state.generation) return;
    showSeries({ title: data.title, timestamps: data.timestamps, values: data.values }, data.windows);
    showPageError('');
  } catch (err) {
    showPageError(err.message);
  }
}

async function previewUpload() {
  resetResults();
  state.windowsEdited = false;
  const file = ui.csvFile.files[0];
  if (!file) {
    clearSeries('Upload a CSV');
    return;
  }
  const { generation } = state;
  // Too big to send is too big to read here: the server says so when asked.
  const tooBig = state.catalog?.limits && file.size > state.catalog.limits.max_upload_bytes;
  const series = tooBig ? { timestamps: [], values: [] } : parseSeries(await file.text());
  if (generation !== state.generation) return;
  showSeries({ title: file.name, ...series }, await labelWindows(file.name));
}

/** The windows of the chosen labels file, for the preview; the server reads the file itself. */
async function labelWindows(fileName) {
  const labels = ui.labelsFile.files[0];
  if (!labels) return [];
  try {
    const windows = windowsFromLabels(JSON.parse(await labels.text()), fileName);
    return Array.isArray(windows) ? windows.filter((w) => Array.isArray(w) && w.length === 2) : [];
  } catch {
    return []; // not JSON: the server's message names the field when the run is asked for
  }
}

async function labelsChanged() {
  if (!state.series?.timestamps.length) return;
  state.windowsEdited = false;
  applyWindows(toRows(await labelWindows(ui.csvFile.files[0]?.name ?? '')));
  if (state.results) scheduleScore(0);
}

function sourceChanged() {
  const upload = isUpload();
  ui.exampleFields.hidden = upload;
  ui.uploadFields.hidden = !upload;
  clearFieldErrors();
  renderReferenceChoices();
  if (upload) previewUpload();
  else previewExample();
}

// --- running an evaluation

function chosenDetectors() {
  return [...document.querySelectorAll('input[name="detectors"]:checked')].map((input) => input.value);
}

function evaluationRequest() {
  const detectors = chosenDetectors();
  if (!isUpload()) {
    const body = { example: ui.exampleSelect.value, detectors };
    if (state.windowsEdited) body.windows = toStamps(state.windows);
    return postJSON(urls.evaluations, body);
  }
  const form = new FormData();
  if (ui.csvFile.files[0]) form.append('file', ui.csvFile.files[0]);
  if (state.windowsEdited) form.append('windows', JSON.stringify(toStamps(state.windows)));
  else if (ui.labelsFile.files[0]) form.append('labels', ui.labelsFile.files[0]);
  for (const id of detectors) form.append('detectors', id);
  return postForm(urls.evaluations, form);
}

async function startEvaluation(event) {
  event.preventDefault();
  clearFieldErrors();
  showPageError('');
  const windows = state.windows;
  const edited = state.windowsEdited;
  resetResults();
  state.windows = windows;
  state.windowsEdited = edited;
  ui.evaluateButton.disabled = true;
  ui.runStatus.textContent = 'Sending…';
  try {
    const job = await evaluationRequest();
    state.job = job;
    renderProgress(job);
    poller.start();
  } catch (err) {
    ui.evaluateButton.disabled = false;
    ui.runStatus.textContent = '';
    showRequestError(err);
  }
}

function renderProgress(job) {
  ui.progressBox.hidden = false;
  const done = job.status === 'done';
  const percent = Math.round(100 * (done ? 1 : Math.max(0, Math.min(1, job.progress ?? 0))));
  ui.progressBar.style.width = `${percent}%`;
  ui.progressBar.setAttribute('aria-valuenow', String(percent));
  ui.progressStep.textContent = done ? 'Done' : (job.step || (job.status === 'queued' ? 'Queued' : 'Running'));
  ui.progressCount.textContent = `${job.done ?? 0}/${job.total ?? 0} detectors`;
  ui.runStatus.textContent = {
    queued: 'Waiting to start…', running: `Running ${job.name ?? ''}…`, done: 'Done.', failed: `Failed: ${job.error ?? 'unknown error'}`,
  }[job.status] ?? '';
  ui.runStatus.classList.toggle('text-danger', job.status === 'failed');
}

async function pollJob() {
  const { job, generation } = state;
  if (!job) return;
  const latest = await getJSON(urls.evaluation(job.id));
  if (generation !== state.generation) return;
  state.job = latest;
  renderProgress(latest);
  if (latest.status === 'done') {
    poller.stop();
    await loadResults(latest, generation);
  } else if (latest.status === 'failed') {
    poller.stop();
    ui.evaluateButton.disabled = false;
  }
}

const poller = createPoller(pollJob, {
  interval: POLL_MS,
  onSuccess: () => showPageError(''),
  onError: (err) => showPageError(err.message),
});

async function loadResults(job, generation) {
  const series = await getJSON(urls.series(job.id));
  if (generation !== state.generation) return;
  const title = state.series?.title || job.name;
  // windowsEdited stays: drawn windows that this run used are the ones a run with other detectors should use too.
  showSeries({ title, timestamps: series.timestamps, values: series.values }, series.windows, series.probationary_rows);
  state.errors = job.detector_errors ?? {};
  state.detectors = job.detectors.map((id) => ({ id, label: detectorLabel(id) }));
  const scored = state.detectors.filter((d) => series.scores[d.id]);
  charts.setDetectors(seriesChart, scored);
  charts.setDetectors(laneChart, scored, series.scores);
  ui.laneBox.hidden = scored.length === 0;
  thresholds.build(scored, colours.theme);
  ui.results.hidden = false;
  ui.evaluateButton.disabled = false;
  await score(state.scoreSeq);
}

// --- re-scoring: thresholds and windows, on the server, latest request wins

function thresholdChanged(id, value) {
  state.thresholds[id] = value;
  scheduleScore(value === 'best' ? 0 : SCORE_DEBOUNCE_MS);
}

function scheduleScore(delay) {
  state.scoreSeq += 1;
  const seq = state.scoreSeq;
  clearTimeout(state.scoreTimer);
  ui.scoreStatus.textContent = 'Updating…';
  state.scoreTimer = setTimeout(() => score(seq), delay);
}

async function score(seq) {
  const { job, generation } = state;
  if (!job) return;
  try {
    const answer = await postJSON(urls.score(job.id), { thresholds: { ...state.thresholds }, windows: toStamps(state.windows) });
    if (seq !== state.scoreSeq || generation !== state.generation) return; // a newer request is on its way
    applyScores(answer);
  } catch (err) {
    if (seq !== state.scoreSeq) return;
    ui.scoreStatus.textContent = '';
    if (err.body?.field === 'windows') showRequestError(err);
    else showPageError(err.message);
  }
}

function applyScores(answer) {
  state.results = answer.detectors;
  for (const [id, result] of Object.entries(answer.detectors)) state.thresholds[id] = result.threshold;
  state.probationary = answer.probationary_rows ?? state.probationary;
  for (const chart of allCharts) {
    charts.setWindows(chart, state.windows, state.probationary);
    charts.setResults(chart, answer.detectors);
  }
  thresholds.apply(answer.detectors);
  renderTable();
  ui.scoreNote.textContent = answer.note ?? '';
  ui.scoreNote.hidden = !answer.note;
  ui.scoreStatus.textContent = '';
  showPageError('');
}

function renderTable() {
  table.render(state.detectors, state.results ?? {}, state.errors, colours.theme);
}

// --- the rest of the page

function renderDrawToggle() {
  const on = drawer.enabled;
  ui.drawToggle.setAttribute('aria-pressed', String(on));
  ui.drawToggle.classList.toggle('active', on);
  ui.drawToggle.textContent = on ? 'Drawing windows — done' : 'Draw label windows';
  ui.drawHint.hidden = !on;
}

function renderThemeToggle() {
  const dark = currentTheme() === 'dark';
  ui.themeToggle.textContent = dark ? '☀ Light' : '☾ Dark';
  ui.themeToggle.setAttribute('aria-pressed', String(dark));
}

function bindEvents() {
  ui.form.addEventListener('submit', startEvaluation);
  ui.sourceExample.addEventListener('change', sourceChanged);
  ui.sourceUpload.addEventListener('change', sourceChanged);
  ui.exampleSelect.addEventListener('change', () => {
    clearFieldErrors();
    renderReferenceChoices();
    previewExample();
  });
  ui.csvFile.addEventListener('change', () => {
    clearFieldErrors();
    previewUpload();
  });
  ui.labelsFile.addEventListener('change', () => {
    clearFieldErrors();
    labelsChanged();
  });
  ui.drawToggle.addEventListener('click', () => {
    drawer.setEnabled(!drawer.enabled);
    renderDrawToggle();
  });
  ui.clearWindows.addEventListener('click', () => setWindows([]));
  ui.resetZoom.addEventListener('click', () => charts.resetZoom(allCharts));
  ui.themeToggle.addEventListener('click', toggleTheme);
  onThemeChange(() => {
    colours = themeColours();
    for (const chart of allCharts) charts.applyColours(chart, colours);
    thresholds.setTheme(colours.theme);
    if (state.results) renderTable();
    renderThemeToggle();
  });
}

async function start() {
  bindEvents();
  renderThemeToggle();
  renderDrawToggle();
  ui.laneBox.hidden = true;
  try {
    await loadCatalog();
  } catch (err) {
    showPageError(err.message);
    return;
  }
  sourceChanged();
}

start();
