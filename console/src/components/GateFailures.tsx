// A 422 from promotion or approval: each failing gate with what was
// measured and the threshold it needed.
import { ApiError, type GateFailure } from "../api";
import { ErrorNote } from "./ErrorNote";

export function OutcomeError({ error }: { error: Error }) {
  if (!(error instanceof ApiError) || error.code !== "gates_failed") return <ErrorNote error={error} />;
  const failures = (error.details.failures ?? []) as GateFailure[];
  return (
    <div className="error-box" role="alert" data-testid="gates-failed">
      <strong>
        The gates of {String(error.details.environment)} refused this version (measured in {String(error.details.measured_in)})
      </strong>
      <table className="grid">
        <thead>
          <tr>
            <th>Gate</th>
            <th>Measured</th>
            <th>Threshold</th>
          </tr>
        </thead>
        <tbody>
          {failures.map((f) => (
            <tr key={f.gate} data-gate={f.gate}>
              <td>
                <code>{f.gate}</code>
              </td>
              <td>{f.measured == null ? "nothing measured yet" : String(Number(f.measured.toPrecision(4)))}</td>
              <td>{String(f.threshold)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
