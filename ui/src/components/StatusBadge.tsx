// A status as a small labelled badge; the word is always written out (never colour alone).

const TONES: Record<string, string> = {
  // approvals and versions
  Draft: "neutral",
  Checking: "info",
  Pending: "info",
  Approved: "good",
  Rejected: "bad",
  Expired: "neutral",
  CheckFailed: "bad",
  // deployments
  Running: "info",
  Paused: "warn",
  Promoted: "good",
  RolledBack: "bad",
  Aborted: "warn",
};

const WORDS: Record<string, string> = { CheckFailed: "Check failed", RolledBack: "Rolled back" };

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge badge-${TONES[status] ?? "neutral"}`}>{WORDS[status] ?? status}</span>
  );
}
