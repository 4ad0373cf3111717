/**
 * Page wiring: DOM events → API calls, API answers → DOM and charts.
 * URLs come from data-* attributes that Flask's url_for filled in, so the
 * page keeps working if the app is mounted under a prefix.
 */
import { getJSON, postJSON } from './api.js';
import { createPoller } from './poller.js';
import * as charts from './charts.js';

const root = document.getElementById('linewatch');
const urls = {
  getData: root.dataset.getDataUrl,
  getControl: root.dataset.getControlUrl,
  sendControl: root.dataset.sendControlUrl,
  sensors: root.dataset.sensorsUrl,
  scenarios: root.dataset.scenariosUrl,
};

const $ = (id) => document.getElementById(id);
const ui = {
  runningBadge: $('running-badge'),
  startStop: $('start-stop'),
  sensorSelect: $('sensor-select'),
  windowSelect: $('window-select'),
  zThreshold: $('z-threshold'),
  zThresholdValue: $('z-threshold-value'),
  zThresholdOverride: $('z-threshold-override'),
  anomalyLevel: $('anomaly-level'),
  anomalyLevelValue: $('anomaly-level-value'),
  completenessBar: $('completeness-bar'),
  completenessText: $('completeness-text'),
  baselineState: $('baseline-state'),
  rebaseline: $('rebaseline'),
  anomalyRatio: $('anomaly-ratio'),
  pointCount: $('point-count'),
  anomalyCount: $('anomaly-count'),
  scenarioForm: $('scenario-form'),
  scenarioKind: $('scenario-kind'),
  scenarioDuration: $('scenario-duration'),
  scenarioStatus: $('scenario-status'),
  serverError: $('server-error'),
};

const valueChart = charts.createValueChart($('value-chart'));
const ratioChart = charts.createRatioChart($('ratio-chart'));

const state = {
  sensor: null,
  window: Number(ui.windowSelect.value),
  lastId: null,
  running: null,
  // Bumped on sensor/window change: data requested before belongs to the old view.
  generation: 0,
  // Bumped around each control POST: a poll that overlapped it may carry old values.
  controlSeq: 0,
};

const BASELINE_STYLES = {
  learning: 'text-bg-info',
  tracking: 'text-bg-success',
  excluding: 'text-bg-warning',
  relearning: 'text-bg-primary',
};

// --- errors: poll errors clear when polling recovers, action errors on the next good action.

const errors = { poll: '', action: '' };

function showError(kind, message) {
  errors[kind] = message;
  const text = errors.action || errors.poll;
  ui.serverError.textContent = text;
  ui.serverError.hidden = !text;
}

async function act(call) {
  try {
    const result = await call();
    showError('action', '');
    return result;
  } catch (err) {
    showError('action', err.message);
    return null;
  }
}

// --- sliders

const SLIDER_LABELS = [
  [ui.zThreshold, ui.zThresholdValue, (v) => v.toFixed(1)],
  [ui.anomalyLevel, ui.anomalyLevelValue, (v) => `${Math.round(v)} %`],
];

function renderSliderLabels() {
  for (const [input, label, format] of SLIDER_LABELS) label.textContent = format(Number(input.value));
}

/** True while the pointer holds the slider: polled values must not yank it away. */
function dragTracker(input) {
  let down = false;
  input.addEventListener('pointerdown', () => { down = true; });
  for (const type of ['pointerup', 'pointercancel']) window.addEventListener(type, () => { down = false; });
  return () => down;
}

const isDragging = new Map([ui.zThreshold, ui.anomalyLevel].map((input) => [input, dragTracker(input)]));

function syncSlider(input, value) {
  if (value === undefined || value === null || isDragging.get(input)()) return;
  input.value = String(value);
}

// --- rendering server state

function renderRunning(running) {
  state.running = running;
  ui.runningBadge.textContent = running ? 'Running' : 'Stopped';
  ui.runningBadge.className = `badge fs-6 ${running ? 'text-bg-success' : 'text-bg-warning'}`;
  ui.startStop.textContent = running ? 'Stop' : 'Start';
  ui.startStop.className = `btn btn-sm ${running ? 'btn-outline-light' : 'btn-success'}`;
  ui.startStop.disabled = false;
}

function renderOverride(control) {
  const override = control.sensors?.[state.sensor]?.overrides?.z_threshold;
  ui.zThresholdOverride.textContent = override === undefined ? '' : `This sensor overrides it: ${Number(override).toFixed(1)}`;
}

function applyControl(control) {
  renderRunning(control.running);
  syncSlider(ui.zThreshold, control.z_threshold);
  syncSlider(ui.anomalyLevel, control.anomaly_level);
  renderSliderLabels();
  renderOverride(control);
}

function renderCompleteness(completeness) {
  const percent = Math.max(0, Math.min(100, Number(completeness) || 0));
  ui.completenessBar.style.width = `${percent}%`;
  ui.completenessBar.setAttribute('aria-valuenow', String(Math.round(percent)));
  ui.completenessText.textContent = `${Math.round(percent)} %`;
}

function renderBaseline(baselineState) {
  ui.baselineState.textContent = baselineState ?? '–';
  ui.baselineState.className = `badge ${BASELINE_STYLES[baselineState] ?? 'text-bg-secondary'}`;
}

function renderCounts() {
  ui.pointCount.textContent = String(charts.seriesSize(valueChart, 'value'));
  ui.anomalyCount.textContent = String(charts.seriesSize(valueChart, 'anomaly'));
}

function applyData(data) {
  const { points } = data;
  if (points.length) state.lastId = points[points.length - 1].id;
  for (const chart of [valueChart, ratioChart]) {
    charts.appendPoints(chart, points);
    charts.trimToWindow(chart, state.window);
  }
  charts.setValueUnit(valueChart, data.unit);
  charts.render(valueChart);
  charts.render(ratioChart);
  renderCounts();
  renderCompleteness(data.completeness);
  renderBaseline(data.baseline_state);
  ui.anomalyRatio.textContent = `${(data.anomaly_ratio * 100).toFixed(2)} %`;
}

// --- polling

async function loadSensors() {
  const { sensors } = await getJSON(urls.sensors);
  if (!sensors.length) throw new Error('The server reports no sensors.');
  ui.sensorSelect.replaceChildren(...sensors.map((s) => new Option(s.unit ? `${s.label} (${s.unit})` : s.label, s.name)));
  state.sensor = sensors[0].name;
  for (const fieldset of document.querySelectorAll('[data-needs-sensor]')) fieldset.disabled = false;
}

async function tick() {
  if (!state.sensor) await loadSensors();
  const { generation, controlSeq } = state;
  const [data, control] = await Promise.all([
    getJSON(urls.getData, { sensor: state.sensor, window: state.window, since: state.lastId }),
    getJSON(urls.getControl),
  ]);
  if (controlSeq === state.controlSeq) applyControl(control);
  if (generation !== state.generation) return;
  // Newest id below ours: the server started on a new database; begin afresh.
  if (state.lastId !== null && data.latest_id !== null && data.latest_id < state.lastId) {
    restart();
    return;
  }
  applyData(data);
}

const poller = createPoller(tick, {
  onSuccess: () => showError('poll', ''),
  onError: (err) => showError('poll', err.message),
});

/** Sensor or window changed: start from an empty chart holding `window` fresh points. */
function restart() {
  state.generation += 1;
  state.lastId = null;
  for (const chart of [valueChart, ratioChart]) {
    charts.resetChart(chart);
    charts.render(chart);
  }
  renderCounts();
  poller.kick();
}

// --- user actions

async function sendControl(changes) {
  state.controlSeq += 1;
  const control = await act(() => postJSON(urls.sendControl, changes));
  state.controlSeq += 1;
  if (control) applyControl(control);
  poller.kick();
}

async function injectScenario(event) {
  event.preventDefault();
  const body = {
    sensor: state.sensor,
    kind: ui.scenarioKind.value,
    duration_s: Number(ui.scenarioDuration.value),
  };
  const result = await act(() => postJSON(urls.scenarios, body));
  if (!result) return;
  const { scenario } = result;
  ui.scenarioStatus.textContent = `#${scenario.id} ${scenario.kind} on ${scenario.sensor} until ${charts.formatClock(scenario.ends_at)}`;
  poller.kick();
}

function bindEvents() {
  ui.sensorSelect.addEventListener('change', () => {
    state.sensor = ui.sensorSelect.value;
    restart();
  });
  ui.windowSelect.addEventListener('change', () => {
    state.window = Number(ui.windowSelect.value);
    restart();
  });
  ui.zThreshold.addEventListener('input', renderSliderLabels);
  ui.anomalyLevel.addEventListener('input', renderSliderLabels);
  ui.zThreshold.addEventListener('change', () => sendControl({ z_threshold: Number(ui.zThreshold.value) }));
  ui.anomalyLevel.addEventListener('change', () => sendControl({ anomaly_level: Number(ui.anomalyLevel.value) }));
  ui.startStop.addEventListener('click', () => sendControl({ running: !state.running }));
  ui.rebaseline.addEventListener('click', () => sendControl({ rebaseline: state.sensor }));
  ui.scenarioForm.addEventListener('submit', injectScenario);
}

bindEvents();
renderSliderLabels();
poller.start();
