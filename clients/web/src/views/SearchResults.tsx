// Messages found by the server's full-text search (message_search), under
// the chats whose names match: each with its conversation, sender, time
// and the excerpt with the matched words marked; a click opens the
// conversation at that message.

import { useEffect, useState } from "preact/hooks";
import { MagpieError, type SearchHit } from "magpie-client";
import type { Chats } from "../model/chats";
import { chatName } from "./ChatList";
import { usePrefs } from "./context";
import { errorText } from "./SignIn";
import { shortTime } from "./text";
import { ErrorLine } from "../components/ErrorLine";

/** Wait this long after the last keystroke (the search rate is per user). */
const DEBOUNCE_MS = 400;

export function SearchResults({ chats, query }: { chats: Chats; query: string }) {
  const { t, lang } = usePrefs();
  const [hits, setHits] = useState<readonly SearchHit[]>([]);
  const [next, setNext] = useState<number | undefined>(undefined);
  const [state, setState] = useState<"idle" | "loading" | "done">("idle");
  const [error, setError] = useState<string | undefined>(undefined);
  const text = query.trim();
  const searchable =
    [...text].length >= 2 || /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u.test(text);

  useEffect(() => {
    setHits([]);
    setNext(undefined);
    setError(undefined);
    if (!searchable) {
      setState("idle");
      return;
    }
    setState("loading");
    let current = true;
    const timer = setTimeout(() => {
      chats.search(text).then(
        (page) => {
          if (!current) return;
          setHits(page.hits);
          setNext(page.next);
          setState("done");
        },
        (e: unknown) => {
          if (!current) return;
          setError(errorText(t, e instanceof MagpieError ? e.code : "internal"));
          setState("done");
        },
      );
    }, DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [text]);

  if (!searchable) return null;
  const more = () => {
    if (next === undefined) return;
    setState("loading");
    chats.search(text, next).then(
      (page) => {
        setHits([...hits, ...page.hits]);
        setNext(page.next);
        setState("done");
      },
      () => setState("done"),
    );
  };
  return (
    <section class="search-results" aria-label={t.messagesFound}>
      <h3 class="section-title">{t.messagesFound}</h3>
      <ErrorLine text={error} />
      {state === "done" && hits.length === 0 && next === undefined && error === undefined && (
        <p class="empty">{t.noMessagesFound}</p>
      )}
      <ul class="chat-list">
        {hits.map((hit) => {
          const row = chats.rows.value.get(hit.conv);
          return (
            <li key={hit.msg_id}>
              <button type="button" class="chat-row hit" onClick={() => void chats.jumpTo(hit.conv, hit.seq)}>
                <span class="chat-row-main">
                  <span class="chat-row-top">
                    <span class="chat-name" dir="auto">
                      {row !== undefined ? chatName(row) : hit.from}
                    </span>
                    <span class="chat-time">{shortTime(hit.ts, lang)}</span>
                  </span>
                  <span class="chat-excerpt hit-excerpt" dir="auto">
                    {row?.kind === "group" ? `${hit.from}: ` : ""}
                    <Highlighted text={hit.excerpt} marks={hit.highlights ?? []} />
                  </span>
                </span>
              </button>
            </li>
          );
        })}
      </ul>
      {state === "loading" && <p class="empty">{t.loading}</p>}
      {state === "done" && next !== undefined && (
        <button type="button" class="link more-results" onClick={more}>
          {t.moreResults}
        </button>
      )}
    </section>
  );
}

/** The excerpt with its matches in <mark>: ranges are in code points. */
function Highlighted({ text, marks }: { text: string; marks: readonly [number, number][] }) {
  const chars = [...text];
  const parts = [];
  let at = 0;
  for (const [start, length] of [...marks].sort((a, b) => a[0] - b[0])) {
    if (start < at || start >= chars.length) continue;
    if (start > at) parts.push(chars.slice(at, start).join(""));
    parts.push(<mark key={start}>{chars.slice(start, start + length).join("")}</mark>);
    at = start + length;
  }
  if (at < chars.length) parts.push(chars.slice(at).join(""));
  return <>{parts}</>;
}
