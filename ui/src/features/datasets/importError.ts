import { isProblem } from "../../api/errors";

/** What a refused import says next to the file field. The API names the first bad row in
 * its message ("row 3: missing field 'input'", field `examples.row 3`), the file itself
 * (`file`: not UTF-8 text) or a duplicate id (`examples.id`, 409): show that message as it
 * is, without the field path in front. */
export function importErrorText(error: unknown): string | null {
  if (!error) return null;
  if (isProblem(error)) {
    const first = Object.values(error.fields)[0];
    return first ?? error.message;
  }
  return error instanceof Error ? error.message : "The import failed.";
}
