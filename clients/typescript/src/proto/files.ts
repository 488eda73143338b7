/** The file area. (Placeholder: the full types are being written.) */
export interface FileInfo {
  id: string;
  name: string;
  size: number;
  mime: string;
  [field: string]: unknown;
}
