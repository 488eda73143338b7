// Every group on the server (`admin_groups`), with its owner and member
// count, and dissolving one (`admin_group_dissolve`) after a confirmation.

import { useEffect, useState } from "preact/hooks";
import type { AdminGroup } from "magpie-client";
import type { Dictionary } from "../i18n";
import { usePrefs } from "../views/context";
import { ErrorLine, adminError, client, usePagedList, when } from "./util";
import { fill } from "../i18n";

const PAGE = 100;

export function Groups() {
  const { t, lang } = usePrefs();
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const list = usePagedList(t, (after) =>
    client()
      .request("admin_groups", after === undefined ? { limit: PAGE } : { after, limit: PAGE })
      .then((page) => ({ items: page.groups, next: page.next })),
  );
  const { items: groups, setItems: setGroups, next, loading, error, setError } = list;
  useEffect(list.reload, []);

  return (
    <section class="admin-page" aria-labelledby="groups-title">
      <h3 id="groups-title" class="admin-title">
        {t.groups}
      </h3>
      <div class="admin-toolbar">
        <button type="button" class="admin-button" onClick={list.reload}>
          {t.adminRefresh}
        </button>
      </div>
      <ErrorLine text={error} />
      {notice !== undefined && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      <div class="admin-table-wrap">
        <table class="admin-table" aria-label={t.groups}>
          <thead>
            <tr>
              <th scope="col">{t.adminGroupName}</th>
              <th scope="col">{t.adminOwner}</th>
              <th scope="col">{t.adminMemberCount}</th>
              <th scope="col">{t.adminCreatedAt}</th>
              <th scope="col">{t.adminActions}</th>
            </tr>
          </thead>
          <tbody>
            {groups.map((g) => (
              <tr key={g.conv} data-group={g.name}>
                <td>
                  {g.name}
                  {g.temporary === true && <span class="admin-badge"> {t.adminTemporary}</span>}
                </td>
                <td>{g.owner}</td>
                <td>{g.members}</td>
                <td>{when(g.created_at, lang)}</td>
                <td class="admin-actions">
                  <Dissolve
                    t={t}
                    group={g}
                    onDone={() => {
                      setGroups((old) => old.filter((x) => x.conv !== g.conv));
                      setNotice(fill(t.adminDissolved, { name: g.name }));
                    }}
                    onError={setError}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {groups.length === 0 && !loading && <p class="empty">{t.adminNoGroups}</p>}
      {next !== undefined && (
        <button type="button" class="admin-button admin-more" disabled={loading} onClick={list.more}>
          {t.adminLoadMore}
        </button>
      )}
    </section>
  );
}

function Dissolve({
  t,
  group,
  onDone,
  onError,
}: {
  t: Dictionary;
  group: AdminGroup;
  onDone: () => void;
  onError: (text: string | undefined) => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  if (!confirming) {
    return (
      <button
        type="button"
        class="admin-button admin-danger"
        aria-label={`${t.adminDissolve} ${group.name}`}
        onClick={() => setConfirming(true)}
      >
        {t.adminDissolve}
      </button>
    );
  }
  return (
    <>
      <button
        type="button"
        class="admin-button admin-danger"
        disabled={busy}
        aria-label={fill(t.adminConfirmDissolve, { name: group.name })}
        onClick={async () => {
          setBusy(true);
          try {
            await client().request("admin_group_dissolve", { conv: group.conv });
            onError(undefined);
            onDone();
          } catch (caught) {
            onError(adminError(t, caught));
            setConfirming(false);
          } finally {
            setBusy(false);
          }
        }}
      >
        {t.adminConfirm}
      </button>
      <button type="button" class="admin-button" onClick={() => setConfirming(false)}>
        {t.adminCancel}
      </button>
    </>
  );
}
