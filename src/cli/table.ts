/**
 * @module cli/table
 * The plain-text tables benchmark commands print: columns padded to their widest cell, two
 * spaces apart, a dashed rule under the header; the first `leftColumns` columns (names) are
 * left-aligned, the rest (figures) right-aligned.
 */
export function formatTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  leftColumns = 1,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) =>
    widths
      .map((w, i) => (i < leftColumns ? (r[i] ?? '').padEnd(w) : (r[i] ?? '').padStart(w)))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
