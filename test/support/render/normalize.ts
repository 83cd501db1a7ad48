/**
 * Normalizes `nft list` text so two listings of the same table compare equal even
 * where byte identity is not worth having: what differs between a fresh render and
 * a live kernel (handles, owner comments, counter values) and what only depends on
 * the kernel's hash order (the order of elements, and so where nft wraps the list).
 */

/**
 * Returns the listing with: `# handle N` and `# progname X` comments removed; counter
 * values set to 0; each element list joined onto one line and its elements sorted;
 * every line trimmed, runs of blanks collapsed to one space, and blank lines dropped.
 */
export function normalize(text: string): string {
  const joined = text.replace(/elements = \{[^}]*\}/g, (list) => sortElements(list));
  return joined
    .split('\n')
    .map((line) => line.replace(/\s+# (handle \d+|progname \S+)\s*$/, ''))
    .map((line) => line.replace(/counter packets \d+ bytes \d+/g, 'counter packets 0 bytes 0'))
    .map((line) => line.replace(/[ \t]+/g, ' ').trim())
    .filter((line) => line !== '')
    .join('\n');
}

/** One `elements = { ... }` list, possibly wrapped over lines, as one sorted line. */
function sortElements(list: string): string {
  const inner = list.slice(list.indexOf('{') + 1, list.lastIndexOf('}'));
  const items = splitTopLevel(inner).map((item) => item.replace(/\s+/g, ' ').trim());
  return `elements = { ${items.filter(Boolean).sort().join(', ')} }`;
}

/** Splits on commas that are not inside a quoted interface name. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '"') quoted = !quoted;
    else if (text[i] === ',' && !quoted) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}
