/**
 * An argv as one line a person can read back, for the log's "started pid N:"
 * line: plain words as they are, others in single quotes as a shell would
 * take them, and a word with a control character (a newline in `python3 -c`
 * code) as a JSON string, so the command never spans lines of the log (a
 * continuation line "started pid 9" would pass for a restart in `logs`).
 */
export function commandLine(argv: readonly string[]): string {
  let line = "";
  for (const word of argv) {
    if (line !== "") line += " ";
    if (/^[A-Za-z0-9._\/:=@%+,-]+$/.test(word)) line += word;
    else if (/[\x00-\x1f\x7f\u0085\u2028\u2029]/.test(word)) line += JSON.stringify(word);
    else line += `'${word.replaceAll("'", `'\\''`)}'`;
  }
  return line;
}
