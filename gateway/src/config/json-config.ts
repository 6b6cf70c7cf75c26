/**
 * A config written as JSON (provisioning tools, the bench) parsed with JSON.parse instead of
 * through a YAML document (issue 20: the start-up peak). The YAML library builds a node with
 * ranges for every key and value: for 100 devices x 100 points that is ~60 MB of heap for a
 * 720 KB text, held until the parse ends, and it set the daemon's peak RSS. Valid JSON is valid
 * YAML with the same data, so the result is the same; the YAML document is still built when a
 * message needs a line and column, and any text this cannot take whole goes the YAML way.
 */

/** The data of `text` when it is one JSON object without a repeated key; undefined otherwise. */
export function plainJsonConfig(text: string): { data: Record<string, unknown> } | undefined {
  if (!/^\s*\{/.test(text)) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return undefined; // the YAML parser says what is wrong, with a line and column
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return undefined;
  // JSON.parse keeps the last of two equal keys without a word; YAML (uniqueKeys) refuses them.
  // Members written in the text vs. members the parsed objects hold: fewer means a repeat.
  if (membersInText(text) !== membersInData(data)) return undefined;
  return { data: data as Record<string, unknown> };
}

/** Object members in a valid JSON text: strings followed by a colon. */
export function membersInText(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 0x22) continue; // '"'
    i++;
    while (i < text.length && text.charCodeAt(i) !== 0x22) i += text.charCodeAt(i) === 0x5c ? 2 : 1; // '\\' escapes one
    let j = i + 1;
    while (j < text.length && (text[j] === ' ' || text[j] === '\n' || text[j] === '\r' || text[j] === '\t')) j++;
    if (text[j] === ':') n++;
  }
  return n;
}

/** Object members in parsed JSON data; a work list, not recursion: depth is the sender's choice. */
export function membersInData(root: unknown): number {
  let n = 0;
  const todo: unknown[] = [root];
  while (todo.length > 0) {
    const v = todo.pop();
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const x of v) todo.push(x);
      continue;
    }
    for (const k of Object.keys(v)) {
      n++;
      todo.push((v as Record<string, unknown>)[k]);
    }
  }
  return n;
}
