// Every prompt with what is live in each environment (a running split with
// its weights, linking to it) and pending approvals. Three kinds of request however many prompts there
// are: the prompt pages, one bundle per environment, the approval queue.
import { useState, type FormEvent } from "react";
import { ApiError, type Approval, type BundlePrompt, type Kind, type Prompt } from "../api";
import { useSession } from "../session";
import { linkProps, navigate } from "../router";
import { useLoad } from "../useLoad";
import { anyEvent, useLive, useLiveRefresh } from "../useLive";
import { ErrorNote } from "../components/ErrorNote";
import { LiveBadge } from "../live";

export function PromptList() {
  const { api, can } = useSession();
  const [filter, setFilter] = useState("");
  const channel = useLive();
  const { data, error, refresh } = useLoad(async () => {
    const [prompts, envs, approvals] = await Promise.all([
      api.all<Prompt>("/v1/prompts?limit=100"),
      api.environments(),
      api.pendingApprovals(),
    ]);
    const bundles = await Promise.all(envs.map((e) => api.bundle(e.name, channel?.seq(e.name)).then((b) => [e.name, b.prompts] as const)));
    return { prompts, envs, approvals, live: Object.fromEntries(bundles) as Record<string, Record<string, BundlePrompt>> };
  }, [api, channel]);
  // What is live and what waits for approval, as it changes.
  useLiveRefresh(refresh, anyEvent);

  if (error) return <ErrorNote error={error} />;
  if (!data) return <p className="muted">Loading prompts…</p>;
  const shown = data.prompts.filter((p) => `${p.slug} ${p.name}`.toLowerCase().includes(filter.toLowerCase()));
  const pendingOf = (slug: string) => data.approvals.filter((a: Approval) => a.prompt === slug);

  return (
    <section>
      <div className="row">
        <h1>Prompts</h1>
        <span className="spacer" />
        <input
          id="filter"
          className="filter"
          type="search"
          placeholder="Filter (press /)"
          aria-label="Filter prompts"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
      </div>
      {can("write") && <CreatePrompt />}
      {data.prompts.length === 0 ? (
        <p className="muted">No prompts yet.</p>
      ) : (
        <table className="grid" aria-label="Prompts">
          <thead>
            <tr>
              <th>Prompt</th>
              <th>Kind</th>
              {data.envs.map((e) => (
                <th key={e.name}>{e.name}</th>
              ))}
              <th>Approvals</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((p) => (
              <tr key={p.slug} data-testid={`prompt-row-${p.slug}`}>
                <td>
                  <a {...linkProps(`/prompts/${p.slug}`)}>
                    <strong>{p.name}</strong> <code>{p.slug}</code>
                  </a>
                </td>
                <td>{p.kind}</td>
                {data.envs.map((e) => {
                  const live = data.live[e.name]?.[p.slug];
                  return (
                    <td key={e.name} data-testid={`live-${p.slug}-${e.name}`}>
                      <LiveBadge slug={p.slug} env={e.name} version={live?.version} split={live?.experiment?.variants} label={false} />
                    </td>
                  );
                })}
                <td>
                  {pendingOf(p.slug).length > 0 ? (
                    <a className="badge pending" {...linkProps("/approvals")}>
                      {pendingOf(p.slug).length} pending
                    </a>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function CreatePrompt() {
  const { api } = useSession();
  const [open, setOpen] = useState(false);
  const [slug, setSlug] = useState("");
  const [name, setName] = useState("");
  const [kind, setKind] = useState<Kind>("chat");
  const [error, setError] = useState<ApiError | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      await api.post("/v1/prompts", { slug, name: name || slug, kind });
      navigate(`/prompts/${slug}/edit`);
    } catch (err) {
      setError(err instanceof ApiError ? err : new ApiError(0, "unknown", String(err)));
    }
  }

  if (!open)
    return (
      <button className="primary" onClick={() => setOpen(true)}>
        New prompt
      </button>
    );
  return (
    <form className="card inline-form" onSubmit={submit} aria-label="New prompt">
      <label>
        Slug
        <input name="slug" value={slug} onChange={(e) => setSlug(e.target.value)} required autoFocus placeholder="support-bot" />
      </label>
      <label>
        Name
        <input name="name" value={name} onChange={(e) => setName(e.target.value)} placeholder="Support bot" />
      </label>
      <label>
        Kind
        <select name="kind" value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
          <option value="chat">chat</option>
          <option value="text">text</option>
          <option value="snippet">snippet</option>
        </select>
      </label>
      <button type="submit" className="primary">
        Create
      </button>
      <button type="button" className="ghost" onClick={() => setOpen(false)}>
        Cancel
      </button>
      {error && <ErrorNote error={error} />}
    </form>
  );
}
