/** A version's status (Draft, Pending, Approved, Rejected) as a coloured badge with its
 * name in text. */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`status status-${status.toLowerCase()}`}>{status}</span>;
}
