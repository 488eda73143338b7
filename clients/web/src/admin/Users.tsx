// Accounts: a paged list searched by username prefix, creating one,
// importing many from a CSV file (the format of `magpie admin user
// import`), and for each: disable or enable, a new password, its
// department and title.

import { useEffect, useState } from "preact/hooks";
import type { AccountRole, AdminUser, DirectoryOk } from "magpie-client";
import type { Dictionary } from "../i18n";
import { usePrefs } from "../views/context";
import { Import } from "./Import";
import {
  DeptOptions,
  ErrorLine,
  adminError,
  client,
  generatePassword,
  PasswordField,
  useDirectory,
  usePagedList,
} from "./util";
import { fill } from "../i18n";

const PAGE = 50;

export function Users() {
  const { t } = usePrefs();
  const { tree } = useDirectory();
  const [prefix, setPrefix] = useState("");
  const [panel, setPanel] = useState<"none" | "create" | "import">("none");
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const [turn, setTurn] = useState(0);

  const list = usePagedList(t, (after) => {
    const args: { prefix?: string; after?: number; limit: number } = { limit: PAGE };
    const search = prefix.trim().toLowerCase();
    if (search !== "") args.prefix = search;
    if (after !== undefined) args.after = after;
    return client()
      .request("admin_users", args)
      .then((page) => ({ items: page.users, next: page.next }));
  });
  const { items: users, setItems: setUsers, next, loading, error, setError } = list;

  // The first page again whenever the search changes (after a short pause
  // in typing) or something was created.
  useEffect(() => {
    const timer = setTimeout(list.reload, 250);
    return () => clearTimeout(timer);
  }, [prefix, turn]);

  const replaced = (user: AdminUser) => setUsers((old) => old.map((u) => (u.user_id === user.user_id ? user : u)));
  const deptName = (id: number | undefined) =>
    id === undefined ? "" : (tree?.departments.find((d) => d.id === id)?.name ?? `#${id}`);
  const current = users.find((u) => u.user === selected);

  return (
    <section class="admin-page" aria-labelledby="users-title">
      <h3 id="users-title" class="admin-title">
        {t.users}
      </h3>
      <div class="admin-toolbar">
        <label class="admin-search">
          <span class="visually-hidden">{t.adminSearchUsers}</span>
          <input
            type="search"
            placeholder={t.adminSearchUsers}
            aria-label={t.adminSearchUsers}
            maxLength={32}
            value={prefix}
            onInput={(e) => setPrefix(e.currentTarget.value)}
          />
        </label>
        <button
          type="button"
          class="primary"
          aria-expanded={panel === "create"}
          onClick={() => setPanel(panel === "create" ? "none" : "create")}
        >
          {t.adminNewUser}
        </button>
        <button
          type="button"
          class="admin-button"
          aria-expanded={panel === "import"}
          onClick={() => setPanel(panel === "import" ? "none" : "import")}
        >
          {t.adminImportCsv}
        </button>
      </div>
      {panel === "create" && <CreateUser t={t} tree={tree} onCreated={() => setTurn((n) => n + 1)} />}
      {panel === "import" && <Import onDone={() => setTurn((n) => n + 1)} />}
      <ErrorLine text={error} />
      {current !== undefined && (
        <UserEditor
          key={current.user_id}
          t={t}
          tree={tree}
          user={current}
          onChanged={replaced}
          onClose={() => setSelected(undefined)}
        />
      )}
      <div class="admin-table-wrap">
        <table class="admin-table" aria-label={t.users}>
          <thead>
            <tr>
              <th scope="col">{t.username}</th>
              <th scope="col">{t.adminNickname}</th>
              <th scope="col">{t.adminDept}</th>
              <th scope="col">{t.adminTitleField}</th>
              <th scope="col">{t.adminRole}</th>
              <th scope="col">{t.adminState}</th>
              <th scope="col">{t.adminActions}</th>
            </tr>
          </thead>
          <tbody>
            {users.map((u) => (
              <tr key={u.user_id} data-user={u.user} aria-selected={u.user === selected}>
                <td>{u.user}</td>
                <td>{u.nickname}</td>
                <td>{deptName(u.dept)}</td>
                <td>{u.title}</td>
                <td>{u.role === "admin" ? t.adminRoleAdmin : t.adminRoleUser}</td>
                <td>
                  <span class={`admin-badge admin-state-${u.state}`}>{stateWords(t, u.state)}</span>
                </td>
                <td class="admin-actions">
                  <StateButton t={t} user={u} onChanged={replaced} onError={setError} />
                  <button
                    type="button"
                    class="admin-button"
                    aria-label={fill(t.adminEditUser, { user: u.user })}
                    onClick={() => setSelected(u.user === selected ? undefined : u.user)}
                  >
                    {t.adminEdit}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {users.length === 0 && !loading && <p class="empty">{t.adminNoUsers}</p>}
      {next !== undefined && (
        <button type="button" class="admin-button admin-more" disabled={loading} onClick={list.more}>
          {t.adminLoadMore}
        </button>
      )}
    </section>
  );
}

function stateWords(t: Dictionary, state: AdminUser["state"]): string {
  return state === "active" ? t.adminStateActive : state === "disabled" ? t.adminStateDisabled : t.adminStateDeleted;
}

/** Disable an active account, enable a disabled one (a deleted one stays). */
function StateButton({
  t,
  user,
  onChanged,
  onError,
}: {
  t: Dictionary;
  user: AdminUser;
  onChanged: (u: AdminUser) => void;
  onError: (text: string | undefined) => void;
}) {
  const [busy, setBusy] = useState(false);
  if (user.state === "deleted") return null;
  const disable = user.state === "active";
  const label = disable ? t.adminDisable : t.adminEnable;
  return (
    <button
      type="button"
      class={disable ? "admin-button admin-danger" : "admin-button"}
      disabled={busy}
      aria-label={`${label} ${user.user}`}
      onClick={async () => {
        setBusy(true);
        try {
          onChanged(
            await client().request("admin_user_set", { user: user.user, state: disable ? "disabled" : "active" }),
          );
          onError(undefined);
        } catch (caught) {
          onError(adminError(t, caught));
        } finally {
          setBusy(false);
        }
      }}
    >
      {label}
    </button>
  );
}

/** One account's department and title, and a new password. */
function UserEditor({
  t,
  tree,
  user,
  onChanged,
  onClose,
}: {
  t: Dictionary;
  tree: DirectoryOk | undefined;
  user: AdminUser;
  onChanged: (u: AdminUser) => void;
  onClose: () => void;
}) {
  const [dept, setDept] = useState(String(user.dept ?? 0));
  const [title, setTitle] = useState(user.title);
  const [password, setPassword] = useState("");
  const [done, setDone] = useState<string | undefined>(undefined);
  const [newPassword, setNewPassword] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    setDone(undefined);
    try {
      await work();
    } catch (caught) {
      setError(adminError(t, caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="admin-panel" aria-labelledby="user-editor-title">
      <div class="admin-panel-head">
        <h4 id="user-editor-title">{fill(t.adminEditing, { user: user.user })}</h4>
        <button type="button" class="admin-button" onClick={onClose}>
          {t.adminClose}
        </button>
      </div>
      <form
        class="admin-form"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            onChanged(await client().request("admin_user_set", { user: user.user, dept: Number(dept), title }));
            setDone(t.adminSaved);
          });
        }}
      >
        <label class="admin-field">
          <span>{t.adminDept}</span>
          <select value={dept} onChange={(e) => setDept(e.currentTarget.value)}>
            <DeptOptions tree={tree} none={t.adminNoDept} />
          </select>
        </label>
        <label class="admin-field">
          <span>{t.adminTitleField}</span>
          <input value={title} maxLength={64} onInput={(e) => setTitle(e.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {t.adminSave}
        </button>
      </form>
      <form
        class="admin-form"
        onSubmit={(e) => {
          e.preventDefault();
          const chosen = password === "" ? generatePassword() : password;
          void run(async () => {
            onChanged(await client().request("admin_user_set", { user: user.user, password: chosen }));
            setPassword("");
            setNewPassword(chosen);
            setDone(t.adminPasswordReset);
          });
        }}
      >
        <PasswordField label={t.adminNewPassword} value={password} onInput={setPassword} />
        <button type="submit" class="admin-button" disabled={busy}>
          {t.adminResetPassword}
        </button>
      </form>
      {done !== undefined && (
        <p class="notice" role="status">
          {done}
        </p>
      )}
      {newPassword !== undefined && (
        <p class="admin-secret">
          {t.adminPasswordOnce} <code>{newPassword}</code>
        </p>
      )}
      <ErrorLine text={error} />
    </section>
  );
}

/** The form of `admin_user_create`. */
function CreateUser({ t, tree, onCreated }: { t: Dictionary; tree: DirectoryOk | undefined; onCreated: () => void }) {
  const [user, setUser] = useState("");
  const [nickname, setNickname] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<AccountRole>("user");
  const [dept, setDept] = useState("0");
  const [title, setTitle] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const [created, setCreated] = useState<{ user: string; password?: string } | undefined>(undefined);

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setCreated(undefined);
    try {
      const args: {
        user: string;
        nickname?: string;
        password?: string;
        role: AccountRole;
        dept?: number;
        title?: string;
      } = { user: user.trim(), role };
      if (nickname.trim() !== "") args.nickname = nickname.trim();
      if (password !== "") args.password = password;
      if (dept !== "0") args.dept = Number(dept);
      if (title.trim() !== "") args.title = title.trim();
      const ok = await client().request("admin_user_create", args);
      setCreated(ok.password === undefined ? { user: ok.user } : { user: ok.user, password: ok.password });
      setUser("");
      setNickname("");
      setPassword("");
      setTitle("");
      onCreated();
    } catch (caught) {
      setError(adminError(t, caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="admin-panel" aria-labelledby="create-user-title">
      <h4 id="create-user-title">{t.adminNewUser}</h4>
      <form class="admin-form admin-form-grid" onSubmit={submit}>
        <label class="admin-field">
          <span>{t.username}</span>
          <input
            name="new-username"
            required
            minLength={3}
            maxLength={32}
            autocomplete="off"
            value={user}
            onInput={(e) => setUser(e.currentTarget.value)}
          />
        </label>
        <label class="admin-field">
          <span>{t.adminNickname}</span>
          <input maxLength={64} value={nickname} onInput={(e) => setNickname(e.currentTarget.value)} />
        </label>
        <PasswordField label={t.adminPasswordOptional} value={password} onInput={setPassword} />
        <label class="admin-field">
          <span>{t.adminRole}</span>
          <select value={role} onChange={(e) => setRole(e.currentTarget.value as AccountRole)}>
            <option value="user">{t.adminRoleUser}</option>
            <option value="admin">{t.adminRoleAdmin}</option>
          </select>
        </label>
        <label class="admin-field">
          <span>{t.adminDept}</span>
          <select value={dept} onChange={(e) => setDept(e.currentTarget.value)}>
            <DeptOptions tree={tree} none={t.adminNoDept} />
          </select>
        </label>
        <label class="admin-field">
          <span>{t.adminTitleField}</span>
          <input maxLength={64} value={title} onInput={(e) => setTitle(e.currentTarget.value)} />
        </label>
        <div class="admin-form-actions">
          <button type="submit" class="primary" disabled={busy}>
            {t.adminCreate}
          </button>
        </div>
      </form>
      {created !== undefined && (
        <p class="notice" role="status">
          {fill(t.adminCreated, { user: created.user })}
          {created.password !== undefined && (
            <>
              {" "}
              {t.adminPasswordOnce} <code>{created.password}</code>
            </>
          )}
        </p>
      )}
      <ErrorLine text={error} />
    </section>
  );
}
