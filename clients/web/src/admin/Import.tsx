// Import accounts from a CSV file chosen in the browser: parsed here (see
// csv.ts), then created one row at a time with `admin_user_create`, each
// row's result shown (its generated password, or why it failed). Only a
// lost connection stops an import early.

import { useState } from "preact/hooks";
import type { AdminUserCreate, DirectoryOk } from "magpie-client";
import { usePrefs } from "../views/context";
import {
  IMPORT_MAX_BYTES,
  IMPORT_MAX_ROWS,
  ImportFileError,
  type ImportRow,
  parseImport,
  resolveDept,
  utf8Length,
} from "./csv";
import { codeOf } from "./session";
import { ErrorLine, adminError, client } from "./util";
import { fill } from "../i18n";

interface RowResult {
  line: number;
  user: string;
  ok: boolean;
  /** The generated password, or the failure's words. */
  detail: string;
}

const LOST = new Set(["offline", "connection_closed", "timeout"]);

export function Import({ onDone }: { onDone: () => void }) {
  const { t } = usePrefs();
  const [results, setResults] = useState<RowResult[]>([]);
  const [progress, setProgress] = useState<{ done: number; total: number } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);

  const fileError = (caught: unknown): string => {
    if (!(caught instanceof ImportFileError)) return adminError(t, caught);
    switch (caught.kind) {
      case "empty":
        return t.adminImportEmpty;
      case "header":
        return fill(t.adminImportHeader, { found: caught.message });
      case "tooMany":
        return fill(t.adminImportTooMany, { max: IMPORT_MAX_ROWS, found: caught.message });
      default:
        return fill(t.adminImportSyntax, { detail: caught.message });
    }
  };

  const importRow = async (row: ImportRow, tree: DirectoryOk | undefined): Promise<RowResult> => {
    const user = (row.fields[0] ?? "").trim();
    const failed = (detail: string): RowResult => ({ line: row.line, user, ok: false, detail });
    if (row.fields.length !== row.expected) {
      return failed(fill(t.adminImportFields, { expected: row.expected, found: row.fields.length }));
    }
    const [, nickname = "", deptText = "", title = "", password = ""] = row.fields;
    const args: AdminUserCreate = { user };
    if (deptText.trim() !== "") {
      if (tree === undefined) return failed(t.adminErrUnknownDept);
      const dept = resolveDept(tree, deptText);
      if (typeof dept !== "number") return failed(`${t.adminErrUnknownDept} (${dept.error})`);
      args.dept = dept;
    }
    if (password !== "") {
      const bytes = utf8Length(password);
      if (bytes < 8 || bytes > 1024) return failed(t.errInvalidPassword);
      args.password = password;
    }
    if (nickname.trim() !== "") args.nickname = nickname.trim();
    if (title.trim() !== "") args.title = title.trim();
    try {
      const ok = await client().request("admin_user_create", args);
      return { line: row.line, user: ok.user, ok: true, detail: ok.password ?? "" };
    } catch (caught) {
      if (LOST.has(codeOf(caught))) throw caught;
      return failed(adminError(t, caught));
    }
  };

  const choose = async (file: File | undefined) => {
    if (file === undefined) return;
    setResults([]);
    setError(undefined);
    setProgress(undefined);
    if (file.size > IMPORT_MAX_BYTES) {
      setError(fill(t.adminImportTooLarge, { max: `${IMPORT_MAX_BYTES / 1024 / 1024} MB` }));
      return;
    }
    setBusy(true);
    const done: RowResult[] = [];
    try {
      const rows = parseImport(await file.text());
      // Department names are resolved against the tree as it is now.
      const tree = rows.some((r) => (r.fields[2] ?? "").trim() !== "") ? await loadTree() : undefined;
      setProgress({ done: 0, total: rows.length });
      for (const row of rows) {
        done.push(await importRow(row, tree));
        setResults([...done]);
        setProgress({ done: done.length, total: rows.length });
      }
    } catch (caught) {
      setError(fileError(caught));
    } finally {
      setBusy(false);
      if (done.some((r) => r.ok)) onDone();
    }
  };

  const created = results.filter((r) => r.ok).length;
  return (
    <section class="admin-panel" aria-labelledby="import-title">
      <h4 id="import-title">{t.adminImportCsv}</h4>
      <p class="admin-hint">{fill(t.adminImportHelp, { max: IMPORT_MAX_ROWS })}</p>
      <label class="admin-field">
        <span>{t.adminImportFile}</span>
        <input
          type="file"
          accept=".csv,text/csv"
          disabled={busy}
          onChange={(e) => {
            const input = e.currentTarget;
            void choose(input.files?.[0]).finally(() => {
              input.value = "";
            });
          }}
        />
      </label>
      <ErrorLine text={error} />
      {progress !== undefined && (
        <p class="notice" role="status">
          {busy
            ? fill(t.adminImportProgress, { done: progress.done, total: progress.total })
            : fill(t.adminImportSummary, { created, failed: results.length - created })}
        </p>
      )}
      {results.length > 0 && (
        <div class="admin-table-wrap">
          <table class="admin-table" aria-label={t.adminImportResults}>
            <thead>
              <tr>
                <th scope="col">{t.adminImportLine}</th>
                <th scope="col">{t.username}</th>
                <th scope="col">{t.adminState}</th>
                <th scope="col">{t.adminImportDetail}</th>
              </tr>
            </thead>
            <tbody>
              {results.map((r) => (
                <tr key={r.line} data-import-user={r.user} data-ok={r.ok ? "true" : "false"}>
                  <td>{r.line}</td>
                  <td>{r.user}</td>
                  <td>
                    <span class={`admin-badge ${r.ok ? "admin-state-active" : "admin-state-disabled"}`}>
                      {r.ok ? t.adminImportCreated : t.adminImportFailed}
                    </span>
                  </td>
                  <td>
                    {r.ok && r.detail !== "" ? (
                      <>
                        {t.adminPasswordOnce} <code>{r.detail}</code>
                      </>
                    ) : (
                      r.detail
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

async function loadTree() {
  return client().request("directory");
}
