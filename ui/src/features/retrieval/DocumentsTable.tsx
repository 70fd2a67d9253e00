import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { Loading } from "../../components/Loading";
import { Pager } from "../../components/Pager";
import { ProblemBanner } from "../../components/Problem";
import { ScrollRegion } from "../../components/ScrollRegion";
import { formatTime } from "../../components/time";

const PAGE = 25;

/** The index's documents, a page at a time: source, title, chunks, near-duplicate chunks
 * dropped, when ingested and when they expire. */
export function DocumentsTable({ indexId }: { indexId: string }) {
  const [offset, setOffset] = useState(0);
  const documents = useQuery({
    queryKey: ["retrieval-documents", indexId, offset],
    queryFn: async () =>
      unwrap(
        await api.GET("/api/v1/retrieval/indexes/{index_id}/documents", {
          params: { path: { index_id: indexId }, query: { offset, limit: PAGE } },
        }),
      ),
    placeholderData: (previous) => previous,
  });
  if (documents.isPending) return <Loading what="Loading documents" />;
  if (documents.error) return <ProblemBanner error={documents.error} />;
  const page = documents.data;
  if (!page || page.count === 0) return <p className="muted">No documents yet: ingest a source.</p>;
  return (
    <>
      <ScrollRegion label="Documents table">
        <table className="documents">
          <caption className="visually-hidden">Documents</caption>
          <thead>
            <tr>
              <th scope="col">Source</th>
              <th scope="col">Title</th>
              <th scope="col" className="num">
                Chunks
              </th>
              <th scope="col" className="num">
                Duplicates
              </th>
              <th scope="col">Ingested</th>
              <th scope="col">Expires</th>
            </tr>
          </thead>
          <tbody>
            {page.data.map((d) => (
              <tr key={d.id}>
                <td className="mono small source">{d.source}</td>
                <td>{d.title}</td>
                <td className="num">{d.chunk_count}</td>
                <td className="num">{d.duplicate_chunks}</td>
                <td className="nowrap">{formatTime(d.ingested_at)}</td>
                <td className="nowrap">{d.expires_at ? formatTime(d.expires_at) : "never"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </ScrollRegion>
      <Pager
        offset={offset}
        limit={PAGE}
        count={page.count}
        onChange={setOffset}
        label="Pages of documents"
      />
    </>
  );
}
