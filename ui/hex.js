// A message's bytes two ways, side by side: as text, and as a hex dump with its ASCII gutter.

/** The bytes of a message as the API sends them (`encoding` utf8 or base64). */
export function messageBytes(message) {
  if (message.encoding === 'base64') {
    const binary = atob(message.data);
    const bytes = new Uint8Array(binary.length);
    for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
    return bytes;
  }
  return new TextEncoder().encode(message.data);
}

const decoder = new TextDecoder('utf-8', { fatal: false });

const escapes = { 0x00: '\\0', 0x07: '\\a', 0x08: '\\b', 0x0b: '\\v', 0x0c: '\\f', 0x0d: '\\r', 0x1b: '\\e', 0x7f: '\\x7f' };

/**
 * The bytes as UTF-8 text (invalid sequences as U+FFFD), in runs: `['text', '...']` and
 * `['escape', '\\r']` for each control character, so a CR or a NUL is seen, not lost, and can
 * be drawn apart from text that happens to hold a backslash. Line feeds and tabs stay as they
 * are, so lines read as lines.
 */
export function textRuns(bytes) {
  const text = decoder.decode(bytes);
  const runs = [];
  let start = 0;
  for (const match of text.matchAll(/[\u0000-\u0008\u000b-\u001f\u007f]/g)) {
    if (match.index > start) runs.push(['text', text.slice(start, match.index)]);
    const code = match[0].charCodeAt(0);
    runs.push(['escape', escapes[code] ?? `\\x${code.toString(16).padStart(2, '0')}`]);
    start = match.index + 1;
  }
  if (start < text.length) runs.push(['text', text.slice(start)]);
  return runs;
}

const hexDigits = Array.from({ length: 256 }, (_, value) => value.toString(16).padStart(2, '0'));

/** `0000  48 65 6c 6c 6f 20 66 72  6f 6d 20 73 65 72 76 65  |Hello from serve|`, a line per 16 bytes. */
export function hexDump(bytes) {
  const width = Math.max(4, (bytes.length - 1).toString(16).length);
  const lines = [];
  for (let offset = 0; offset < bytes.length; offset += 16) {
    let hex = '';
    let ascii = '';
    for (let index = 0; index < 16; index += 1) {
      if (index === 8) hex += ' ';
      const position = offset + index;
      if (position < bytes.length) {
        const byte = bytes[position];
        hex += `${hexDigits[byte]} `;
        ascii += byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : '.';
      } else {
        hex += '   ';
      }
    }
    lines.push(`${offset.toString(16).padStart(width, '0')}  ${hex} |${ascii}|`);
  }
  return lines.join('\n');
}
