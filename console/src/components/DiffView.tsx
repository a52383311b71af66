// A side-by-side word diff: the old side shows deleted words struck out, the
// new side inserted words highlighted, field by field.
import type { FieldDiff, VersionDiff } from "../diff";

export function DiffView({ diff, left, right }: { diff: VersionDiff; left: string; right: string }) {
  return (
    <div className="diff" data-testid="diff">
      <p className="muted">
        <span className="added">+{diff.words_added}</span> <span className="removed">−{diff.words_removed}</span> words
      </p>
      {diff.fields.map((f) => (
        <Field key={f.field} field={f} left={left} right={right} />
      ))}
    </div>
  );
}

function Field({ field, left, right }: { field: FieldDiff; left: string; right: string }) {
  if (!field.changed)
    return (
      <details className="field unchanged">
        <summary>
          <code>{field.field}</code> unchanged
        </summary>
        <pre>{field.ops.map((o) => o.text).join("")}</pre>
      </details>
    );
  return (
    <div className="field" data-field={field.field}>
      <h3>
        <code>{field.field}</code>{" "}
        <span className="muted">
          +{field.words_added} −{field.words_removed}
        </span>
      </h3>
      <div className="sides">
        <Side field={field.field} title={left} hide="insert" ops={field.ops} />
        <Side field={field.field} title={right} hide="delete" ops={field.ops} />
      </div>
    </div>
  );
}

/** One side of a field: the old side hides insertions, the new side deletions. */
function Side({ field, title, hide, ops }: { field: string; title: string; hide: "insert" | "delete"; ops: FieldDiff["ops"] }) {
  return (
    <div className="side" aria-label={`${field} in ${title}`}>
      <div className="side-title">{title}</div>
      <pre>
        {ops.map((o, i) =>
          o.op === hide ? null : o.op === "insert" ? <ins key={i}>{o.text}</ins> : o.op === "delete" ? <del key={i}>{o.text}</del> : <span key={i}>{o.text}</span>,
        )}
      </pre>
    </div>
  );
}
