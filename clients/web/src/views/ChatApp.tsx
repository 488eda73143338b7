// The signed-in app: the list beside the open chat (one pane at a time on
// a phone), the connection banner, a box to start a chat with someone by
// username, and the unread count in the tab's title.

import { useEffect, useRef, useState } from "preact/hooks";
import type { Dictionary } from "../i18n";
import type { Chats } from "../model/chats";
import { driveOf } from "../model/drive";
import { signOut } from "../model/session";
import { PreferencesForm } from "../components/PreferencesForm";
import { Banner } from "./Banner";
import { ChatList, isMuted } from "./ChatList";
import { ChatView } from "./ChatView";
import { Contacts } from "./Contacts";
import { DevicesDialog } from "./DevicesDialog";
import { Directory } from "./Directory";
import { DriveNav, DrivePane } from "./Drive";
import { GroupDialog } from "./GroupDialog";
import { ProfileDialog } from "./ProfileDialog";
import { SearchResults } from "./SearchResults";
import { usePrefs } from "./context";

export function ChatApp({ chats }: { chats: Chats }) {
  const prefs = usePrefs();
  const { t } = prefs;
  const [filter, setFilter] = useState("");
  const [newChat, setNewChat] = useState("");
  const [tab, setTab] = useState<"chats" | "contacts" | "directory" | "drive">("chats");
  const [groupWith, setGroupWith] = useState<string[] | undefined>(undefined);
  const [showDevices, setShowDevices] = useState(false);
  const [showProfile, setShowProfile] = useState(false);
  const requests = chats.people.incoming.value.length;
  const search = useRef<HTMLInputElement>(null);
  const open = chats.open.value;

  // Unread messages of conversations not muted, in the tab's title.
  const unread = chats.list.value.reduce((sum, row) => sum + (isMuted(row) ? 0 : row.unread), 0);
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) ${t.productName}` : t.productName;
  }, [unread, t]);

  // Ctrl+K (or ⌘K) jumps to the search box.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
        event.preventDefault();
        search.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  // A conversation on screen is read when the tab comes back to the front.
  useEffect(() => {
    const onVisible = () => {
      const current = chats.open.value;
      if (document.visibilityState === "visible" && current !== undefined && "conv" in current)
        chats.markRead(current.conv);
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => document.removeEventListener("visibilitychange", onVisible);
  }, [chats]);

  return (
    <div
      class="layout"
      data-pane={(tab === "drive" ? driveOf(chats).paneOpen.value : open !== undefined) ? "main" : "list"}
    >
      <aside class="sidebar" aria-label={t.chats}>
        <header class="sidebar-header">
          <h1 class="brand">{t.productName}</h1>
          <button
            type="button"
            class="me"
            title={`${t.myProfile}: ${chats.me}`}
            onClick={() => setShowProfile(true)}
            dir="auto"
          >
            {chats.people.mine.value?.nickname || chats.me}
          </button>
          <button type="button" class="link" onClick={() => setShowDevices(true)}>
            {t.devices}
          </button>
          <button type="button" class="link" onClick={() => void signOut()}>
            {t.signOut}
          </button>
        </header>
        <Banner />
        <div class="search">
          <label class="visually-hidden" for="chat-search">
            {t.searchLabel}
          </label>
          <input
            id="chat-search"
            ref={search}
            type="search"
            placeholder={t.searchPlaceholder}
            autocomplete="off"
            value={filter}
            onInput={(e) => setFilter(e.currentTarget.value)}
          />
        </div>
        <form
          class="new-chat"
          onSubmit={(e) => {
            e.preventDefault();
            if (newChat.trim() !== "") chats.startWith(newChat);
            setNewChat("");
          }}
        >
          <label class="visually-hidden" for="new-chat">
            {t.newChatLabel}
          </label>
          <input
            id="new-chat"
            placeholder={t.newChatPlaceholder}
            autocomplete="off"
            value={newChat}
            onInput={(e) => setNewChat(e.currentTarget.value)}
          />
          <button type="submit">{t.newChat}</button>
          <button type="button" onClick={() => setGroupWith([])}>
            {t.newGroup}
          </button>
        </form>
        <div class="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={tab === "chats"} onClick={() => setTab("chats")}>
            {t.chats}
          </button>
          <button type="button" role="tab" aria-selected={tab === "contacts"} onClick={() => setTab("contacts")}>
            {t.contacts}
            {requests > 0 && <span class="badge">{requests}</span>}
          </button>
          <button type="button" role="tab" aria-selected={tab === "directory"} onClick={() => setTab("directory")}>
            {t.directory}
          </button>
          <button type="button" role="tab" aria-selected={tab === "drive"} onClick={() => setTab("drive")}>
            {t.drive}
          </button>
        </div>
        <nav class="list" aria-label={tabLabel(t, tab)}>
          {tab === "drive" ? (
            <DriveNav chats={chats} />
          ) : tab === "chats" ? (
            <>
              <ChatList chats={chats} filter={filter} />
              <SearchResults chats={chats} query={filter} />
            </>
          ) : tab === "contacts" ? (
            <Contacts chats={chats} onOpenChat={() => setTab("chats")} />
          ) : (
            <Directory chats={chats} onOpenChat={() => setTab("chats")} />
          )}
        </nav>
        <footer class="sidebar-footer">
          <PreferencesForm prefs={prefs} />
        </footer>
      </aside>
      <main class="main">
        {tab === "drive" ? <DrivePane chats={chats} /> : <ChatView chats={chats} onNewGroup={setGroupWith} />}
      </main>
      {showDevices && <DevicesDialog chats={chats} onClose={() => setShowDevices(false)} />}
      {showProfile && <ProfileDialog chats={chats} onClose={() => setShowProfile(false)} />}
      {groupWith !== undefined && (
        <GroupDialog chats={chats} with={groupWith} onClose={() => setGroupWith(undefined)} />
      )}
    </div>
  );
}

function tabLabel(t: Dictionary, tab: "chats" | "contacts" | "directory" | "drive"): string {
  return { chats: t.chats, contacts: t.contacts, directory: t.directory, drive: t.drive }[tab];
}
