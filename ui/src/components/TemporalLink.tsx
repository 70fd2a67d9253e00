import { useMe } from "../auth/me";

/** A link to a workflow in the Temporal Web UI (opens in a new tab). */
export function TemporalLink({ workflowId, label }: { workflowId: string; label?: string }) {
  const me = useMe();
  if (!me.data) return null;
  const url =
    `${me.data.temporal_ui_url}/namespaces/${encodeURIComponent(me.data.temporal_namespace)}` +
    `/workflows/${encodeURIComponent(workflowId)}`;
  return (
    <a href={url} target="_blank" rel="noreferrer">
      {label ?? "Open in Temporal UI"}
      <span className="visually-hidden"> (opens in a new tab)</span>
    </a>
  );
}
