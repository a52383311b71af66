/** A select of version numbers, shown as v1, v2, … */
export function VersionSelect({ label, value, numbers, onChange }: { label: string; value: number; numbers: number[]; onChange: (n: number) => void }) {
  return (
    <select aria-label={label} value={value} onChange={(e) => onChange(Number(e.target.value))}>
      {numbers.map((n) => (
        <option key={n} value={n}>
          v{n}
        </option>
      ))}
    </select>
  );
}
