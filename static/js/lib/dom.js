/**
 * Small DOM helpers that the Alarms panel's modules share: building
 * elements, status lines, a server's refusal beside the field it names, and
 * datetime-local values as epoch seconds.
 */
import { formatWhen } from './format.js';

/** A new element with a class and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

/** A button of `type` button. */
export function button(text, className, onClick) {
  const node = el('button', className, text);
  node.type = 'button';
  if (onClick) node.addEventListener('click', onClick);
  return node;
}

/** A one-line status under a form or an item; `tone` is is-error, is-done or nothing. */
export function say(target, text, tone = '') {
  target.textContent = text;
  target.className = `lstm-status small ${tone}`.trim();
}

/** The message of a failed request: the server's own words where it gave some. */
export function messageOf(err) {
  return err.body?.message ?? err.message;
}

export function clearFieldErrors(form) {
  for (const input of form.querySelectorAll('[data-field]')) {
    input.classList.remove('is-invalid');
    input.removeAttribute('aria-invalid');
  }
  for (const error of form.querySelectorAll('[data-error-for]')) {
    error.textContent = '';
    error.hidden = true;
  }
}

/** Shows `message` beside the field of `form` named `field`; false if the form has no such field. */
export function showFieldError(form, field, message) {
  const input = field ? form.querySelector(`[data-field="${field}"]`) : null;
  const error = field ? form.querySelector(`[data-error-for="${field}"]`) : null;
  if (!input || !error) return false;
  input.classList.add('is-invalid');
  input.setAttribute('aria-invalid', 'true');
  error.textContent = message;
  error.hidden = false;
  return true;
}

/** A refusal ({message, field}) beside its field, else in `status`. */
export function showRefusal(form, status, err) {
  const message = messageOf(err);
  if (!showFieldError(form, err.body?.field, message)) say(status, message, 'is-error');
}

/** An error for a field that the page refuses before asking the server. */
export function fieldProblem(field, message) {
  const err = new Error(message);
  err.body = { field, message };
  return err;
}

/** A datetime-local value (the viewer's time zone) as epoch seconds, or null. */
export function epochOf(text) {
  if (!text) return null;
  const millis = new Date(text).getTime();
  return Number.isNaN(millis) ? null : Math.floor(millis / 1000);
}

/** Epoch seconds as a datetime-local value in the viewer's time zone (to the minute). */
export function localInput(seconds) {
  const date = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`
    + `T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** The server writes instants inside reasons as epoch seconds ("shelved by Ada until 1795693531"): made readable. */
export function readable(text) {
  if (!text) return text;
  return text.replace(/\b(until|at|from|to) (\d{9,11})(\.\d+)?\b/g, (_, word, seconds) => `${word} ${formatWhen(Number(seconds))}`);
}
