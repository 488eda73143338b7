// The pending requests to join a group, for its owner and admins: who
// asked, their note and when, with approve and reject. Loaded when shown;
// requests that come or go meanwhile arrive through the change stream.

import { useEffect } from "preact/hooks";
import type { Chats } from "../model/chats";
import { usePrefs } from "./context";
import { shortTime } from "./text";

export function GroupRequests({
  chats,
  conv,
  act,
}: {
  chats: Chats;
  conv: number;
  act: (action: Promise<unknown>, done?: () => void) => void;
}) {
  const { t, lang } = usePrefs();
  const groups = chats.groups;
  const requests = groups.of(conv).requests.value;
  useEffect(() => {
    groups.loadRequests(conv).catch(() => undefined);
  }, [groups, conv]);
  // Answered here: gone from the list at once (the change stream agrees).
  const answered = () => void groups.loadRequests(conv).catch(() => undefined);

  return (
    <section class="group-requests" aria-labelledby="group-requests-title">
      <h4 class="section-title" id="group-requests-title">
        {t.joinRequests}
        {requests.length > 0 && <span class="badge requests-count">{requests.length}</span>}
      </h4>
      {requests.length === 0 ? (
        <p class="empty">{t.noJoinRequests}</p>
      ) : (
        <ul class="join-requests">
          {requests.map((request) => (
            <li key={request.user_id} class="join-request" data-user={request.user}>
              <span class="join-request-text">
                <span class="member-name" dir="auto">
                  {request.user}
                </span>
                {request.note !== "" && (
                  <span class="join-note" dir="auto">
                    {request.note}
                  </span>
                )}
                <time dateTime={new Date(request.ts).toISOString()}>{shortTime(request.ts, lang)}</time>
              </span>
              <span class="join-request-actions">
                <button
                  type="button"
                  class="primary small"
                  onClick={() => act(groups.approve(conv, request.user), answered)}
                >
                  {t.approve}
                </button>
                <button type="button" class="link" onClick={() => act(groups.reject(conv, request.user), answered)}>
                  {t.rejectRequest}
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
