// The admin console: served at /admin by `magpie serve`. An administrator
// signs in (anyone else is refused), then works in the sections of the
// sidebar: live figures, users, departments, groups. On a narrow screen
// one pane shows at a time.

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { Logo } from "../components/Logo";
import { PreferencesForm } from "../components/PreferencesForm";
import { usePreferences } from "../preferences";
import { PreferencesContext, usePrefs } from "../views/context";
import { Departments } from "./Departments";
import { Groups } from "./Groups";
import { Overview } from "./Overview";
import { AdminSignIn } from "./SignIn";
import { Users } from "./Users";
import { admin, connection, restore, restoring, signOut } from "./session";
import "../styles/core.css";
import "../styles/admin.css";

const SECTIONS = ["overview", "users", "departments", "groups", "files"] as const;
type Section = (typeof SECTIONS)[number];

function Admin() {
  const prefs = usePreferences("adminTitle");
  useEffect(() => {
    void restore();
  }, []);
  const client = admin.value;
  return (
    <PreferencesContext.Provider value={prefs}>
      {restoring.value ? null : client === undefined ? <AdminSignIn /> : <Console />}
    </PreferencesContext.Provider>
  );
}

function Console() {
  const prefs = usePrefs();
  const { t } = prefs;
  const [section, setSection] = useState<Section>("overview");
  // On a narrow screen one pane shows at a time.
  const [pane, setPane] = useState<"list" | "main">("list");
  const session = admin.value?.session;
  const state = connection.value;
  return (
    <div class="layout" data-pane={pane}>
      <aside class="sidebar" aria-label={t.navigation}>
        <header class="sidebar-header">
          <Logo />
          <h1 class="brand">{t.adminName}</h1>
        </header>
        <nav class="list" aria-label={t.navigation}>
          <ul class="nav">
            {SECTIONS.map((s) => (
              <li key={s}>
                <button
                  type="button"
                  class="nav-item"
                  aria-current={s === section ? "page" : undefined}
                  onClick={() => {
                    setSection(s);
                    setPane("main");
                  }}
                >
                  {t[s]}
                </button>
              </li>
            ))}
          </ul>
        </nav>
        <footer class="sidebar-footer admin-footer">
          <p class="admin-me">
            {t.adminSignedInAs} <strong>{session?.user ?? ""}</strong>
          </p>
          <button type="button" class="admin-button" onClick={() => void signOut()}>
            {t.signOut}
          </button>
          <PreferencesForm prefs={prefs} />
        </footer>
      </aside>
      <main class="main">
        <header class="main-header">
          <button type="button" class="back" onClick={() => setPane("list")}>
            {t.back}
          </button>
          <h2>{t[section]}</h2>
        </header>
        {state === "reconnecting" || state === "connecting" ? (
          <div class="banner" role="status" aria-live="polite">
            <span>{t.reconnecting}</span>
          </div>
        ) : null}
        <div class="admin-body">
          {section === "overview" && <Overview />}
          {section === "users" && <Users />}
          {section === "departments" && <Departments />}
          {section === "groups" && <Groups />}
          {section === "files" && (
            <div class="empty-state">
              <p>{t.adminWelcome}</p>
            </div>
          )}
        </div>
      </main>
    </div>
  );
}

const root = document.getElementById("app");
if (root) render(<Admin />, root);
