// Formatting of times, durations and status words for display.

import { h } from './dom.js';
import { FINAL_STATUSES, label, NO_BUILDS } from './status.js';

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A timestamp in the reader's locale; '—' when there is none. */
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : dateFmt.format(d);
}

/** A <time> element with the machine-readable timestamp. */
export function timeEl(iso) {
  return h('time', { datetime: iso, title: iso }, fmtTime(iso));
}

/** 42s, 3m 07s, 1h 05m. */
export function fmtDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** "just now", "5 min ago", ... */
export function relative(iso) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const diff = Date.now() - t;
  if (diff < 0) return 'in the future';
  if (diff < 60000) return 'just now';
  if (diff < 3600000) return `${Math.floor(diff / 60000)} min ago`;
  if (diff < 86400000) return `${Math.floor(diff / 3600000)} h ago`;
  return `${Math.floor(diff / 86400000)} d ago`;
}

/** How long a build or job ran, as it stood at `asOf`. */
export function runTime(start, stop, asOf) {
  if (!start) return 'not started';
  const s = new Date(start).getTime();
  const a = asOf ? new Date(asOf).getTime() : Date.now();
  const e = stop ? new Date(stop).getTime() : NaN;
  if (Number.isFinite(e) && e <= a) return fmtDuration(e - s);
  return `${fmtDuration(a - s)} so far`;
}

/** A status badge; the words and labels come from the server (status.js). */
export function badge(word, extraLabel) {
  const w = word || 'unknown';
  return h('span', { class: `badge badge-${w.replace(/[^a-z_]/g, '')}` },
    extraLabel ? h('span', { class: 'visually-hidden' }, `${extraLabel}: `) : null,
    label(w));
}

/** The word a snapshot's badge shows: its summary once complete, else its state. */
export function summaryWord(snap) {
  if (snap.state === 'complete') return snap.summary || NO_BUILDS;
  return snap.state;
}

/**
 * What became of a complete snapshot's builds that were still going at
 * deploy time: 'failed_since' when one of them has since failed or
 * errored, 'changed_since' when they finished otherwise, else null. The
 * frozen part never changes; this reads the `current_status` beside it.
 */
export function sinceDeploy(snap) {
  if (!snap || snap.state !== 'complete') return null;
  const moved = (snap.builds || []).filter((b) => !FINAL_STATUSES.includes(b.status)
    && b.current_status && FINAL_STATUSES.includes(b.current_status));
  if (moved.some((b) => b.current_status === 'failed' || b.current_status === 'error')) return 'failed_since';
  return moved.length ? 'changed_since' : null;
}
