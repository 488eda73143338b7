// The chat app: served at / by `magpie serve` (see build.mjs and
// crates/magpie-server/src/web.rs). For now an app shell: the two panes,
// the language and the theme.

import { render } from "preact";
import { Logo } from "./components/Logo";
import { PreferencesForm } from "./components/PreferencesForm";
import { usePreferences } from "./preferences";
import "./styles/index.css";

function App() {
  const prefs = usePreferences("productName");
  const { t } = prefs;
  return (
    <div class="layout" data-pane="list">
      <aside class="sidebar" aria-label={t.chats}>
        <header class="sidebar-header">
          <Logo />
          <h1 class="brand">{t.productName}</h1>
        </header>
        <div class="search">
          <label class="visually-hidden" for="chat-search">
            {t.searchLabel}
          </label>
          <input id="chat-search" type="search" placeholder={t.searchPlaceholder} autocomplete="off" />
        </div>
        <nav class="list" aria-label={t.chats}>
          <p class="empty">{t.noChats}</p>
        </nav>
        <footer class="sidebar-footer">
          <PreferencesForm prefs={prefs} />
        </footer>
      </aside>
      <main class="main">
        <div class="empty-state">
          <p>{t.pickChat}</p>
        </div>
      </main>
    </div>
  );
}

const root = document.getElementById("app");
if (root) render(<App />, root);
