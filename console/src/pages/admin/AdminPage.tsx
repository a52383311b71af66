// The admin pages (admins only; the nav shows "Admin" to them alone): one
// tab each for members, API keys, environments, webhooks, settings and the
// audit trail. This module loads when an admin first opens one of them.
import { ADMIN_SECTIONS, linkProps, type AdminSection } from "../../router";
import { Members } from "./Members";
import { Keys } from "./Keys";
import { Environments } from "./Environments";
import { Webhooks } from "./Webhooks";
import { SettingsPage } from "./Settings";
import { Audit } from "./Audit";

const TITLES: Record<AdminSection, string> = {
  members: "Members",
  keys: "API keys",
  environments: "Environments",
  webhooks: "Webhooks",
  settings: "Settings",
  audit: "Audit trail",
};

export default function AdminPage({ section, params }: { section: AdminSection; params: URLSearchParams }) {
  return (
    <section>
      <p className="crumbs">Admin</p>
      <nav className="tabs" aria-label="Admin">
        {ADMIN_SECTIONS.map((s) => (
          <a key={s} {...linkProps(`/admin/${s}`)} aria-current={s === section ? "page" : undefined}>
            {TITLES[s]}
          </a>
        ))}
      </nav>
      {section === "members" && <Members />}
      {section === "keys" && <Keys />}
      {section === "environments" && <Environments />}
      {section === "webhooks" && <Webhooks />}
      {section === "settings" && <SettingsPage />}
      {/* Keyed by its filters: new filters start a new trail. */}
      {section === "audit" && <Audit key={params.toString()} params={params} />}
    </section>
  );
}
