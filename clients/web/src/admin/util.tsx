// Small pieces the admin pages share: the words for an error, an error
// line, numbers and times in the reader's language.

import { useEffect, useRef, useState } from "preact/hooks";
import type { Department, DirectoryOk, MagpieClient } from "magpie-client";
import type { Dictionary } from "../i18n";
import { errorText } from "../views/SignIn";
import { admin, codeOf, messageOf } from "./session";

export { ErrorLine } from "../components/ErrorLine";

/** The signed-in administrator's client (the pages only show when there is one). */
export function client(): MagpieClient {
  const c = admin.value;
  if (c === undefined) throw new Error("not signed in");
  return c;
}

/** The words for a failure of an admin operation. */
export function adminError(t: Dictionary, error: unknown): string {
  const code = codeOf(error);
  const known: Record<string, string> = {
    forbidden: t.adminErrForbidden,
    department_not_empty: t.adminErrDeptNotEmpty,
    unknown_department: t.adminErrUnknownDept,
    unknown_conversation: t.adminErrUnknownGroup,
    limit_reached: t.adminErrLimit,
  };
  const words = known[code];
  if (words !== undefined) return words;
  if (code === "invalid_args") {
    const detail = messageOf(error);
    return detail === "" ? t.adminErrInvalid : `${t.adminErrInvalid} (${detail})`;
  }
  return errorText(t, code);
}

/** A time (ms since the epoch) as a short date and time. */
export function when(ms: number, lang: string): string {
  return new Date(ms).toLocaleString(lang === "zh" ? "zh-CN" : "en", {
    dateStyle: "medium",
    timeStyle: "short",
  });
}

/** A password the browser generates: 16 characters of base64url, like the server's. */
export function generatePassword(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_");
}

/** The directory's tree, loaded once and again on `reload` (or a
 * `directory` push). */
export function useDirectory(): { tree: DirectoryOk | undefined; reload: () => void } {
  const [tree, setTree] = useState<DirectoryOk | undefined>(undefined);
  const [turn, setTurn] = useState(0);
  useEffect(() => {
    let stopped = false;
    client()
      .request("directory")
      .then((ok) => {
        if (!stopped) setTree(ok);
      })
      .catch(() => undefined);
    return () => {
      stopped = true;
    };
  }, [turn]);
  useEffect(() => client().on("directory", () => setTurn((n) => n + 1)), []);
  return { tree, reload: () => setTurn((n) => n + 1) };
}

/** Departments in tree order (each before its sub-departments, siblings by
 * order then id), with their depth. */
export function treeOrder(tree: DirectoryOk | undefined): { dept: Department; depth: number }[] {
  if (tree === undefined) return [];
  const children = new Map<number, Department[]>();
  const ids = new Set(tree.departments.map((d) => d.id));
  for (const d of tree.departments) {
    const parent = d.parent !== undefined && ids.has(d.parent) ? d.parent : 0;
    const list = children.get(parent) ?? [];
    list.push(d);
    children.set(parent, list);
  }
  const out: { dept: Department; depth: number }[] = [];
  const seen = new Set<number>();
  const visit = (parent: number, depth: number) => {
    const list = (children.get(parent) ?? []).sort((a, b) => a.order - b.order || a.id - b.id);
    for (const d of list) {
      if (seen.has(d.id)) continue;
      seen.add(d.id);
      out.push({ dept: d, depth });
      visit(d.id, depth + 1);
    }
  };
  visit(0, 0);
  return out;
}

/** `<option>`s of every department, indented by depth, after "none". */
export function DeptOptions({
  tree,
  none,
  exclude,
}: {
  tree: DirectoryOk | undefined;
  none: string;
  exclude?: Set<number>;
}) {
  return (
    <>
      <option value="0">{none}</option>
      {treeOrder(tree)
        .filter(({ dept }) => !(exclude?.has(dept.id) ?? false))
        .map(({ dept, depth }) => (
          <option key={dept.id} value={String(dept.id)}>
            {"\u00a0\u00a0".repeat(depth) + dept.name}
          </option>
        ))}
    </>
  );
}

/** A list the server hands out in pages (`after` / `next`): the rows so
 * far, whether more exist, and the state of the last load. `reload` asks
 * for the first page again; an answer to an earlier request that arrives
 * after it (a slow page of the previous search) is dropped. */
export function usePagedList<T>(
  t: Dictionary,
  fetchPage: (after: number | undefined) => Promise<{ items: readonly T[]; next?: number | undefined }>,
) {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<number | undefined>(undefined);
  // Every page loads its first page at once: no "nothing here" before it.
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<string | undefined>(undefined);
  const generation = useRef(0);

  const load = async (after: number | undefined) => {
    const mine = after === undefined ? ++generation.current : generation.current;
    setLoading(true);
    try {
      const page = await fetchPage(after);
      if (mine !== generation.current) return;
      setItems((old) => (after === undefined ? [...page.items] : [...old, ...page.items]));
      setNext(page.next);
      setError(undefined);
    } catch (caught) {
      if (mine === generation.current) setError(adminError(t, caught));
    } finally {
      if (mine === generation.current) setLoading(false);
    }
  };

  return {
    items,
    setItems,
    next,
    loading,
    error,
    setError,
    reload: () => void load(undefined),
    more: () => void (next === undefined ? undefined : load(next)),
  };
}

/** A new password for an account (at least 8 characters, as the server
 * asks), which the browser may offer to generate. */
export function PasswordField({
  label,
  value,
  onInput,
}: {
  label: string;
  value: string;
  onInput: (value: string) => void;
}) {
  return (
    <label class="admin-field">
      <span>{label}</span>
      <input
        type="password"
        autocomplete="new-password"
        minLength={8}
        maxLength={1024}
        value={value}
        onInput={(e) => onInput(e.currentTarget.value)}
      />
    </label>
  );
}
