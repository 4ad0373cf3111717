// A classic (blocking) script in <head>: the theme is set before the first paint, so a dark room never
// gets a white flash. theme.js owns the toggle. An external file, so the CSP needs no inline script.
(() => {
  let chosen = null;
  try { chosen = localStorage.getItem('linewatch-theme'); } catch { /* storage disabled */ }
  document.documentElement.dataset.bsTheme =
    chosen || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light');
})();
