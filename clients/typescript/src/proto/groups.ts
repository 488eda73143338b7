/** The groups area. (Placeholder: the full types are being written.) */
export interface GroupEvent {
  type: string;
  [field: string]: unknown;
}
