// The token dialog: asked once for every call that is waiting on it, and only when the service
// said 401. The token stays in sessionStorage: this tab only, gone when it closes.

import { $ } from './dom.js';

let waiting = null;

/** Resolves with what the person entered; `problem` says why the last token did not do. */
export function askForToken(problem, signal) {
  if (!waiting) {
    waiting = new Promise((resolve) => {
      const dialog = $('#token-dialog');
      const form = $('#token-form');
      const input = $('#token-input');
      const error = $('#token-error');
      error.textContent = problem ?? '';
      error.hidden = !problem;
      input.value = '';
      const submitted = (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        form.removeEventListener('submit', submitted);
        dialog.close();
        waiting = null;
        resolve(token);
      };
      form.addEventListener('submit', submitted);
      // Nothing on the page works without it, so Escape does not dismiss the dialog.
      dialog.oncancel = (event) => event.preventDefault();
      dialog.showModal();
      input.focus();
    });
  }
  if (!signal) return waiting;
  // A caller that gives up (its view closed) stops waiting; the dialog stays for the others.
  return Promise.race([
    waiting,
    new Promise((_, reject) => {
      if (signal.aborted) reject(signal.reason);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    }),
  ]);
}
