/**
 * One threshold control per detector: a slider (anomaly score 0..1), an exact
 * number, a "best for this series" button, and for the z-score the |z| that
 * the score stands for. It reports what the user asks for; the page decides
 * when to ask the server, and shows back the threshold the server used.
 */
import { detectorStyle } from './chart.js';
import { zFromScore } from './math.js';
import { formatNumber } from '../lib/format.js';

/**
 * `container` receives a copy of `template` per detector; `onChange(id, value)`
 * is called with a number while the user moves or types, or with 'best'.
 */
export function createThresholds(container, template, { onChange }) {
  const controls = new Map();

  function build(detectors, theme) {
    controls.clear();
    container.replaceChildren(...detectors.map((d, order) => {
      const node = template.content.firstElementChild.cloneNode(true);
      const field = (name) => node.querySelector(`[data-field="${name}"]`);
      const parts = {
        node, slider: field('slider'), number: field('number'), best: field('best'), z: field('z'),
        symbol: node.querySelector('.detector-symbol'), id: d.id, order,
      };
      node.dataset.detector = d.id;
      parts.slider.id = `threshold-${d.id}`;
      parts.number.id = `threshold-${d.id}-number`;
      field('label').htmlFor = parts.slider.id;
      field('name').textContent = `${d.label} threshold`;
      parts.number.setAttribute('aria-label', `${d.label} threshold, exact`);
      parts.best.id = `best-${d.id}`;
      parts.best.setAttribute('aria-label', `Best threshold for this series: ${d.label}`);
      parts.z.hidden = d.id !== 'zscore';
      parts.z.id = `threshold-${d.id}-z`;
      parts.slider.addEventListener('input', () => changed(parts, Number(parts.slider.value), parts.slider));
      parts.number.addEventListener('change', () => {
        const value = Number(parts.number.value);
        if (parts.number.value !== '' && Number.isFinite(value)) changed(parts, Math.max(0, Math.min(1, value)), parts.number);
      });
      parts.best.addEventListener('click', () => onChange(d.id, 'best'));
      controls.set(d.id, parts);
      return node;
    }));
    setTheme(theme);
  }

  /** The user's own value shows at once (the slider moves smoothly); the server's answer confirms it. */
  function changed(parts, value, from) {
    show(parts, value, from);
    onChange(parts.id, value);
  }

  function show(parts, value, except = null) {
    if (typeof value !== 'number') return;
    if (except !== parts.slider) parts.slider.value = String(value);
    if (except !== parts.number) parts.number.value = String(Number(value.toPrecision(6)));
    if (parts.id === 'zscore') {
      const z = zFromScore(value);
      parts.z.textContent = `= |z| ≥ ${Number.isFinite(z) ? formatNumber(z, 2) : '∞'}`;
      parts.z.dataset.value = String(z);
    }
  }

  function setTheme(theme) {
    for (const parts of controls.values()) {
      const style = detectorStyle(parts.id, theme, parts.order);
      parts.symbol.textContent = style.symbol;
      parts.symbol.style.color = style.colour;
    }
  }

  return {
    build,
    setTheme,
    /** The threshold the server used for each detector; skipped while the user holds a control. */
    apply(results) {
      for (const [id, result] of Object.entries(results)) {
        const parts = controls.get(id);
        if (parts) show(parts, result.threshold, document.activeElement === parts.number ? parts.number : null);
      }
    },
    setDisabled(disabled) {
      for (const parts of controls.values()) {
        for (const el of [parts.slider, parts.number, parts.best]) el.disabled = disabled;
      }
    },
  };
}
