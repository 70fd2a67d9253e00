/** Previous/next paging of a list: "21–40 of 120", announced politely when it changes. */
export function Pager({
  offset,
  limit,
  count,
  onChange,
  label,
}: {
  offset: number;
  limit: number;
  count: number;
  onChange: (offset: number) => void;
  label: string;
}) {
  const from = count === 0 ? 0 : offset + 1;
  const to = Math.min(offset + limit, count);
  return (
    <nav className="pager" aria-label={label}>
      <span role="status" aria-live="polite">
        {from}–{to} of {count}
      </span>
      <button
        type="button"
        className="secondary"
        disabled={offset === 0}
        onClick={() => onChange(Math.max(0, offset - limit))}
      >
        Previous
      </button>
      <button
        type="button"
        className="secondary"
        disabled={to >= count}
        onClick={() => onChange(offset + limit)}
      >
        Next
      </button>
    </nav>
  );
}
