/** An evaluation's status as a coloured tag (the word is the information; colour adds to it). */
export function StatusBadge({ status }: { status: string }) {
  const tone =
    status === "Completed"
      ? "done"
      : status === "Running"
        ? "running"
        : status === "Cancelled"
          ? "stopped"
          : "failed";
  return <span className={`status-badge status-${tone}`}>{status}</span>;
}
