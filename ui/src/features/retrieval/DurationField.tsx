import { FieldError, fieldInvalid } from "../../components/Problem";
import type { DurationUnit } from "./duration";

/** A duration in hours or days (blank: none), e.g. an index's TTL. */
export function DurationField({
  id,
  label,
  hint,
  amount,
  unit,
  onAmount,
  onUnit,
  error,
  field,
}: {
  id: string;
  label: string;
  hint: string;
  amount: string;
  unit: DurationUnit;
  onAmount: (value: string) => void;
  onUnit: (value: DurationUnit) => void;
  error: unknown;
  field: string;
}) {
  return (
    <div className="duration-field">
      <label htmlFor={id}>{label}</label>
      <div className="duration-inputs">
        <input
          id={id}
          type="number"
          min="0"
          step="any"
          inputMode="decimal"
          value={amount}
          onChange={(e) => onAmount(e.target.value)}
          aria-invalid={fieldInvalid(error, field)}
          aria-describedby={`${id}-hint ${id}-error`}
        />
        <label htmlFor={`${id}-unit`} className="visually-hidden">
          {label}: unit
        </label>
        <select
          id={`${id}-unit`}
          value={unit}
          onChange={(e) => onUnit(e.target.value as DurationUnit)}
        >
          <option value="hours">hours</option>
          <option value="days">days</option>
        </select>
      </div>
      <p id={`${id}-hint`} className="hint">
        {hint}
      </p>
      <FieldError error={error} field={field} id={`${id}-error`} />
    </div>
  );
}
