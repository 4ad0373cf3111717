/**
 * Light or dark theme: Bootstrap's `data-bs-theme` on <html>, the user's
 * choice remembered in localStorage, otherwise the system's preference.
 * Canvas drawings cannot read CSS, so this module also hands out the colours
 * of the current theme (Okabe–Ito hues, safe for colour-blind viewers).
 */

const STORAGE_KEY = 'linewatch-theme';
const html = document.documentElement;
const systemDark = window.matchMedia('(prefers-color-scheme: dark)');
const listeners = [];

/** Okabe–Ito. The dark theme takes sky blue for values: #0072B2 is too dim on near-black. */
const HUES = {
  light: {
    value: '#0072B2', bandFill: 'rgba(0, 114, 178, 0.10)', bandFillStrong: 'rgba(0, 114, 178, 0.35)',
    scenario: 'rgba(240, 228, 66, 0.38)',
  },
  dark: {
    value: '#56B4E9', bandFill: 'rgba(86, 180, 233, 0.12)', bandFillStrong: 'rgba(86, 180, 233, 0.40)',
    scenario: 'rgba(240, 228, 66, 0.18)',
  },
};

function stored() {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage disabled: follow the system
  }
}

export function currentTheme() {
  return html.dataset.bsTheme === 'dark' ? 'dark' : 'light';
}

function apply(theme) {
  if (theme === currentTheme()) return;
  html.dataset.bsTheme = theme;
  for (const listener of listeners) listener(theme);
}

/** The user's explicit choice: remembered, and from then on the system preference is ignored. */
export function toggleTheme() {
  const next = currentTheme() === 'dark' ? 'light' : 'dark';
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // not remembered, still applied
  }
  apply(next);
}

export function onThemeChange(listener) {
  listeners.push(listener);
}

/** Colours for canvas drawing, read from Bootstrap's variables so both stay in step. */
export function palette() {
  const css = getComputedStyle(html);
  const variable = (name) => css.getPropertyValue(name).trim();
  const text = variable('--bs-body-color');
  const muted = variable('--bs-secondary-color');
  return {
    ...HUES[currentTheme()],
    text,
    muted,
    background: variable('--bs-body-bg'),
    surface: variable('--bs-tertiary-bg'),
    border: variable('--bs-border-color'),
    grid: variable('--bs-border-color-translucent'),
    mean: text,
    bandLine: muted,
    anomaly: '#D55E00',
    lstm: '#CC79A7', // reddish purple: the LSTM's flags (◆), beside the z-score's vermillion ▲
    ratio: '#E69F00',
    forecast: '#009E73', // bluish green: a forecast detector's mean (dashed) and band ahead of the live line
    forecastFill: 'rgba(0, 158, 115, 0.16)',
    ratioFill: 'rgba(230, 159, 0, 0.18)',
    amber: '#E69F00',
    red: '#D55E00',
    onColour: '#000000', // black reads on both amber and vermillion (white fails on amber)
  };
}

// The system's preference counts only while the user has not chosen.
systemDark.addEventListener('change', (event) => {
  if (!stored()) apply(event.matches ? 'dark' : 'light');
});
