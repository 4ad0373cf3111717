/**
 * The line's shared controls: z-threshold, anomaly level, start/stop. They
 * show the server's state, which any browser may change, without yanking a
 * slider out from under a user who is dragging it; a change goes to
 * `onChange` as the settings to send.
 */
import { formatNumber } from '../lib/format.js';

export function createControls(ui, { onChange }) {
  let running = null;
  const sliders = [
    { input: ui.zThreshold, label: ui.zThresholdValue, key: 'z_threshold', format: (v) => formatNumber(v, 1) },
    { input: ui.anomalyLevel, label: ui.anomalyLevelValue, key: 'anomaly_level', format: (v) => `${Math.round(v)} %` },
  ];

  for (const slider of sliders) {
    slider.isDragging = dragTracker(slider.input);
    slider.input.addEventListener('input', () => showValue(slider));
    // 'change' fires once a drag ends, and on every arrow key: one request per decision.
    slider.input.addEventListener('change', () => onChange({ [slider.key]: Number(slider.input.value) }));
    showValue(slider);
  }
  ui.startStop.addEventListener('click', () => onChange({ running: !running }));

  function renderRunning() {
    ui.runningBadge.textContent = running ? '▶ Running' : '■ Stopped';
    ui.runningBadge.className = `badge fs-6 ${running ? 'state-running' : 'state-stopped'}`;
    ui.startStop.textContent = running ? 'Stop line' : 'Start line';
    ui.startStop.disabled = false;
  }

  return {
    /** Shows a /get_control answer; `sensor` is the selected one, whose override is pointed out. */
    apply(control, sensor) {
      running = control.running;
      renderRunning();
      for (const slider of sliders) {
        const value = control[slider.key];
        if (value !== undefined && value !== null && !slider.isDragging()) slider.input.value = String(value);
        showValue(slider);
      }
      const override = control.sensors?.[sensor]?.overrides?.z_threshold;
      ui.zThresholdOverride.textContent = override === undefined
        ? '' : `This sensor overrides it: ${formatNumber(Number(override), 1)}`;
    },
  };
}

function showValue({ input, label, format }) {
  label.textContent = format(Number(input.value));
}

/** True while the pointer holds the slider: polled values must not move it then. */
function dragTracker(input) {
  let down = false;
  input.addEventListener('pointerdown', () => { down = true; });
  for (const type of ['pointerup', 'pointercancel']) window.addEventListener(type, () => { down = false; });
  return () => down;
}
