import { ApiError } from "../api";

/** An API error as the user should read it: the message, and its stable code. */
export function ErrorNote({ error }: { error: Error }) {
  return (
    <p className="error" role="alert">
      {error.message}
      {error instanceof ApiError && <code className="code">{error.code}</code>}
    </p>
  );
}
