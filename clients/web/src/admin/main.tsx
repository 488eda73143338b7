// The admin console: served at /admin by `magpie serve`. For now its
// shell: the sections in a sidebar, the chosen one in the main pane, the
// language and the theme.

import { render } from "preact";
import { useState } from "preact/hooks";
import { Logo } from "../components/Logo";
import { PreferencesForm } from "../components/PreferencesForm";
import { usePreferences } from "../preferences";
import "../styles/index.css";

const SECTIONS = ["overview", "users", "groups", "files"] as const;
type Section = (typeof SECTIONS)[number];

function Admin() {
  const prefs = usePreferences("adminTitle");
  const { t } = prefs;
  const [section, setSection] = useState<Section>("overview");
  // On a narrow screen one pane shows at a time.
  const [pane, setPane] = useState<"list" | "main">("list");
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
        <footer class="sidebar-footer">
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
        <div class="empty-state">
          <p>{t.adminWelcome}</p>
        </div>
      </main>
    </div>
  );
}

const root = document.getElementById("app");
if (root) render(<Admin />, root);
