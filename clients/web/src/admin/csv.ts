// Import files, read in the browser with the rules of `magpie admin user
// import` (crates/magpie/src/cli_admin.rs): RFC 4180 CSV, a header of
// username,nickname,dept,title and optionally ,password (any case, a
// byte-order mark allowed), then one account a row. A row with the wrong
// number of fields is kept, to be reported as failed; a malformed file
// (bad header, unterminated quote) is refused whole.

import type { DirectoryOk } from "magpie-client";

/** Most data rows one import takes. */
export const IMPORT_MAX_ROWS = 5000;
/** Most bytes of an import file (5,000 generous rows). */
export const IMPORT_MAX_BYTES = 4 * 1024 * 1024;

const HEADER = ["username", "nickname", "dept", "title"];

/** One data row of an import file. */
export interface ImportRow {
  /** Line number in the file (the header is line 1). */
  line: number;
  fields: string[];
  /** Fields the header names: 4, or 5 with `password`. */
  expected: number;
}

/** A file refused whole, with why (an English detail; the UI adds words). */
export class ImportFileError extends Error {
  constructor(
    readonly kind: "empty" | "header" | "syntax" | "tooMany",
    detail: string,
  ) {
    super(detail);
    this.name = "ImportFileError";
  }
}

/** CSV records with the line each starts on. Blank lines are skipped. */
export function parseCsv(text: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let fields: string[] = [];
  let field = "";
  let line = 1;
  let start = 1;
  let inQuotes = false;
  // The current field was quoted: text after its closing quote is an error.
  let wasQuoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inQuotes) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        inQuotes = false;
      } else {
        if (c === "\n") line++;
        field += c;
      }
      continue;
    }
    if (c === '"' && field === "" && !wasQuoted) {
      inQuotes = true;
      wasQuoted = true;
    } else if (c === '"') {
      throw new ImportFileError("syntax", `line ${line}: a quote inside an unquoted field`);
    } else if (c === ",") {
      fields.push(field);
      field = "";
      wasQuoted = false;
    } else if (c === "\r" && text[i + 1] === "\n") {
      // The \n ends the record.
    } else if (c === "\n") {
      fields.push(field);
      field = "";
      wasQuoted = false;
      if (!(fields.length === 1 && fields[0] === "")) records.push({ line: start, fields });
      fields = [];
      line++;
      start = line;
    } else if (wasQuoted) {
      throw new ImportFileError("syntax", `line ${line}: text after a closing quote`);
    } else {
      field += c;
    }
  }
  if (inQuotes) throw new ImportFileError("syntax", `line ${start}: a quoted field is not closed`);
  if (field !== "" || fields.length > 0 || wasQuoted) {
    fields.push(field);
    records.push({ line: start, fields });
  }
  return records;
}

/** The rows of an import file after its header, at most {@link IMPORT_MAX_ROWS}. */
export function parseImport(text: string): ImportRow[] {
  const records = parseCsv(text.startsWith("\uFEFF") ? text.slice(1) : text);
  const head = records.shift();
  if (head === undefined) throw new ImportFileError("empty", "the file is empty");
  const header = head.fields.map((h) => h.trim().toLowerCase());
  const base = header.slice(0, 4).join(",") === HEADER.join(",");
  let expected: number;
  if (base && header.length === 4) expected = 4;
  else if (base && header.length === 5 && header[4] === "password") expected = 5;
  else throw new ImportFileError("header", header.join(","));
  if (records.length > IMPORT_MAX_ROWS) {
    throw new ImportFileError("tooMany", String(records.length));
  }
  return records.map((r) => ({ line: r.line, fields: r.fields, expected }));
}

/** A department named in a row: its id, its name if unique, or its path
 * `Top/Middle/Name`; otherwise why not. */
export function resolveDept(tree: DirectoryOk, text: string): number | { error: string } {
  const wanted = text.trim();
  if (/^\d+$/.test(wanted)) {
    const id = Number(wanted);
    return tree.departments.some((d) => d.id === id) ? id : { error: `no department with id ${id}` };
  }
  const byName = tree.departments.filter((d) => d.name === wanted);
  const [only] = byName;
  if (byName.length === 1 && only !== undefined) return only.id;
  if (byName.length > 1) {
    return {
      error: `${byName.length} departments are named "${wanted}" (ids ${byName.map((d) => d.id).join(", ")}): give the id or the path`,
    };
  }
  const byPath = tree.departments.filter((d) => deptPath(tree, d.id) === wanted);
  const [path] = byPath;
  if (byPath.length === 1 && path !== undefined) return path.id;
  return { error: `no department named "${wanted}"` };
}

/** `Top/Middle/Name` for a department, or undefined if its parents loop. */
export function deptPath(tree: DirectoryOk, id: number): string | undefined {
  const byId = new Map(tree.departments.map((d) => [d.id, d]));
  const names: string[] = [];
  let current = byId.get(id);
  while (current !== undefined) {
    if (names.length > tree.departments.length) return undefined;
    names.unshift(current.name);
    current = current.parent === undefined ? undefined : byId.get(current.parent);
  }
  return names.join("/");
}

/** UTF-8 length, as the server counts a password's bytes. */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length;
}
