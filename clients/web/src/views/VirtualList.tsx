// A virtualised list for chat history: only the rows near the viewport
// are in the DOM, so a conversation with 10,000 loaded messages scrolls
// as smoothly as one with 10. Rows have different heights: each is
// measured once rendered (ResizeObserver) and estimated until then; the
// space of the rows not rendered is kept by two spacers. The browser's
// scroll anchoring keeps the view still when older rows are added above
// or measured; Chromium does not anchor at scroll offset 0, so rows added
// above a reader who is right at the top are made up for here.

import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";

const ESTIMATE = 64;
const OVERSCAN_PX = 800;

export interface VirtualListProps<T> {
  items: readonly T[];
  keyOf: (item: T) => string;
  render: (item: T) => ComponentChildren;
  /** Called when the top is near: load older rows. */
  onNearTop?: () => void;
  /** Bring this row into view (centred), e.g. a search hit opened. */
  focusKey?: string | undefined;
  /** Rendered after the rows (pending messages, typing notice). */
  footer?: ComponentChildren;
  label: string;
}

export function VirtualList<T>({ items, keyOf, render, onNearTop, focusKey, footer, label }: VirtualListProps<T>) {
  const scroller = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const [viewport, setViewport] = useState({ top: Number.MAX_SAFE_INTEGER, height: 800 });
  const [measured, setMeasured] = useState(0);
  const atBottom = useRef(true);
  const observer = useRef<ResizeObserver | undefined>(undefined);

  const keys = useMemo(() => items.map(keyOf), [items, keyOf]);
  // Prefix sums of heights: offsets[i] is where row i starts.
  const offsets = useMemo(() => {
    const out = new Array<number>(keys.length + 1);
    out[0] = 0;
    for (let i = 0; i < keys.length; i++) out[i + 1] = (out[i] ?? 0) + (heights.current.get(keys[i] ?? "") ?? ESTIMATE);
    return out;
  }, [keys, measured]);
  const total = offsets[keys.length] ?? 0;

  const top = Math.min(viewport.top, Math.max(0, total - viewport.height));
  const first = Math.max(0, upperBound(offsets, top - OVERSCAN_PX) - 1);
  const last = Math.min(keys.length, upperBound(offsets, top + viewport.height + OVERSCAN_PX));

  useEffect(() => {
    observer.current = new ResizeObserver((records) => {
      let changed = false;
      for (const record of records) {
        const target = record.target as HTMLElement;
        // A row that left the window is reported once more, at 0 x 0: it
        // keeps the height it had, or the rows below it would collapse.
        if (!target.isConnected) {
          observer.current?.unobserve(target);
          continue;
        }
        const key = target.dataset.key;
        if (key === undefined) continue;
        const height = Math.round(record.borderBoxSize[0]?.blockSize ?? record.contentRect.height);
        if (height === 0) continue;
        if (heights.current.get(key) !== height) {
          heights.current.set(key, height);
          changed = true;
        }
      }
      if (changed) setMeasured((n) => n + 1);
    });
    return () => observer.current?.disconnect();
  }, []);

  // New rows at the bottom while the reader is at the bottom: follow them.
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element !== null && atBottom.current) element.scrollTop = element.scrollHeight;
  }, [items.length, total, footer]);

  // Older rows added above a reader at the very top: keep the row they were
  // reading where it was (the browser anchors everywhere else).
  const firstKey = useRef<string | undefined>(undefined);
  useLayoutEffect(() => {
    const element = scroller.current;
    const previous = firstKey.current;
    firstKey.current = keys[0];
    if (element === null || previous === undefined || previous === keys[0] || atBottom.current) return;
    const index = keys.indexOf(previous);
    // Reading scrollTop lays out first, so a browser that anchors has done so.
    if (index <= 0 || element.scrollTop !== 0) return;
    element.scrollTop = offsets[index] ?? 0;
    setViewport({ top: element.scrollTop, height: element.clientHeight });
  }, [keys]);

  // A row to show: scroll so that it sits in the middle, once per request.
  const focused = useRef<string | undefined>(undefined);
  useLayoutEffect(() => {
    const element = scroller.current;
    if (element === null || focusKey === undefined || focused.current === focusKey) return;
    const index = keys.indexOf(focusKey);
    if (index < 0) return;
    focused.current = focusKey;
    atBottom.current = false;
    const middle = (offsets[index] ?? 0) + (heights.current.get(focusKey) ?? ESTIMATE) / 2;
    element.scrollTop = Math.max(0, middle - element.clientHeight / 2);
    setViewport({ top: element.scrollTop, height: element.clientHeight });
  }, [focusKey, keys, offsets]);

  const onScroll = () => {
    const element = scroller.current;
    if (element === null) return;
    atBottom.current = element.scrollHeight - element.scrollTop - element.clientHeight < 40;
    setViewport({ top: element.scrollTop, height: element.clientHeight });
    if (element.scrollTop < 300) onNearTop?.();
  };

  useEffect(() => {
    const element = scroller.current;
    if (element === null) return;
    setViewport({ top: element.scrollTop, height: element.clientHeight });
    // Still near the top once the rows are in (a short page, or a reader
    // waiting at the top): the next page, without waiting for a scroll.
    if (element.scrollTop < 300) onNearTop?.();
  }, [items.length]);

  const observe = (element: HTMLElement | null) => {
    if (element !== null) observer.current?.observe(element);
  };

  return (
    <div
      class="messages"
      ref={scroller}
      onScroll={onScroll}
      role="log"
      aria-label={label}
      aria-live="polite"
      tabIndex={0}
    >
      <div style={{ height: `${offsets[first] ?? 0}px` }} aria-hidden="true" class="spacer" />
      {items.slice(first, last).map((item, i) => {
        const key = keys[first + i] ?? "";
        return (
          <div key={key} data-key={key} ref={observe} class="row">
            {render(item)}
          </div>
        );
      })}
      <div style={{ height: `${total - (offsets[last] ?? total)}px` }} aria-hidden="true" class="spacer" />
      {footer}
    </div>
  );
}

/** The first index whose offset is above `value`. */
function upperBound(offsets: readonly number[], value: number): number {
  let lo = 0;
  let hi = offsets.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((offsets[mid] ?? 0) <= value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
