/** A strict RFC 4180 reader for the export tests: quoted cells, doubled quotes, CRLF rows. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const char = text[i]!;
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        cell += '"';
        i += 2;
      } else if (char === '"') {
        quoted = false;
        i++;
      } else {
        cell += char;
        i++;
      }
    } else if (char === '"' && cell === '') {
      quoted = true;
      i++;
    } else if (char === ',') {
      row.push(cell);
      cell = '';
      i++;
    } else if (char === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i += 2;
    } else if (char === '\n' || char === '\r' || char === '"') {
      throw new Error(`bare ${JSON.stringify(char)} outside quotes at ${i}: the row is broken`);
    } else {
      cell += char;
      i++;
    }
  }
  if (quoted) throw new Error('unterminated quoted cell');
  if (cell !== '' || row.length > 0) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/** What a spreadsheet shows for a cell: one leading apostrophe is hidden. */
export function shownText(cell: string): string {
  return cell.startsWith("'") ? cell.slice(1) : cell;
}
