/**
 * Page wiring: DOM events → API calls, API answers → the modules that draw
 * them. URLs come from data-* attributes that Flask's url_for filled in, so
 * the page keeps working if the app is mounted under a prefix.
 */
import { getJSON, postForm, postJSON } from '../lib/api.js';
import { createPoller } from '../lib/poller.js';
import { applyColours } from '../charts/base.js';
import { knownSize, linkTimeAxes, seriesSize, setLstmRule, setScenarios, verdictCount } from '../charts/timeline.js';
import { createValueChart, setAgreement, setDisagreement, setForecast, setValueUnit } from '../charts/value.js';
import { createRatioChart, setChanceRatio } from '../charts/ratio.js';
import { createLstmChart } from '../charts/score.js';
import { createView } from './view.js';
import { createLine } from './line.js';
import { createOverview, SPARK_POINTS } from './overview.js';
import { createScorecard } from './scorecard.js';
import { createAnomalyList } from './anomalies.js';
import { createControls } from './controls.js';
import { createLstmPanel } from './lstm.js';
import { createLstmSettings } from './lstm_settings.js';
import { createLineScores } from './linescores.js';
import { createBacktest } from '../backtest/panel.js';
import { createAlerts } from '../alerts/panel.js';
import { createSources } from '../sources/panel.js';
import { createExportLink } from './export_link.js';
import { createHealth } from '../lib/health.js';
import { createAccount } from './account.js';
import { createAuditLog } from '../audit/panel.js';
import { createDetectorPanel } from './detectors.js';
import { createVerdicts } from './verdicts.js';
import { createReadingPick } from './reading_pick.js';
import { dropFromUrl, readLink } from '../lib/deep_link.js';
import { currentTheme, onThemeChange, palette, toggleTheme } from '../lib/theme.js';
import { formatClock, formatMoment, formatNumber, formatPercent, formatRule, scenarioName } from '../lib/format.js';

const root = document.getElementById('linewatch');
const urls = {
  sendControl: root.dataset.sendControlUrl,
  sensors: root.dataset.sensorsUrl,
  scenarios: root.dataset.scenariosUrl,
  listScenarios: root.dataset.listScenariosUrl,
  anomalies: root.dataset.anomaliesUrl,
  scorecard: root.dataset.scorecardUrl,
  newSession: root.dataset.newSessionUrl,
  replaySession: root.dataset.replaySessionUrl,
  train: root.dataset.trainUrl,
  models: root.dataset.modelsUrl,
  trainingJob: root.dataset.trainingJobUrl,
  modelCard: root.dataset.modelCardUrl,
  activateModel: root.dataset.activateModelUrl,
  lineScores: root.dataset.lineScoresUrl,
  detectors: root.dataset.detectorsUrl,
  tick: root.dataset.tickUrl,
};

/** Shading for the newest scenarios of a sensor: older ones have scrolled out of any window. */
const SCENARIO_LIMIT = 50;
const ANOMALY_LIMIT = 20;
/** Another browser may start a session or inject a scenario: the scorecard is asked at least this often. */
const SCORECARD_EVERY_MS = 5000;

const $ = (id) => document.getElementById(id);
const ui = {
  startStop: $('start-stop'),
  runningBadge: $('running-badge'),
  themeToggle: $('theme-toggle'),
  offline: $('offline-banner'),
  offlineSince: $('offline-since'),
  serverError: $('server-error'),
  linkError: $('link-error'),
  momentBanner: $('moment-banner'),
  momentTime: $('moment-time'),
  momentEmpty: $('moment-empty'),
  backToLive: $('back-to-live'),
  sensorSelect: $('sensor-select'),
  sensorTitle: $('sensor-title'),
  windowSelect: $('window-select'),
  pause: $('pause-view'),
  resetZoom: $('reset-zoom'),
  viewState: $('view-state'),
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
  chanceRatio: $('chance-ratio'),
  chanceThreshold: $('chance-threshold'),
  pointCount: $('point-count'),
  anomalyCount: $('anomaly-count'),
  downsampled: $('downsampled'),
  scenarioForm: $('scenario-form'),
  scenarioKind: $('scenario-kind'),
  scenarioDuration: $('scenario-duration'),
  scenarioStatus: $('scenario-status'),
  sessionId: $('session-id'),
  sessionSeed: $('session-seed'),
  sessionStarted: $('session-started'),
  sessionForm: $('session-form'),
  sessionSeedInput: $('session-seed-input'),
  replayForm: $('replay-form'),
  sessionStatus: $('session-status'),
  lstmOffHint: $('lstm-off-hint'),
  lstmChartArea: $('lstm-chart-area'),
  lstmWaiting: $('lstm-waiting'),
  lstmRule: $('lstm-rule'),
  agreement: $('agreement'),
  agreeBoth: $('agree-both'),
  agreeZ: $('agree-z'),
  agreeLstm: $('agree-lstm'),
  lstmSensor: $('sensor-lstm-sensor'),
};

let colours = palette();
const valueChart = createValueChart($('value-chart'), colours);
const ratioChart = createRatioChart($('ratio-chart'), colours);
const lstmChart = createLstmChart($('lstm-chart'), colours);
const liveCharts = [valueChart, ratioChart, lstmChart];
const view = createView(valueChart, ratioChart, { onPauseChange: renderViewState, others: [lstmChart] });
linkTimeAxes(liveCharts, () => view.pause());
const line = createLine($('line-canvas'), $('stations'), { onSelect: selectSensor, colours });
const overview = createOverview($('overview'), $('sensor-card-template'), { onSelect: selectSensor, colours });
const scorecard = createScorecard($('scorecard'), $('scorecard-grace'), { sensorLabel });
const anomalyList = createAnomalyList($('anomaly-list'), { onSelect: selectSensor });
const exportLink = createExportLink($('export-readings'));
const controls = createControls(ui, { onChange: sendControl });
const sensorLstm = createLstmPanel('sensor-lstm', { urls, colours, postControl });
const lineLstm = createLstmPanel('line-lstm', { urls, colours, postControl });
lineLstm.setTarget({
  key: 'line', label: 'the line model', train: { line: true }, models: { line: 1 },
  control: (on) => ({ line_lstm_enabled: on }), enabledIn: (control) => control.line_lstm_enabled,
});
const lstmSettings = createLstmSettings({
  form: $('lstm-settings'), status: $('lstm-settings-status'), meaning: $('verdict-meaning'),
  files: [...document.querySelectorAll('[data-import-url]')], fileStatus: $('settings-file-status'),
}, { postControl, onImported: applyControl, sensorLabel });
const lineScores = createLineScores($('line-score-chart'), $('line-scores-hint'), { url: urls.lineScores, colours });
const backtest = createBacktest($('backtest'), { postControl, sensorLabel, colours });
const alerts = createAlerts($('alerts'), {
  postControl, sensorLabel, overview: $('overview'),
  navbar: { lineState: $('line-state-badge'), unacked: $('unacked-badge') },
});
const sources = createSources($('sources'), { postControl });
const detectorPanel = createDetectorPanel({
  form: $('detectors-form'), choices: $('detectors-choices'), status: $('detectors-status'),
  sensor: $('detectors-sensor'), on: $('detectors-on'),
}, { url: urls.detectors, postControl, sensorLabel });
const verdicts = createVerdicts({
  box: $('verdicts'), hint: $('verdicts-hint'), caption: $('verdicts-caption'), split: $('verdicts-split'), rows: $('verdicts-rows'),
  alarm: $('verdicts-alarm'),
});
const readingPick = createReadingPick(valueChart, { onPick: (point) => verdicts.show(point) });

const state = {
  sensors: null,
  sensor: null,
  // Cursors: the newest reading the charts hold, and the overview's latest_id.
  lastId: null,
  overviewSince: null,
  // Bumped on sensor/window change: data requested before belongs to the old view.
  generation: 0,
  // Bumped around each control POST: a poll that overlapped it may carry old values.
  controlSeq: 0,
  sessionId: null,
  // The page's link (?sensor=…&at=…), followed once the sensors are known; then null.
  link: readLink(),
  // Sensors the overview named before the page knew them: the list was reloaded once for each.
  reloadedFor: new Set(),
  chance: null,
  // The selected sensor's LSTM is on, and it runs extra detectors (from /get_control).
  lstmOn: false,
  extraDetectors: false,
  // What else to ask for on this tick; each is cleared only by a successful answer.
  scenarioIds: new Set(),
  scenariosStale: true,
  anomaliesStale: true,
  scorecardStale: true,
  scorecardPending: false,
  scorecardAt: 0,
};

// --- errors: poll errors clear when polling recovers, action errors on the next good action.

const errors = { poll: '', action: '' };

function showError(kind, message) {
  errors[kind] = message;
  const text = errors.action || errors.poll;
  ui.serverError.textContent = text;
  ui.serverError.hidden = !text;
}

/** Unreachable (status 0) is a state of the connection, not an error of a request: a banner says so. */
function showOffline(offline) {
  if (offline && ui.offline.hidden) ui.offlineSince.textContent = formatClock(Date.now() / 1000);
  ui.offline.hidden = !offline;
}

async function act(call) {
  try {
    const result = await call();
    showError('action', '');
    return result;
  } catch (err) {
    if (err.status === 0) showOffline(true);
    else showError('action', err.message);
    return null;
  }
}

function sensorLabel(name) {
  return state.sensors?.find((s) => s.name === name)?.label ?? name;
}

// --- rendering server state

function renderCompleteness(completeness) {
  const percent = Math.max(0, Math.min(100, Number(completeness) || 0));
  ui.completenessBar.style.width = `${percent}%`;
  ui.completenessBar.setAttribute('aria-valuenow', String(Math.round(percent)));
  ui.completenessText.textContent = `${Math.round(percent)} %`;
}

function renderCounts() {
  ui.pointCount.textContent = String(seriesSize(valueChart, 'value'));
  ui.anomalyCount.textContent = String(verdictCount(valueChart));
  ui.agreeBoth.textContent = String(seriesSize(valueChart, 'both'));
  ui.agreeZ.textContent = String(seriesSize(valueChart, 'anomaly'));
  ui.agreeLstm.textContent = String(seriesSize(valueChart, 'lstmOnly'));
  ui.lstmWaiting.hidden = knownSize(lstmChart, 'score') > 0;
  renderAgreement();
}

/** The value chart tells the detectors apart while the LSTM is on, or while its flags are still in view. */
function renderAgreement() {
  const lstmMarks = seriesSize(valueChart, 'lstmOnly') + seriesSize(valueChart, 'both');
  const agreement = setAgreement(valueChart, state.lstmOn || lstmMarks > 0);
  const disagreement = setDisagreement(valueChart, state.lstmOn || state.extraDetectors);
  if (agreement || disagreement) valueChart.update('none');
}

/** The selected sensor's LSTM: its chart or a hint, the value chart's marks, the rule that explains a flag. */
function renderLstm(control) {
  const effective = control.sensors?.[state.sensor]?.effective;
  if (!effective) return;
  const on = effective.lstm_enabled;
  const rule = { percentile: effective.lstm_percentile, ratio: effective.lstm_ratio };
  for (const chart of [valueChart, lstmChart]) setLstmRule(chart, rule);
  state.lstmOn = on;
  renderAgreement();
  ui.lstmOffHint.hidden = on;
  ui.lstmChartArea.hidden = !on;
  ui.agreement.hidden = !on;
  ui.lstmRule.textContent = formatRule(rule);
  lineScores.setEnabled(control.line_lstm_enabled);
  lineScores.setRule({ percentile: control.lstm_percentile, ratio: control.lstm_ratio });
}

/** Every part of the page that shows settings, from one /get_control (or /send_control) answer. */
function applyControl(control) {
  controls.apply(control, state.sensor);
  renderDetectors(control);
  renderLstm(control);
  sensorLstm.apply(control);
  lineLstm.apply(control);
  lstmSettings.apply(control, state.sensor);
  backtest.apply(control);
  alerts.apply(control);
  sources.apply(control);
}

/** The selected sensor's extra detectors: their panel, the verdict table's source, the chart's "disagree" key. */
function renderDetectors(control) {
  detectorPanel.apply(control, state.sensor);
  verdicts.apply(control, state.sensor);
  state.extraDetectors = Boolean(control.sensors?.[state.sensor]?.effective.detectors);
}

/**
 * The forecast ahead of the live line: none around a past moment, kept as
 * drawn while the view is paused. True when the charts must be redrawn.
 */
function applyForecast(forecast) {
  if (view.paused && view.moment === null) return false;
  return setForecast(valueChart, view.moment === null ? forecast : null, [ratioChart, lstmChart]);
}

function renderViewState(paused) {
  const { moment } = view;
  ui.pause.textContent = paused ? 'Resume live' : 'Pause view';
  ui.pause.setAttribute('aria-pressed', String(paused));
  // Around a moment the banner says what the charts show.
  ui.viewState.hidden = !paused || moment !== null;
  ui.viewState.textContent = paused && moment === null ? `Paused · ${view.waitingCount()} new points waiting` : '';
  renderMoment(moment);
}

/** The banner over a moment's readings; back to live, the link's moment leaves the address bar. */
function renderMoment(moment) {
  ui.momentBanner.hidden = moment === null;
  if (moment === null) {
    ui.momentEmpty.hidden = true;
    dropFromUrl('at');
    return;
  }
  ui.momentTime.dateTime = new Date(moment * 1000).toISOString();
  ui.momentTime.textContent = formatMoment(moment);
}

function renderChance(ratio, threshold) {
  if (state.chance?.ratio === ratio && state.chance?.threshold === threshold) return;
  state.chance = { ratio, threshold };
  ui.chanceRatio.textContent = formatPercent(ratio);
  ui.chanceThreshold.textContent = formatNumber(threshold, 1);
  setChanceRatio(ratioChart, ratio, threshold);
  view.refresh();
}

function renderSession(session) {
  ui.sessionId.textContent = `#${session.id}`;
  ui.sessionSeed.textContent = String(session.seed);
  ui.sessionStarted.textContent = formatClock(session.started_at);
}

function applyData(data) {
  const { points } = data;
  if (points.length) state.lastId = points[points.length - 1].id;
  const std = points.findLast((p) => p.std !== null)?.std;
  if (std !== undefined) setValueUnit(valueChart, data.unit, std);
  verdicts.setUnit(data.unit);
  if (points.some((p) => p.scenario_id !== null && !state.scenarioIds.has(p.scenario_id))) state.scenariosStale = true;
  view.append(points);
  if (view.paused) renderViewState(true);
  // Nothing drawn yet around a moment: none stored there (the cursor moves with the first point).
  if (view.moment !== null) ui.momentEmpty.hidden = state.lastId !== null;
  renderCounts();
  if (data.downsampled) ui.downsampled.hidden = false;
  renderChance(data.chance_ratio, data.z_threshold);
  renderCompleteness(data.completeness);
  ui.baselineState.textContent = data.baseline_state;
  ui.baselineState.className = `badge baseline-${data.baseline_state}`;
  ui.anomalyRatio.textContent = formatPercent(data.anomaly_ratio);
}

function applyOverview(data) {
  if (data.latest_id !== null) state.overviewSince = data.latest_id;
  overview.update(data);
  line.setStations(overview.stations());
  line.setRunning(data.running);
  if (data.sensors.some((s) => s.points.some((p) => p.anomaly))) {
    state.anomaliesStale = true;
    state.scorecardStale = true;
  }
}

// --- polling

async function loadSensors() {
  const { sensors } = await getJSON(urls.sensors);
  if (!sensors.length) throw new Error('The server reports no sensors.');
  state.sensors = sensors;
  ui.sensorSelect.replaceChildren(...sensors.map((s) => new Option(s.unit ? `${s.label} (${s.unit})` : s.label, s.name)));
  overview.setSensors(sensors);
  backtest.setSensors(sensors);
  alerts.setSensors(sensors);
  line.setStations(overview.stations());
  if (state.link) followLink(sensors);
  if (!sensors.some((s) => s.name === state.sensor)) state.sensor = sensors[0].name;
  showSelection();
  for (const fieldset of document.querySelectorAll('[data-needs-sensor]')) fieldset.disabled = false;
}

/**
 * The page's link, once the sensors are known: its sensor selected, and its
 * moment shown. A name the line lacks is reported, and the default sensor
 * shown live instead.
 */
function followLink(sensors) {
  const { sensor, at, badAt } = state.link;
  state.link = null;
  if (sensor !== null && !sensors.some((s) => s.name === sensor)) {
    showLinkError(`The link names a sensor this line does not have (“${sensor}”): showing ${sensors[0].label} instead.`);
    dropFromUrl('sensor', 'at');
    return;
  }
  if (badAt !== null) {
    showLinkError(`The link's time (“${badAt}”) is not a moment in epoch seconds: showing live data instead.`);
    dropFromUrl('at');
  }
  if (sensor !== null) state.sensor = sensor;
  if (at !== null) view.showMoment(at);
}

function showLinkError(message) {
  ui.linkError.textContent = message;
  ui.linkError.hidden = !message;
}

/**
 * Sensors that the overview names and the page lacks (a source registered them
 * since): the list is reloaded, once for each; a failed reload is tried again.
 */
async function loadNewSensors(lineData) {
  const fresh = overview.unknown(lineData).filter((name) => !state.reloadedFor.has(name));
  if (!fresh.length) return;
  await loadSensors();
  for (const name of fresh) state.reloadedFor.add(name);
}

async function tick() {
  if (!state.sensors) await loadSensors();
  const { generation, controlSeq } = state;
  // One request a second for the four answers (/get_data, /api/overview, /get_control, /api/forecast).
  const { data, overview: lineData, control, forecast } = await getJSON(urls.tick, {
    sensor: state.sensor, ...view.params(state.lastId), overview_since: state.overviewSince, points: SPARK_POINTS,
  });
  if (controlSeq === state.controlSeq) applyControl(control);
  if (databaseReplaced(data, lineData)) {
    startOver();
    return;
  }
  await loadNewSensors(lineData);
  applyOverview(lineData);
  if (generation !== state.generation) return;
  const forecastMoved = applyForecast(forecast);
  applyData(data);
  if (forecastMoved && !data.points.length) view.refresh();
  await Promise.all([
    state.scenariosStale && loadScenarios(generation),
    state.anomaliesStale && loadAnomalies(),
    scorecardDue() && loadScorecard(),
  ]);
}

/** Newest id below ours: the server started on a new database. */
function databaseReplaced(data, lineData) {
  const behind = (latest, seen) => seen !== null && latest !== null && latest < seen;
  return behind(data.latest_id, state.lastId) || behind(lineData.latest_id, state.overviewSince);
}

async function loadScenarios(generation) {
  const { scenarios } = await getJSON(urls.listScenarios, { sensor: state.sensor, limit: SCENARIO_LIMIT });
  if (generation !== state.generation) return;
  state.scenarioIds = new Set(scenarios.map((s) => s.id));
  state.scenariosStale = false;
  for (const chart of liveCharts) setScenarios(chart, scenarios);
  view.refresh();
}

async function loadAnomalies() {
  const { anomalies } = await getJSON(urls.anomalies, { limit: ANOMALY_LIMIT });
  state.anomaliesStale = false;
  anomalyList.render(anomalies);
}

/** New anomalies, open events (they turn caught or missed by time alone) and a slow heartbeat. */
function scorecardDue() {
  return state.scorecardStale || state.scorecardPending || Date.now() - state.scorecardAt > SCORECARD_EVERY_MS;
}

async function loadScorecard() {
  const card = await getJSON(urls.scorecard);
  state.scorecardStale = false;
  state.scorecardAt = Date.now();
  state.scorecardPending = Object.values(card.detectors).some((d) => d.pending > 0);
  scorecard.render(card);
  renderSession(card.session);
  if (state.sessionId !== null && card.session.id !== state.sessionId) sessionChanged();
  state.sessionId = card.session.id;
}

const poller = createPoller(tick, {
  maxBackoff: 5000,
  onSuccess: () => {
    showOffline(false);
    showError('poll', '');
  },
  onError: (err) => {
    showOffline(err.status === 0);
    showError('poll', err.status === 0 ? '' : err.message);
  },
});

/** Sensor or window changed: start from empty charts that load a fresh window. */
function restart() {
  state.generation += 1;
  state.lastId = null;
  state.scenarioIds = new Set();
  state.scenariosStale = true;
  ui.downsampled.hidden = true;
  readingPick.clear();
  if (view.paused) view.resume();
  view.clear();
  renderCounts();
  poller.kick();
}

/** A new database: sensors, cursors and every list are reloaded. */
function startOver() {
  state.sensors = null;
  state.reloadedFor = new Set();
  state.overviewSince = null;
  overview.reset();
  state.sessionId = null;
  lineScores.reset();
  sensorLstm.reload();
  lineLstm.reload();
  sessionChanged();
}

/** A new session (ours or another browser's): models restarted, so charts and lists start afresh. */
function sessionChanged() {
  state.anomaliesStale = true;
  state.scorecardStale = true;
  restart();
}

// --- user actions

function showSelection() {
  ui.sensorSelect.value = state.sensor;
  ui.sensorTitle.textContent = sensorLabel(state.sensor);
  ui.lstmSensor.textContent = sensorLabel(state.sensor);
  sensorLstm.setTarget(sensorTarget(state.sensor));
  overview.select(state.sensor);
  line.select(state.sensor);
  backtest.follow(state.sensor);
  exportLink.follow(state.sensor);
}

function selectSensor(name) {
  if (name === state.sensor) return;
  showLinkError('');
  state.sensor = name;
  showSelection();
  restart();
}

/** A sensor's LSTM target for its panel: what to train, list and switch. */
function sensorTarget(name) {
  return {
    key: `sensor:${name}`, label: sensorLabel(name), train: { sensor: name }, models: { sensor: name },
    control: (on) => ({ sensor: name, lstm_enabled: on }),
    enabledIn: (control) => Boolean(control.sensors?.[name]?.effective.lstm_enabled),
  };
}

/** The last control change sent: the next one waits for it. */
let controlsInFlight = Promise.resolve();

/**
 * Sends setting changes and shows the answer at once; a refusal is thrown to
 * the caller, which shows it where the user acted. A poll that overlapped the
 * request may carry the old values: the sequence number tells tick() to drop it.
 * Changes go one at a time, in the order made: two quick arrow presses served
 * by two workers must not land the older value last.
 */
async function postControl(changes) {
  const previous = controlsInFlight;
  let done;
  controlsInFlight = new Promise((resolve) => { done = resolve; });
  await previous;
  state.controlSeq += 1;
  try {
    const control = await postJSON(urls.sendControl, changes);
    applyControl(control);
    return control;
  } finally {
    state.controlSeq += 1;
    poller.kick();
    done();
  }
}

async function sendControl(changes) {
  await act(() => postControl(changes));
}

async function injectScenario(event) {
  event.preventDefault();
  const body = { sensor: state.sensor, kind: ui.scenarioKind.value, duration_s: Number(ui.scenarioDuration.value) };
  const result = await act(() => postJSON(urls.scenarios, body));
  if (!result) return;
  const { scenario } = result;
  ui.scenarioStatus.textContent = `#${scenario.id} ${scenarioName(scenario.kind)} on ${sensorLabel(scenario.sensor)} until ${formatClock(scenario.ends_at)}`;
  state.scenariosStale = true;
  state.scorecardStale = true;
  poller.kick();
}

/** After a new or replayed session: what started, then everything reloads. */
function sessionStarted(session, detail) {
  ui.sessionStatus.textContent = `Session #${session.id} started with seed ${session.seed}${detail}.`;
  renderSession(session);
  state.sessionId = session.id;
  sessionChanged();
}

async function newSession(event) {
  event.preventDefault();
  const seed = ui.sessionSeedInput.value.trim();
  const session = await act(() => postJSON(urls.newSession, seed === '' ? {} : { seed: Number(seed) }));
  if (session) sessionStarted(session, '');
}

async function replaySession(event) {
  event.preventDefault();
  const result = await act(() => postForm(urls.replaySession, new FormData(ui.replayForm)));
  if (!result) return;
  ui.replayForm.reset();
  sessionStarted(result.session, `, replaying ${result.scenarios} scenario${result.scenarios === 1 ? '' : 's'}`);
}

function resumeLive() {
  if (view.resume()) restart();
}

function renderThemeToggle() {
  const dark = currentTheme() === 'dark';
  ui.themeToggle.textContent = dark ? '☀ Light' : '☾ Dark';
  ui.themeToggle.setAttribute('aria-pressed', String(dark));
}

function bindEvents() {
  ui.sensorSelect.addEventListener('change', () => selectSensor(ui.sensorSelect.value));
  ui.windowSelect.addEventListener('change', () => {
    view.setMode(ui.windowSelect.value);
    restart();
  });
  ui.pause.addEventListener('click', () => (view.paused ? resumeLive() : view.pause()));
  ui.backToLive.addEventListener('click', resumeLive);
  ui.resetZoom.addEventListener('click', () => view.resetZoom());
  ui.rebaseline.addEventListener('click', () => sendControl({ rebaseline: state.sensor }));
  ui.scenarioForm.addEventListener('submit', injectScenario);
  ui.sessionForm.addEventListener('submit', newSession);
  ui.replayForm.addEventListener('submit', replaySession);
  ui.themeToggle.addEventListener('click', toggleTheme);
  onThemeChange(() => {
    colours = palette();
    for (const chart of liveCharts) applyColours(chart, colours);
    for (const part of [sensorLstm, lineLstm, lineScores, backtest]) part.setColours(colours);
    line.setColours(colours);
    overview.setColours(colours);
    renderThemeToggle();
  });
}

bindEvents();
renderThemeToggle();
view.setMode(ui.windowSelect.value);
poller.start();
createHealth($('health-banner'), $('health-text'), root.dataset.healthzUrl).start();
createAccount($('account')).start();
createAuditLog($('audit')).start();
