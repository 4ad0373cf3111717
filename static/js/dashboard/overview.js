/**
 * Every sensor at once: a card each with its current value, a sparkline of its
 * newest readings, anomaly ratio, baseline state and alert state. Cards are
 * built once from a <template>; each poll appends only the new readings to
 * per-sensor buffers of at most SPARK_POINTS.
 */
import { formatPercent, formatValue } from '../lib/format.js';

export const SPARK_POINTS = 120;
/** An anomaly this many seconds old still keeps its sensor amber: a one-reading flash is easy to miss. */
const RECENT_S = 3;

const LEVEL_TEXT = { ok: 'OK', warn: '▲ recent', alarm: '⚠ anomaly' };

export function createOverview(container, template, { onSelect, colours }) {
  const cards = new Map();
  let palette = colours;

  function build(sensor) {
    const root = template.content.firstElementChild.cloneNode(true);
    const fields = {};
    for (const el of root.querySelectorAll('[data-field]')) fields[el.dataset.field] = el;
    const card = { sensor, root, fields, spark: fields.sparkline, points: [], level: 'ok', value: null };
    root.dataset.sensor = sensor.name;
    fields.label.textContent = sensor.label;
    fields.unit.textContent = sensor.unit;
    root.addEventListener('click', () => onSelect(sensor.name));
    new ResizeObserver(() => drawSparkline(card, palette)).observe(card.spark);
    return card;
  }

  return {
    /** One card per sensor, in line order; a sensor that has a card keeps it, with its sparkline. */
    setSensors(sensors) {
      const kept = new Map(cards);
      cards.clear();
      for (const sensor of sensors) {
        const card = kept.get(sensor.name);
        cards.set(sensor.name, card && sameSensor(card.sensor, sensor) ? card : build(sensor));
      }
      container.replaceChildren(...[...cards.values()].map((card) => card.root));
    },

    /** Forgets every card's readings: the database was replaced, and its ids started again. */
    reset() {
      for (const card of cards.values()) {
        card.points = [];
        drawSparkline(card, palette);
      }
    },

    /** The sensors an /api/overview answer names that have no card (registered since the list was loaded). */
    unknown(overview) {
      return overview.sensors.map((status) => status.name).filter((name) => !cards.has(name));
    },

    /** Applies an /api/overview answer: new readings, values, ratios, states. */
    update(overview) {
      for (const status of overview.sensors) {
        const card = cards.get(status.name);
        if (!card) continue;
        const newest = card.points.length ? card.points[card.points.length - 1].id : -1;
        // An answer may repeat readings at the edge of the previous one (see the page's cursor).
        card.points.push(...status.points.filter((p) => p.id > newest));
        if (card.points.length > SPARK_POINTS) card.points.splice(0, card.points.length - SPARK_POINTS);
        card.value = status.last_value;
        card.level = alertLevel(status, card.points);
        const { fields } = card;
        fields.value.textContent = formatValue(status.last_value, '');
        fields.state.textContent = LEVEL_TEXT[card.level];
        fields.state.className = `badge state-${card.level}`;
        fields.ratio.textContent = formatPercent(status.anomaly_ratio);
        fields.baseline.textContent = status.baseline_state;
        fields.baseline.className = `badge baseline-${status.baseline_state}`;
        card.root.setAttribute('aria-label', `${card.sensor.label}: ${formatValue(status.last_value, status.unit)}, `
          + `${LEVEL_TEXT[card.level]}, anomaly ratio ${formatPercent(status.anomaly_ratio)}, baseline ${status.baseline_state}`);
        drawSparkline(card, palette);
      }
    },

    select(name) {
      for (const card of cards.values()) card.root.setAttribute('aria-pressed', String(card.sensor.name === name));
    },

    /** What the production line shows at each station. */
    stations() {
      return [...cards.values()].map(({ sensor, value, level }) => ({ ...sensor, value, level }));
    },

    setColours(next) {
      palette = next;
      for (const card of cards.values()) drawSparkline(card, palette);
    },
  };
}

/** A card shows a sensor's label and unit: another label or unit needs a new card. */
function sameSensor(a, b) {
  return a.label === b.label && a.unit === b.unit;
}

/** 'alarm' while the newest reading is anomalous, 'warn' for RECENT_S after one, else 'ok'. */
function alertLevel(status, points) {
  if (status.anomaly) return 'alarm';
  const since = (status.last_t ?? 0) - RECENT_S;
  return points.some((p) => p.anomaly && p.t >= since) ? 'warn' : 'ok';
}

function drawSparkline(card, c) {
  const canvas = card.spark;
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (!width || !height) return;
  if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
  if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext('2d');
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const { points } = card;
  if (points.length < 2) return;

  let low = Infinity;
  let high = -Infinity;
  for (const p of points) {
    low = Math.min(low, p.value);
    high = Math.max(high, p.value);
  }
  const pad = 5;
  const span = high - low || 1;
  const x = (i) => pad + (i / (SPARK_POINTS - 1)) * (width - 2 * pad);
  const y = (v) => height - pad - ((v - low) / span) * (height - 2 * pad);
  // Right-aligned, so a sparkline that is still filling grows from the right like the others.
  const first = SPARK_POINTS - points.length;

  ctx.strokeStyle = c.value;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  points.forEach((p, i) => (i ? ctx.lineTo(x(first + i), y(p.value)) : ctx.moveTo(x(first + i), y(p.value))));
  ctx.stroke();

  ctx.fillStyle = c.anomaly;
  points.forEach((p, i) => {
    if (!p.anomaly) return;
    const px = x(first + i);
    const py = y(p.value);
    ctx.beginPath();
    ctx.moveTo(px, py - 5);
    ctx.lineTo(px + 4.5, py + 3);
    ctx.lineTo(px - 4.5, py + 3);
    ctx.closePath();
    ctx.fill();
  });
}
