import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Loading } from "../../components/Loading";
import { ProblemBanner } from "../../components/Problem";
import { sideBySide, type DiffCell } from "./diff";
import { vname, type Version } from "./types";

function show(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2);
}

function Cell({ cell }: { cell: DiffCell | null }) {
  if (!cell) {
    return (
      <>
        <td className="diff-no" />
        <td className="diff-text diff-empty" />
      </>
    );
  }
  const mark = cell.kind === "removed" ? "−" : cell.kind === "added" ? "+" : " ";
  return (
    <>
      <td className="diff-no">{cell.no}</td>
      <td className={`diff-text diff-${cell.kind}`}>
        <span aria-hidden="true" className="diff-mark">
          {mark}
        </span>
        {cell.kind !== "context" && <span className="visually-hidden">{cell.kind}: </span>}
        {cell.text}
      </td>
    </>
  );
}

/** A side-by-side diff of any two versions: the body line by line (removed on the left,
 * added on the right) and every other field that changed. */
export function DiffSection({ promptId, versions }: { promptId: string; versions: Version[] }) {
  const numbers = versions.map((v) => v.version).sort((a, b) => a - b);
  const last = numbers[numbers.length - 1];
  const [from, setFrom] = useState<number | undefined>(numbers[numbers.length - 2] ?? last);
  const [to, setTo] = useState<number | undefined>(last);
  const diff = useQuery({
    queryKey: ["diff", promptId, from, to],
    enabled: from !== undefined && to !== undefined,
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/prompts/{prompt_id}/diff", {
          params: { path: { prompt_id: promptId }, query: { from: from!, to: to! } },
        }),
      ),
  });

  if (numbers.length === 0) return null;
  const rows = diff.data ? sideBySide(diff.data.body_diff) : [];
  const fields = diff.data ? Object.entries(diff.data.fields) : [];
  const picker = (id: string, label: string, value: number | undefined, set: (n: number) => void) => (
    <div>
      <label htmlFor={id}>{label}</label>
      <select id={id} value={value ?? ""} onChange={(e) => set(Number(e.target.value))}>
        {[...versions]
          .sort((a, b) => b.version - a.version)
          .map((v) => (
            <option key={v.id} value={v.version}>
              {vname(v.version)} ({v.status})
            </option>
          ))}
      </select>
    </div>
  );

  return (
    <section aria-labelledby="diff-heading">
      <h2 id="diff-heading">Compare versions</h2>
      <div className="row narrow">
        {picker("diff-from", "From (left)", from, setFrom)}
        {picker("diff-to", "To (right)", to, setTo)}
      </div>
      <ProblemBanner error={diff.error} />
      {diff.isPending && diff.fetchStatus !== "idle" && <Loading what="Comparing" />}
      {diff.data && (
        <>
          <h3>Body</h3>
          {rows.length === 0 ? (
            <p className="muted">The bodies are identical.</p>
          ) : (
            <div className="diff-scroll">
              <table className="diff">
                <caption className="visually-hidden">
                  Body of {vname(diff.data.from_version)} (left) and{" "}
                  {vname(diff.data.to_version)} (right)
                </caption>
                {/* A fixed layout takes its widths from the first row, whose headers span
                    two columns each: the columns say the line numbers are narrow. */}
                <colgroup>
                  <col className="diff-no-col" />
                  <col />
                  <col className="diff-no-col" />
                  <col />
                </colgroup>
                <thead>
                  <tr>
                    <th scope="col" colSpan={2}>
                      {vname(diff.data.from_version)}
                    </th>
                    <th scope="col" colSpan={2}>
                      {vname(diff.data.to_version)}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((row, i) =>
                    row.type === "hunk" ? (
                      <tr key={i} className="diff-hunk">
                        <td colSpan={4}>
                          Lines from {row.fromLine} (left) and {row.toLine} (right)
                        </td>
                      </tr>
                    ) : (
                      <tr key={i}>
                        <Cell cell={row.left} />
                        <Cell cell={row.right} />
                      </tr>
                    ),
                  )}
                </tbody>
              </table>
            </div>
          )}
          <h3>Other fields</h3>
          {fields.length === 0 ? (
            <p className="muted">No other field changed.</p>
          ) : (
            <table className="changed-fields">
              <caption className="visually-hidden">Changed fields</caption>
              <thead>
                <tr>
                  <th scope="col">Field</th>
                  <th scope="col">{vname(diff.data.from_version)}</th>
                  <th scope="col">{vname(diff.data.to_version)}</th>
                </tr>
              </thead>
              <tbody>
                {fields.map(([name, change]) => (
                  <tr key={name}>
                    <th scope="row">{name}</th>
                    <td>
                      <pre>{show(change.from)}</pre>
                    </td>
                    <td>
                      <pre>{show(change.to)}</pre>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
