// Live figures of the node the console is connected to, from
// `admin_stats` every 2 s: counters are turned into rates and histogram
// totals into means over the interval between two samples.

import { useEffect, useRef, useState } from "preact/hooks";
import type { AdminStats } from "magpie-client";
import { usePrefs } from "../views/context";
import { ErrorLine, adminError, client } from "./util";
import { fill } from "../i18n";

const REFRESH_MS = 2000;

/** What the page shows, computed from the last two samples. */
interface Figures {
  connections: number;
  messagesPerSecond: number | undefined;
  pushesPerSecond: number | undefined;
  /** Mean store batch time over the interval, in ms. */
  batchMs: number | undefined;
  /** Mean messages per batch over the interval. */
  batchSize: number | undefined;
  ackMs: number | undefined;
  messagesTotal: number;
  logins: number;
  uptimeS: number;
}

export function figures(now: AdminStats, before: AdminStats | undefined): Figures {
  const seconds = before === undefined ? 0 : (now.at - before.at) / 1000;
  const rate = (a: number, b: number | undefined) =>
    b === undefined || seconds <= 0 ? undefined : Math.max(0, a - b) / seconds;
  const mean = (a: { sum: number; count: number }, b: { sum: number; count: number } | undefined) => {
    if (b === undefined) return undefined;
    const count = a.count - b.count;
    return count > 0 ? (a.sum - b.sum) / count : undefined;
  };
  const batch = mean(now.store_batch_seconds, before?.store_batch_seconds);
  const ack = mean(now.send_ack_seconds, before?.send_ack_seconds);
  return {
    connections: now.connections,
    messagesPerSecond: rate(now.messages_in, before?.messages_in),
    pushesPerSecond: rate(now.messages_out, before?.messages_out),
    batchMs: batch === undefined ? undefined : batch * 1000,
    batchSize: mean(now.store_batch_size, before?.store_batch_size),
    ackMs: ack === undefined ? undefined : ack * 1000,
    messagesTotal: now.messages_in,
    logins: now.logins,
    uptimeS: Math.max(0, Math.round((now.at - now.started_at) / 1000)),
  };
}

export function Overview() {
  const { t, lang } = usePrefs();
  const [shown, setShown] = useState<Figures | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const last = useRef<AdminStats | undefined>(undefined);

  useEffect(() => {
    let stopped = false;
    const sample = async () => {
      try {
        const now = await client().request("admin_stats");
        if (stopped) return;
        setShown(figures(now, last.current));
        last.current = now;
        setError(undefined);
      } catch (caught) {
        if (!stopped) setError(adminError(t, caught));
      }
    };
    void sample();
    const timer = setInterval(() => void sample(), REFRESH_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [t]);

  const number = (value: number | undefined, digits: number) =>
    value === undefined
      ? "—"
      : value.toLocaleString(lang === "zh" ? "zh-CN" : "en", {
          maximumFractionDigits: digits,
          minimumFractionDigits: digits,
        });
  const cards: { key: string; label: string; value: string; unit?: string }[] =
    shown === undefined
      ? []
      : [
          { key: "connections", label: t.adminStatConnections, value: number(shown.connections, 0) },
          { key: "messages", label: t.adminStatMessagesRate, value: number(shown.messagesPerSecond, 1), unit: "/s" },
          { key: "batch", label: t.adminStatBatchLatency, value: number(shown.batchMs, 2), unit: "ms" },
          { key: "pushes", label: t.adminStatPushesRate, value: number(shown.pushesPerSecond, 1), unit: "/s" },
          { key: "ack", label: t.adminStatAckLatency, value: number(shown.ackMs, 2), unit: "ms" },
          { key: "batchSize", label: t.adminStatBatchSize, value: number(shown.batchSize, 1) },
          { key: "total", label: t.adminStatMessagesTotal, value: number(shown.messagesTotal, 0) },
          { key: "logins", label: t.adminStatLogins, value: number(shown.logins, 0) },
          {
            key: "uptime",
            label: t.adminStatUptime,
            value: fill(t.adminUptimeValue, {
              h: Math.floor(shown.uptimeS / 3600),
              m: Math.floor((shown.uptimeS % 3600) / 60),
            }),
          },
        ];
  return (
    <section class="admin-page" aria-labelledby="overview-title">
      <h3 id="overview-title" class="admin-title">
        {t.adminLiveFigures}
      </h3>
      <p class="admin-hint">{t.adminStatsHint}</p>
      <ErrorLine text={error} />
      <dl class="admin-stats" aria-live="off">
        {cards.map((c) => (
          <div key={c.key} class="admin-stat" data-stat={c.key}>
            <dt>{c.label}</dt>
            <dd>
              <span class="admin-stat-value">{c.value}</span>
              {c.unit !== undefined && c.value !== "—" && <span class="admin-stat-unit"> {c.unit}</span>}
            </dd>
          </div>
        ))}
      </dl>
    </section>
  );
}
