// How numbers and times read on the page.

const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function bytes(count) {
  if (count === null || count === undefined) return '';
  let value = Number(count);
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function count(value) {
  return value === null || value === undefined ? '' : Number(value).toLocaleString('en-US');
}

/** The API's RFC 3339 UTC times as "2026-11-26 04:09:14.508": sortable, and no time zone guessed. */
export function time(text) {
  return text ? text.replace('T', ' ').replace('Z', '') : '';
}

/** "04:09:14.508": the time of day alone, where the date is the same all down a column. */
export function clock(text) {
  return text ? text.slice(11, 23) : '';
}

/** A session's peer in a word: the listener it came to, or the name it was opened under. */
export function origin(session) {
  if (session.listener) return session.listener;
  return session.name ?? '';
}
