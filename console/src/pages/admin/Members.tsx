// Members: the people (by email) and Cloudflare Access groups who may sign
// in to the workspace, each with a role and whether notifications reach
// them. Admins invite, change a role or the subscription, and remove (after
// a confirm step); the API refuses to leave the workspace without an admin
// member (409 conflict), and the page says so.
import { useEffect, useState, type FormEvent } from "react";
import { ROLES, type Member, type Role } from "../../api";
import { useSession } from "../../session";
import { useLoad } from "../../useLoad";
import { when } from "../../format";
import { ErrorNote, asError, type Explain } from "../../components/ErrorNote";
import { ConfirmButton } from "../../components/Confirm";

/** How the page names a member: the email, or the group. */
export const memberName = (m: Pick<Member, "email" | "group">) => m.email ?? `group ${m.group ?? "?"}`;

const LAST_ADMIN: Explain = {
  conflict: "The workspace needs at least one admin member: make someone else an admin first.",
  not_found: "That member was removed meanwhile.",
};

export function Members() {
  const { api } = useSession();
  const loaded = useLoad(() => api.members(), [api]);
  const [outcome, setOutcome] = useState<{ ok?: string; error?: Error } | null>(null);
  // Changes on their way to the API, shown meanwhile; a refused one goes back.
  const [pending, setPending] = useState<Record<string, Partial<Member>>>({});
  useEffect(() => setPending({}), [loaded.data]);

  async function act(what: () => Promise<string>, undo?: () => void) {
    setOutcome(null);
    try {
      setOutcome({ ok: await what() });
    } catch (e) {
      undo?.();
      setOutcome({ error: asError(e) });
    }
    loaded.reload();
  }

  function change(m: Member, patch: Partial<Pick<Member, "role" | "subscribed">>, done: string) {
    setPending((p) => ({ ...p, [m.id]: { ...p[m.id], ...patch } }));
    return act(
      async () => {
        await api.updateMember(m.id, patch);
        return done;
      },
      () =>
        setPending((p) => {
          const { [m.id]: _, ...rest } = p;
          return rest;
        }),
    );
  }
  const setRole = (m: Member, role: Role) => change(m, { role }, `${memberName(m)} is now ${/^[aeiou]/.test(role) ? "an" : "a"} ${role}.`);
  const setSubscribed = (m: Member, subscribed: boolean) =>
    change(m, { subscribed }, subscribed ? `${memberName(m)} gets notifications.` : `${memberName(m)} no longer gets notifications.`);
  const remove = (m: Member) =>
    act(async () => {
      await api.removeMember(m.id);
      return `${memberName(m)} was removed.`;
    });

  return (
    <section>
      <h1>Members</h1>
      <p className="muted">People and Cloudflare Access groups who sign in to this workspace, and the role each has.</p>
      <InviteForm onInvited={(m) => (setOutcome({ ok: `${memberName(m)} was invited as ${m.role}.` }), loaded.reload())} />
      {outcome?.ok && (
        <p className="notice" role="status">
          {outcome.ok}
        </p>
      )}
      {outcome?.error && <ErrorNote error={outcome.error} explain={LAST_ADMIN} />}
      {loaded.error && <ErrorNote error={loaded.error} />}
      {!loaded.data && !loaded.error && <p className="muted">Loading members…</p>}
      {loaded.data &&
        (loaded.data.length === 0 ? (
          <p className="muted">No members yet: only API keys sign in.</p>
        ) : (
          <table className="grid" aria-label="Members">
            <thead>
              <tr>
                <th>Member</th>
                <th>Display name</th>
                <th>Role</th>
                <th>Notifications</th>
                <th>Added</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {loaded.data.map((stored) => {
                const m = { ...stored, ...pending[stored.id] };
                const who = memberName(m);
                return (
                  <tr key={m.id} data-testid={`member-${m.email ?? m.group}`}>
                    <td>
                      {m.email ? m.email : <><span className="badge">group</span> {m.group}</>}
                    </td>
                    <td>{m.display_name}</td>
                    <td>
                      <select aria-label={`Role of ${who}`} value={m.role} onChange={(e) => setRole(m, e.target.value as Role)}>
                        {ROLES.map((r) => (
                          <option key={r} value={r}>
                            {r}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td>
                      <label>
                        <input
                          type="checkbox"
                          aria-label={`${who} is subscribed to notifications`}
                          checked={m.subscribed}
                          onChange={(e) => setSubscribed(m, e.target.checked)}
                        />
                        subscribed
                      </label>
                    </td>
                    <td className="muted">
                      {m.created_by}, {when(m.created_at)}
                    </td>
                    <td>
                      <ConfirmButton
                        label="Remove"
                        ariaLabel={`Remove ${who}`}
                        question={`Remove ${who} from the workspace?`}
                        confirmLabel="Yes, remove"
                        onConfirm={() => remove(m)}
                      />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        ))}
    </section>
  );
}

function InviteForm({ onInvited }: { onInvited: (m: Member) => void }) {
  const { api } = useSession();
  const [kind, setKind] = useState<"email" | "group">("email");
  const [address, setAddress] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [role, setRole] = useState<Role>("reader");
  const [subscribed, setSubscribed] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    const who = address.trim();
    setBusy(true);
    setError(null);
    try {
      const m = await api.invite({
        ...(kind === "email" ? { email: who } : { group: who }),
        role,
        subscribed,
        ...(displayName.trim() ? { display_name: displayName.trim() } : {}),
      });
      // A fresh form for the next invite.
      setAddress("");
      setDisplayName("");
      setRole("reader");
      setSubscribed(false);
      onInvited(m);
    } catch (err) {
      setError(asError(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="card" onSubmit={submit} aria-label="Invite a member">
      <h2>Invite</h2>
      <div className="inline-form">
        <fieldset className="plain">
          <legend className="sr-only">Invite by</legend>
          <label>
            <input type="radio" name="member-kind" checked={kind === "email"} onChange={() => setKind("email")} />
            Email
          </label>
          <label>
            <input type="radio" name="member-kind" checked={kind === "group"} onChange={() => setKind("group")} />
            Access group
          </label>
        </fieldset>
        <label>
          {kind === "email" ? "Email address" : "Group name"}
          <input
            name="address"
            type={kind === "email" ? "email" : "text"}
            required
            value={address}
            onChange={(e) => setAddress(e.target.value)}
            placeholder={kind === "email" ? "alice@example.com" : "engineering"}
          />
        </label>
        <label>
          Display name
          <input name="display_name" value={displayName} onChange={(e) => setDisplayName(e.target.value)} placeholder="(optional)" />
        </label>
        <label>
          Role
          <select name="role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" name="subscribed" checked={subscribed} onChange={(e) => setSubscribed(e.target.checked)} />
          Subscribed to notifications
        </label>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Inviting…" : "Invite"}
        </button>
      </div>
      {error && (
        <ErrorNote
          error={error}
          explain={{
            already_exists: `${address.trim() || "That member"} is already a member of this workspace.`,
          }}
        />
      )}
    </form>
  );
}
