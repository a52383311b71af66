import { ApiError } from "../api";

/** What a page says for an error code instead of the API's message (pages branch on codes, never on messages). */
export type Explain = Partial<Record<string, string | ((e: ApiError) => string)>>;

/** An API error as the user should read it: the message (or the page's words for its code), and its stable code. */
export function ErrorNote({ error, explain }: { error: Error; explain?: Explain }) {
  const own = error instanceof ApiError ? explain?.[error.code] : undefined;
  const text = own === undefined ? error.message : typeof own === "function" ? own(error as ApiError) : own;
  return (
    <p className="error" role="alert">
      {text}
      {error instanceof ApiError && <code className="code">{error.code}</code>}
    </p>
  );
}

/** Anything thrown, as an Error for ErrorNote. */
export const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));
