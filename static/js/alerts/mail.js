/**
 * The e-mail card: where alarms are sent from and to (whether a password is
 * set, never the password), the outbox's counts and last error, and a test
 * e-mail that shows the SMTP server's own answer. A server without the e-mail
 * routes (404) gets a line saying so, and no more polls.
 */
import { getJSON, postJSON } from '../lib/api.js';
import { createPoller } from '../lib/poller.js';
import { formatWhen } from '../lib/format.js';
import { clearFieldErrors, el, messageOf, say, showRefusal } from '../lib/dom.js';

const EVERY_MS = 10_000;

export function createMailPanel({ url, testUrl }) {
  const $ = (id) => document.getElementById(`alerts-mail-${id}`);
  const ui = {
    unavailable: $('unavailable'), body: $('body'), unconfigured: $('unconfigured'), config: $('config'),
    outbox: $('outbox'), form: $('test-form'), to: $('to'), test: $('test'), status: $('status'),
  };
  let shown = '';

  function pairs(target, rows) {
    target.replaceChildren(...rows.flatMap(([label, value, key]) => {
      const dd = el('dd', null, value);
      dd.dataset.mail = key;
      return [el('dt', null, label), dd];
    }));
  }

  function security(mail) {
    if (mail.use_ssl) return 'SSL';
    if (mail.use_tls) return 'STARTTLS';
    return 'none';
  }

  /** Only the fields named here are shown: whatever else the server sends stays off the screen. */
  function render(mail) {
    const key = JSON.stringify(mail);
    if (key === shown) return;
    shown = key;
    ui.unavailable.hidden = true;
    ui.body.hidden = false;
    ui.unconfigured.hidden = mail.configured !== false;
    ui.unconfigured.textContent = 'Not configured: alarms are not e-mailed. Set the MAIL_* settings of the server.';
    const recipients = mail.recipients ?? [];
    pairs(ui.config, [
      ['Server', mail.server ? `${mail.server}:${mail.port}` : '–', 'server'],
      ['Security', security(mail), 'security'],
      ['Username', mail.username || '–', 'username'],
      ['Password set', mail.password_set ? 'yes' : 'no', 'password_set'],
      ['Sender', mail.sender || '–', 'sender'],
      ['Recipients', recipients.length ? recipients.join(', ') : 'none', 'recipients'],
    ]);
    const box = mail.outbox ?? {};
    const lastError = box.last_error ? `${formatWhen(box.last_error_at)}: ${box.last_error}` : 'none';
    pairs(ui.outbox, [
      ['Queued', `${box.queued ?? 0}${box.oldest_queued_at ? ` (oldest ${formatWhen(box.oldest_queued_at)})` : ''}`, 'queued'],
      ['Sent', String(box.sent ?? 0), 'sent'],
      ['Failed', String(box.failed ?? 0), 'failed'],
      ['Last sent', box.last_sent_at ? formatWhen(box.last_sent_at) : 'never', 'last_sent_at'],
      ['Last error', lastError, 'last_error'],
    ]);
    ui.outbox.querySelector('[data-mail="last_error"]').classList.toggle('text-danger-emphasis', Boolean(box.last_error));
  }

  function unavailable() {
    ui.unavailable.hidden = false;
    ui.body.hidden = true;
  }

  const poller = createPoller(async () => {
    try {
      render(await getJSON(url));
    } catch (err) {
      if (err.status !== 404) throw err;
      unavailable();
      poller.stop();
    }
  }, { interval: EVERY_MS, maxBackoff: 60_000 });

  async function sendTest(event) {
    event.preventDefault();
    clearFieldErrors(ui.form);
    say(ui.status, 'Sending a test e-mail…');
    const to = ui.to.value.split(',').map((a) => a.trim()).filter(Boolean);
    ui.test.disabled = true;
    try {
      const answer = await postJSON(testUrl, to.length ? { to } : {});
      say(ui.status, `✓ Test e-mail sent to ${(answer.to ?? to).join(', ')}.`, 'is-done');
    } catch (err) {
      if (err.status === 404) {
        unavailable();
        say(ui.status, 'E-mail not available on this server.', 'is-error');
      } else if (err.status === 502) say(ui.status, `✗ Not sent: ${messageOf(err)}`, 'is-error');
      else showRefusal(ui.form, ui.status, err);
    } finally {
      ui.test.disabled = false;
      poller.kick();
    }
  }

  ui.form.addEventListener('submit', sendTest);

  return {
    start() {
      poller.start();
    },
  };
}
