// The directory's departments as a tree: create, rename, move (a new
// parent, never itself or one of its sub-departments) and delete (only an
// empty one: `department_not_empty` otherwise).

import { useState } from "preact/hooks";
import type { Department, DirectoryOk } from "magpie-client";
import type { Dictionary } from "../i18n";
import { usePrefs } from "../views/context";
import { DeptOptions, ErrorLine, adminError, client, treeOrder, useDirectory } from "./util";
import { fill } from "../i18n";

export function Departments() {
  const { t } = usePrefs();
  const { tree, reload } = useDirectory();
  const [name, setName] = useState("");
  const [parent, setParent] = useState("0");
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const rows = treeOrder(tree);

  const create = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const args: { name: string; parent?: number } = { name: name.trim() };
      if (parent !== "0") args.parent = Number(parent);
      await client().request("dept_create", args);
      setName("");
      reload();
    } catch (caught) {
      setError(adminError(t, caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="admin-page" aria-labelledby="depts-title">
      <h3 id="depts-title" class="admin-title">
        {t.departments}
      </h3>
      <section class="admin-panel" aria-labelledby="new-dept-title">
        <h4 id="new-dept-title">{t.adminNewDept}</h4>
        <form class="admin-form" onSubmit={create}>
          <label class="admin-field">
            <span>{t.adminDeptName}</span>
            <input required maxLength={64} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label class="admin-field">
            <span>{t.adminParentDept}</span>
            <select value={parent} onChange={(e) => setParent(e.currentTarget.value)}>
              <DeptOptions tree={tree} none={t.adminTopLevel} />
            </select>
          </label>
          <button type="submit" class="primary" disabled={busy}>
            {t.adminCreate}
          </button>
        </form>
        <ErrorLine text={error} />
      </section>
      {tree !== undefined && rows.length === 0 && <p class="empty">{t.adminNoDepts}</p>}
      <ul class="admin-tree" aria-label={t.departments}>
        {rows.map(({ dept, depth }) => (
          <DeptRow key={dept.id} t={t} tree={tree} dept={dept} depth={depth} onChanged={reload} />
        ))}
      </ul>
    </section>
  );
}

/** The department and its sub-departments, at any depth. */
function subtree(tree: DirectoryOk | undefined, id: number): Set<number> {
  const out = new Set<number>([id]);
  if (tree === undefined) return out;
  let grew = true;
  while (grew) {
    grew = false;
    for (const d of tree.departments) {
      if (d.parent !== undefined && out.has(d.parent) && !out.has(d.id)) {
        out.add(d.id);
        grew = true;
      }
    }
  }
  return out;
}

function DeptRow({
  t,
  tree,
  dept,
  depth,
  onChanged,
}: {
  t: Dictionary;
  tree: DirectoryOk | undefined;
  dept: Department;
  depth: number;
  onChanged: () => void;
}) {
  const [mode, setMode] = useState<"view" | "rename" | "move" | "delete">("view");
  const [name, setName] = useState(dept.name);
  const [parent, setParent] = useState(String(dept.parent ?? 0));
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const run = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
      setMode("view");
      onChanged();
    } catch (caught) {
      setError(adminError(t, caught));
    } finally {
      setBusy(false);
    }
  };

  return (
    <li class="admin-tree-item" style={{ paddingInlineStart: `${depth * 20 + 8}px` }} data-dept={dept.name}>
      <div class="admin-tree-row">
        <span class="admin-tree-name">{dept.name}</span>
        <span class="admin-tree-count">{fill(t.adminDeptMembers, { n: dept.members })}</span>
        <span class="admin-actions">
          <button
            type="button"
            class="admin-button"
            aria-label={`${t.adminRename} ${dept.name}`}
            onClick={() => setMode(mode === "rename" ? "view" : "rename")}
          >
            {t.adminRename}
          </button>
          <button
            type="button"
            class="admin-button"
            aria-label={`${t.adminMove} ${dept.name}`}
            onClick={() => setMode(mode === "move" ? "view" : "move")}
          >
            {t.adminMove}
          </button>
          <button
            type="button"
            class="admin-button admin-danger"
            aria-label={`${t.delete} ${dept.name}`}
            onClick={() => setMode(mode === "delete" ? "view" : "delete")}
          >
            {t.delete}
          </button>
        </span>
      </div>
      {mode === "rename" && (
        <form
          class="admin-form"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => client().request("dept_update", { id: dept.id, name: name.trim() }));
          }}
        >
          <label class="admin-field">
            <span>{t.adminDeptName}</span>
            <input required maxLength={64} value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <button type="submit" class="primary" disabled={busy}>
            {t.adminSave}
          </button>
        </form>
      )}
      {mode === "move" && (
        <form
          class="admin-form"
          onSubmit={(e) => {
            e.preventDefault();
            void run(() => client().request("dept_update", { id: dept.id, parent: Number(parent) }));
          }}
        >
          <label class="admin-field">
            <span>{t.adminParentDept}</span>
            <select value={parent} onChange={(e) => setParent(e.currentTarget.value)}>
              <DeptOptions tree={tree} none={t.adminTopLevel} exclude={subtree(tree, dept.id)} />
            </select>
          </label>
          <button type="submit" class="primary" disabled={busy}>
            {t.adminMove}
          </button>
        </form>
      )}
      {mode === "delete" && (
        <div class="admin-form">
          <span>{fill(t.adminConfirmDeleteDept, { name: dept.name })}</span>
          <button
            type="button"
            class="admin-button admin-danger"
            disabled={busy}
            onClick={() => void run(() => client().request("dept_delete", { id: dept.id }))}
          >
            {t.adminConfirm}
          </button>
          <button type="button" class="admin-button" onClick={() => setMode("view")}>
            {t.adminCancel}
          </button>
        </div>
      )}
      <ErrorLine text={error} />
    </li>
  );
}
