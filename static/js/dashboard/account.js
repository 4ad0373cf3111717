/**
 * Who the dashboard acts for: "ada (admin) · Sign out" once accounts exist, or a note that the app is in
 * its local-only mode. A viewer's page says that changes are refused, so a refused click is no surprise.
 */
import { getJSON, postJSON } from '../lib/api.js';

export function createAccount(box) {
  const label = box.querySelector('[data-field="who"]');
  const signOut = box.querySelector('button');
  signOut.addEventListener('click', async () => {
    await postJSON(box.dataset.logoutUrl, {});
    window.location.assign(box.dataset.loginUrl);
  });
  return {
    async start() {
      const me = await getJSON(box.dataset.meUrl);
      if (!me.accounts) {
        label.textContent = me.local ? 'local mode' : 'read-only (no accounts)';
        label.title = 'No user accounts exist: changes are accepted only from 127.0.0.1 (flask user create).';
        signOut.hidden = true;
      } else {
        label.textContent = `${me.user} (${me.role})`;
        label.title = me.role === 'viewer' ? 'A viewer sees everything and changes nothing.' : '';
        signOut.hidden = false;
      }
      box.hidden = false;
    },
  };
}
