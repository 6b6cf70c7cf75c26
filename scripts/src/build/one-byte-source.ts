/**
 * V8 keeps every loaded module's source text in the heap, as one-byte (Latin-1) characters when
 * it can and as two-byte (UTF-16) as soon as the text holds one character above U+00FF. esbuild
 * escapes such characters in strings and templates (charset ascii) but leaves them in regular
 * expression literals, so one `/с|со/` made the web UI's 474 KB chunk cost 948 KB of heap on
 * every box. The build fails on such a chunk, naming the file and the place to escape (`\u0441`).
 */
export interface TwoByteSpot {
  /** Character offset in the chunk. */
  offset: number;
  /** The character, as \uXXXX. */
  char: string;
  /** The text around it, to find the source line. */
  context: string;
}

/** The first character that would make V8 store `text` two-byte, or null when it stays one-byte. */
export function firstTwoByteChar(text: string): TwoByteSpot | null {
  const m = /[^\x00-\xff]/.exec(text);
  if (!m) return null;
  const code = text.charCodeAt(m.index);
  return {
    offset: m.index,
    char: `\\u${code.toString(16).padStart(4, '0')}`,
    context: text.slice(Math.max(0, m.index - 60), m.index + 20),
  };
}

/** Throws naming every chunk whose source V8 would hold two-byte. */
export function assertOneByteSources(chunks: Iterable<[name: string, text: string]>): void {
  const bad: string[] = [];
  for (const [name, text] of chunks) {
    const spot = firstTwoByteChar(text);
    if (spot) bad.push(`${name}: ${spot.char} at offset ${spot.offset} in ${JSON.stringify(spot.context)}`);
  }
  if (bad.length > 0) {
    throw new Error(
      `bundled code with characters above U+00FF (V8 would keep the whole chunk's source as two-byte, twice the heap); escape them in the source (e.g. /\\u0441/ in a regular expression):\n  ${bad.join('\n  ')}`,
    );
  }
}
