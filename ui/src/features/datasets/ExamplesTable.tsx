import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { DataValue } from "../../components/DataValue";
import { Loading } from "../../components/Loading";
import { Pager } from "../../components/Pager";
import { ProblemBanner } from "../../components/Problem";

const PAGE = 25;

/** The dataset's examples, a page at a time: id, input, expected, metadata. */
export function ExamplesTable({ datasetId }: { datasetId: string }) {
  const [offset, setOffset] = useState(0);
  const examples = useQuery({
    queryKey: ["examples", datasetId, offset],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/datasets/{dataset_id}/examples", {
          params: { path: { dataset_id: datasetId }, query: { offset, limit: PAGE } },
        }),
      ),
    placeholderData: (previous) => previous,
  });
  if (examples.isPending) return <Loading what="Loading examples" />;
  if (examples.error) return <ProblemBanner error={examples.error} />;
  const page = examples.data;
  if (!page || page.count === 0) return <p className="muted">No examples yet: import a file.</p>;
  return (
    <>
      <table className="examples">
        <caption className="visually-hidden">Examples</caption>
        <thead>
          <tr>
            <th scope="col" className="num">
              #
            </th>
            <th scope="col">Id</th>
            <th scope="col">Input</th>
            <th scope="col">Expected</th>
            <th scope="col">Metadata</th>
          </tr>
        </thead>
        <tbody>
          {page.data.map((e) => (
            <tr key={e.id}>
              <td className="num">{e.position + 1}</td>
              <td>
                <code>{e.external_id}</code>
              </td>
              <td>
                <DataValue value={e.input} />
              </td>
              <td>
                <DataValue value={e.expected} />
              </td>
              <td>
                <DataValue value={Object.keys(e.metadata).length ? e.metadata : null} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager
        offset={offset}
        limit={PAGE}
        count={page.count}
        onChange={setOffset}
        label="Pages of examples"
      />
    </>
  );
}
