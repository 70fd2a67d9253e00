/** The non-blank lines of a text box, trimmed (paths, URLs, globs: one per line). */
export function lines(text: string): string[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");
}
