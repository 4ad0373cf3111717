/**
 * The production line, drawn on a canvas: a conveyor carrying parts past one
 * station per sensor. The belt moves while the line runs and stands still
 * when it is stopped; each station shows its sensor's live value and turns
 * amber or vermillion, with a written state, while that sensor is anomalous.
 *
 * A canvas cannot take focus, so real buttons lie over the stations: they
 * take the clicks, the keyboard and the screen reader's questions.
 */
import { formatValue } from '../lib/format.js';

const BELT_SPEED_PX_S = 40;
const PART_SPACING_PX = 72;
const TREAD_SPACING_PX = 18;
/** A tab that was hidden must not make the parts jump on its return. */
const MAX_FRAME_S = 0.1;
/** 30 frames a second move a slow belt smoothly; 60 would double the CPU of a wall screen left on for days. */
const FRAME_MS = 1000 / 30;

const STATE_TEXT = { ok: 'OK', warn: '▲ recent anomaly', alarm: '⚠ ANOMALY' };

export function createLine(canvas, overlay, { onSelect, colours }) {
  let stations = [];
  let selected = null;
  let palette = colours;
  // Distance travelled, in CSS pixels; exposed as data-offset so a test can see the belt move.
  let offset = 0;
  let lastFrame = null;
  let frame = null;
  const size = { width: 0, height: 0, rem: 16 };
  const ctx = canvas.getContext('2d');

  function resize() {
    const ratio = window.devicePixelRatio || 1;
    size.width = canvas.clientWidth;
    size.height = canvas.clientHeight;
    // Text follows the root font size, which app.css raises on wall screens.
    size.rem = parseFloat(getComputedStyle(document.documentElement).fontSize);
    canvas.width = Math.round(size.width * ratio);
    canvas.height = Math.round(size.height * ratio);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    draw();
  }

  function step(now) {
    frame = requestAnimationFrame(step);
    if (lastFrame !== null && now - lastFrame < FRAME_MS - 1) return;
    if (lastFrame !== null) offset += Math.min((now - lastFrame) / 1000, MAX_FRAME_S) * BELT_SPEED_PX_S;
    lastFrame = now;
    canvas.dataset.offset = String(Math.round(offset));
    draw();
  }

  function draw() {
    const { width, height } = size;
    if (!width || !height) return;
    ctx.clearRect(0, 0, width, height);
    const belt = { top: height - 28, height: 12 };
    drawBelt(ctx, palette, width, belt, offset);
    const column = width / Math.max(stations.length, 1);
    stations.forEach((station, index) => {
      drawStation(ctx, palette, station, station.name === selected, {
        x: index * column + column * 0.1, y: 6, width: column * 0.8, height: belt.top - 20,
      }, belt.top, size.rem);
    });
  }

  function renderButtons() {
    overlay.style.gridTemplateColumns = `repeat(${stations.length}, 1fr)`;
    overlay.replaceChildren(...stations.map((station) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'station-button';
      button.dataset.station = station.name;
      button.addEventListener('click', () => onSelect(station.name));
      return button;
    }));
  }

  function labelButtons() {
    stations.forEach((station, index) => {
      const button = overlay.children[index];
      button.setAttribute('aria-pressed', String(station.name === selected));
      button.setAttribute('aria-label', `${station.label}: ${formatValue(station.value, station.unit)}, ${STATE_TEXT[station.level]}`);
    });
  }

  new ResizeObserver(resize).observe(canvas);

  return {
    /** Station list, in line order: [{name, label, unit, value, level: 'ok'|'warn'|'alarm'}]. */
    setStations(next) {
      const rebuilt = next.map((s) => s.name).join() !== stations.map((s) => s.name).join();
      stations = next;
      if (rebuilt) renderButtons();
      labelButtons();
      if (frame === null) draw();
    },
    select(name) {
      selected = name;
      labelButtons();
      if (frame === null) draw();
    },
    setRunning(running) {
      canvas.dataset.running = String(running);
      if (running && frame === null) {
        lastFrame = null;
        frame = requestAnimationFrame(step);
      } else if (!running && frame !== null) {
        cancelAnimationFrame(frame);
        frame = null;
        draw();
      }
    },
    setColours(next) {
      palette = next;
      draw();
    },
  };
}

function drawBelt(ctx, c, width, belt, offset) {
  const left = 8;
  const right = width - 8;
  const radius = belt.height / 2;
  ctx.fillStyle = c.surface;
  ctx.strokeStyle = c.muted;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.roundRect(left, belt.top, right - left, belt.height, radius);
  ctx.fill();
  ctx.stroke();

  // Tread marks and parts move with the belt; the rollers below stay put.
  ctx.save();
  ctx.beginPath();
  ctx.rect(left + radius, belt.top, right - left - 2 * radius, belt.height);
  ctx.clip();
  ctx.strokeStyle = c.border;
  ctx.lineWidth = 2;
  for (let x = left + (offset % TREAD_SPACING_PX); x < right; x += TREAD_SPACING_PX) {
    ctx.beginPath();
    ctx.moveTo(x, belt.top + 3);
    ctx.lineTo(x - 4, belt.top + belt.height - 3);
    ctx.stroke();
  }
  ctx.restore();

  ctx.fillStyle = c.muted;
  for (let x = left + radius; x <= right - radius; x += (right - left - 2 * radius) / 8) {
    ctx.beginPath();
    ctx.arc(x, belt.top + belt.height + 6, 4, 0, 2 * Math.PI);
    ctx.fill();
  }

  ctx.fillStyle = c.surface;
  ctx.strokeStyle = c.muted;
  ctx.lineWidth = 1.5;
  for (let x = left - PART_SPACING_PX + (offset % PART_SPACING_PX); x < right; x += PART_SPACING_PX) {
    if (x > left && x + 18 < right) {
      ctx.fillRect(x, belt.top - 13, 18, 12);
      ctx.strokeRect(x, belt.top - 13, 18, 12);
    }
  }
}

function drawStation(ctx, c, station, isSelected, box, beltTop, rem) {
  const fill = { ok: c.surface, warn: c.amber, alarm: c.red }[station.level];
  const ink = station.level === 'ok' ? c.text : c.onColour;
  const centre = box.x + box.width / 2;

  // The probe from the station down to the belt.
  ctx.strokeStyle = c.muted;
  ctx.lineWidth = 3;
  ctx.beginPath();
  ctx.moveTo(centre, box.y + box.height);
  ctx.lineTo(centre, beltTop - 12);
  ctx.stroke();

  ctx.fillStyle = fill;
  ctx.strokeStyle = isSelected ? c.value : c.border;
  ctx.lineWidth = isSelected ? 4 : 1.5;
  ctx.beginPath();
  ctx.roundRect(box.x, box.y, box.width, box.height, 8);
  ctx.fill();
  ctx.stroke();

  // Three lines of text; a short box (a laptop) shrinks them rather than overlapping them.
  const fontPx = (em, share) => Math.min(em * rem, share * box.height);
  const inner = box.width - 12;
  ctx.fillStyle = ink;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.font = `600 ${fontPx(0.85, 0.24)}px system-ui, sans-serif`;
  ctx.fillText(fit(ctx, station.label, inner), centre, box.y + box.height * 0.21);
  ctx.font = `700 ${fontPx(1.25, 0.33)}px system-ui, sans-serif`;
  ctx.fillText(fit(ctx, formatValue(station.value, station.unit), inner), centre, box.y + box.height * 0.51);
  ctx.font = `${station.level === 'ok' ? 400 : 700} ${fontPx(0.8, 0.22)}px system-ui, sans-serif`;
  ctx.fillText(fit(ctx, STATE_TEXT[station.level], inner), centre, box.y + box.height * 0.8);
}

/** Cuts `text` with an ellipsis to fit `width` pixels, for narrow screens. */
function fit(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let cut = text;
  while (cut.length > 1 && ctx.measureText(`${cut}…`).width > width) cut = cut.slice(0, -1);
  return `${cut}…`;
}
