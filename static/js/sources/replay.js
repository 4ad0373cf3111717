/**
 * The CSV replay's upload: the chosen file goes to the server (multipart), which
 * checks it whole and keeps it for the replay; the answer (rows, columns, span)
 * or the refusal (400, 413) is shown under the file box.
 */
import { postForm } from '../lib/api.js';
import { clearFieldErrors, messageOf, say, showFieldError } from '../lib/dom.js';
import { formatSpan } from './status.js';

/** `form` holds the file input (name "file") and its URL in data-url; `onUploaded` follows a stored file. */
export function createReplayUpload(form, { onUploaded }) {
  const status = form.querySelector('[role="status"]');
  const send = form.querySelector('button[type="submit"]');

  async function upload(event) {
    event.preventDefault();
    clearFieldErrors(form);
    say(status, '');
    if (!form.elements.file.files.length) {
      showFieldError(form, 'file', 'Choose a CSV file first.');
      return;
    }
    send.disabled = true;
    say(status, 'Uploading…');
    try {
      const file = await postForm(form.dataset.url, new FormData(form));
      const columns = file.columns.length === 1 ? `column ${file.columns[0]}` : `columns ${file.columns.join(', ')}`;
      say(status, `✓ ${file.name}: ${file.rows.toLocaleString()} rows, ${columns}, spanning ${formatSpan(file.span_s)}.`,
        'is-done');
      form.reset();
      onUploaded(file);
    } catch (err) {
      say(status, '');
      if (!showFieldError(form, 'file', messageOf(err))) say(status, messageOf(err), 'is-error');
    } finally {
      send.disabled = false;
    }
  }

  form.addEventListener('submit', upload);
}
