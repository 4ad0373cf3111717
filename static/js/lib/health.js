/**
 * The sampler's health on the page: a banner while /healthz is not ok, naming
 * why (a crashed sampler thread and its restarts, failing steps, a silent
 * sampler). An unreachable server is the offline banner's business, not this one's.
 */
import { getJSON } from './api.js';
import { createPoller } from './poller.js';
import { formatWhen } from './format.js';

/** Often enough to see a restart come and go; /healthz is two tiny queries. */
const EVERY_MS = 5000;

/** The banner's sentence for a /healthz body; null when there is nothing to say. */
export function healthText(body) {
  if (!body || body.status === 'ok') return null;
  const restarts = body.sampler_restarts ?? 0;
  const times = `${restarts} restart${restarts === 1 ? '' : 's'} so far`;
  const crash = body.last_crash;
  if (body.error === 'sampler_restarting' && crash) {
    return `Sampler crashed at ${formatWhen(crash.at)} (${crash.error}); restarting — ${times}.`;
  }
  const detail = body.message || body.error || body.status;
  const tail = crash ? ` Last crash ${formatWhen(crash.at)}: ${crash.error} (${times}).` : '';
  return `Sampler ${body.status}: ${detail}.${tail}`;
}

/** Polls `url` and shows `banner` (its text in `textEl`) while the sampler is not healthy. */
export function createHealth(banner, textEl, url) {
  function show(body) {
    const text = healthText(body);
    banner.hidden = text === null;
    textEl.textContent = text ?? '';
  }

  const poller = createPoller(async () => {
    try {
      show(await getJSON(url));
    } catch (err) {
      if (err.status === 0) {
        show(null);
        throw err; // back off while the server is away
      }
      show(err.body ?? { status: 'unhealthy', message: err.message });
    }
  }, { interval: EVERY_MS, maxBackoff: 30000 });

  let timer = null;
  return {
    /** The first look after one interval: a page opened with the server gives its sampler time to start. */
    start() {
      timer ??= setTimeout(() => poller.start(), EVERY_MS);
    },
    stop() {
      clearTimeout(timer);
      timer = null;
      poller.stop();
    },
    show,
  };
}
