/**
 * The operator console (desktop): open bookings searched and filtered on the server, the
 * live map with doctors by status, emergencies and alerts, and one booking's details, the
 * decision's candidates and its whole timeline; every change with a reason; the keyboard
 * for the frequent actions (? lists them).
 */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { Button, LanguageSwitch } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useLocale, useT, type MessageKey, type Translate } from "../../i18n";
import { formatDistance, formatDuration, formatTime } from "../../i18n/format";
import { BOOKING_STATUS, CALL_TYPE, DOCTOR_STATUS, reasonWords } from "../../i18n/words";
import { useStore } from "../../lib/store";
import { signOut } from "../auth/session";
import type { User } from "../auth/types";
import * as opApi from "./api";
import {
  alerts$,
  attachMap,
  connection$,
  detail$,
  emergencies$,
  feedAt$,
  filters$,
  list$,
  loadMore,
  loading$,
  mapMoved,
  openBooking,
  setFilters,
  startConsole,
  stopConsole,
  summary$,
  afterChange,
} from "./console";
import { BOOKING_COLOUR, DOCTOR_COLOURS, EMERGENCY_COLOUR, OperatorMap } from "./OperatorMap";
import { commandFor, HELP, type Command } from "./shortcuts";
import { checkedIds, clearChecked, collapseReads, move, openCursor, target, toggle, type BulkOutcome } from "./store";
import { LIVE_DOCTOR_STATUSES, OPEN_STATUSES, PRIORITIES, type Booking, type Candidate, type Decision, type Priority } from "./types";
import { ALERT, EXCLUDED, PRIORITY, TIMELINE_KIND, shortId, who, words } from "./words";

type DialogKind = "assign" | "return" | "cancel" | "priority" | "bulk_return" | "bulk_cancel";

const isEmergency = (b: Pick<Booking, "is_emergency" | "priority">) => b.is_emergency || b.priority === "emergency";

export function OperatorApp({ user }: { user: User }) {
  const t = useT();
  const [dialog, setDialog] = useState<DialogKind | null>(null);
  const [pickedDoctor, setPickedDoctor] = useState<string>("");
  const [help, setHelp] = useState(false);
  // What the last action did, in the reader's language (kept as a function of it).
  const [result, setResult] = useState<((tr: Translate) => string) | null>(null);
  const [bulkOutcome, setBulkOutcome] = useState<BulkOutcome | null>(null);
  const searchRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    startConsole();
    document.body.classList.add("op-body");
    return () => {
      stopConsole();
      document.body.classList.remove("op-body");
    };
  }, [user.id]);

  const focusRow = useCallback(() => {
    requestAnimationFrame(() => {
      const row = document.querySelector<HTMLElement>("#op-bookings li.cursor .op-row");
      row?.focus({ preventScroll: true });
      row?.scrollIntoView({ block: "nearest" });
    });
  }, []);

  const act = useCallback(
    (kind: DialogKind) => {
      if (kind === "bulk_return" || kind === "bulk_cancel") {
        if (!checkedIds(list$.get()).length) {
          setResult(() => (tr: Translate) => tr("operator.bulk.none"));
          return;
        }
      } else {
        const id = target(list$.get());
        if (!id) return;
        if (detail$.get()?.id !== id) openBooking(id);
      }
      setResult(null);
      setDialog(kind);
    },
    [t],
  );

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const command: Command | null = commandFor(event, { dialogOpen: dialog !== null || help });
      if (!command) return;
      const run: Partial<Record<Command, () => void>> = {
        search: () => searchRef.current?.focus(),
        down: () => {
          list$.set((s) => move(s, 1));
          focusRow();
        },
        up: () => {
          list$.set((s) => move(s, -1));
          focusRow();
        },
        open: () => {
          const s = openCursor(list$.get());
          if (s.openId) openBooking(s.openId);
        },
        assign: () => act("assign"),
        return: () => act("return"),
        cancel: () => act("cancel"),
        priority: () => act("priority"),
        toggle: () => list$.set((s) => toggle(s)),
        bulkReturn: () => act("bulk_return"),
        bulkCancel: () => act("bulk_cancel"),
        area: () => setFilters({ area: !filters$.get().area }),
        help: () => setHelp(true),
        escape: () => {
          if (dialog || help) {
            setDialog(null);
            setHelp(false);
          } else if (document.activeElement instanceof HTMLElement && document.activeElement !== document.body) {
            document.activeElement.blur();
          } else {
            openBooking(null);
          }
        },
      };
      const fn = run[command];
      if (!fn) return;
      event.preventDefault();
      fn();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [dialog, help, act, focusRow]);

  return (
    <div class="op-app">
      <a class="skip" href="#op-bookings-title">
        {t("app.skip")}
      </a>
      <header class="op-top">
        <span class="brand">
          {t("app.brand")} <span class="muted">· {t("operator.title")}</span>
        </span>
        <Figures />
        <span class="op-spacer" />
        <Connection />
        <button type="button" class="btn op-small" id="op-help" aria-keyshortcuts="?" onClick={() => setHelp(true)}>
          {t("operator.help.button")}
        </button>
        <LanguageSwitch />
        <span class="muted op-who" id="op-account">
          {[user.first_name, user.last_name].filter(Boolean).join(" ") || user.email}
        </span>
        <Button class="op-small" id="signout" onClick={() => void signOut()}>
          {t("signin.signOut")}
        </Button>
      </header>
      <main id="main" class="op-main">
        <h1 class="sr-only">{t("operator.title")}</h1>
        <section class="op-left" aria-labelledby="op-bookings-title">
          <SearchForm searchRef={searchRef} />
          <BulkBar onBulk={act} outcome={bulkOutcome} />
          {result && (
            <p class="info op-result" id="op-result" role="status">
              {result(t)}
            </p>
          )}
          <BookingList />
        </section>
        <section class="op-center" aria-label={t("operator.map")}>
          <OperatorMap label={t("operator.map")} onReady={attachMap} onMove={mapMoved} onBooking={(id) => openBooking(id)} onDoctor={(id) => {
              // A doctor clicked on the map while a booking is open: assign them (with a reason).
              if (!detail$.get()?.booking || dialog) return;
              setPickedDoctor(id);
              act("assign");
            }} />
          <Legend />
        </section>
        <aside class="op-right">
          <DetailPanel onAct={act} />
          <Emergencies />
          <Alerts />
        </aside>
      </main>
      {dialog && (
        <ActionDialog
          kind={dialog}
          pickedDoctor={pickedDoctor}
          onClose={() => {
            setDialog(null);
            setPickedDoctor("");
          }}
          onDone={(message, outcome) => {
            setDialog(null);
            setPickedDoctor("");
            setResult(() => message);
            if (outcome) {
              setBulkOutcome(outcome);
              if (outcome.ok) list$.set((s) => clearChecked(s));
            }
            void afterChange();
          }}
        />
      )}
      {help && <HelpOverlay onClose={() => setHelp(false)} />}
    </div>
  );
}

function Figures() {
  const t = useT();
  const s = useStore(summary$);
  return (
    <dl class="op-figures" id="op-figures">
      <div>
        <dt>{t("operator.figures.doctors")}</dt>
        <dd id="doctor-count">{s.total}</dd>
      </div>
      <div>
        <dt>{t("operator.figures.available")}</dt>
        <dd id="available-count">{s.availableFresh}</dd>
      </div>
      <div>
        <dt>{t("operator.figures.open")}</dt>
        <dd id="open-count">{s.openBookings}</dd>
      </div>
      <div>
        <dt>{t("operator.figures.emergencies")}</dt>
        <dd id="emergency-count">{s.emergencies}</dd>
      </div>
      <div>
        <dt>{t("operator.figures.at")}</dt>
        <FeedAt />
      </div>
    </dl>
  );
}

/** The feed's time: the only part of the figures that changes every second. */
function FeedAt() {
  const at = useStore(feedAt$);
  const locale = useLocale();
  return <dd id="feed-at">{at ? formatTime(at, locale) : "—"}</dd>;
}

function Connection() {
  const t = useT();
  const state = useStore(connection$);
  const key: MessageKey = state === "open" ? "operator.connection.open" : state === "ended" || state === "closed" ? "operator.connection.closed" : "operator.connection.connecting";
  return (
    <span class="op-connection" id="connection" data-state={state} role="status">
      {t(key)}
    </span>
  );
}

function Legend() {
  const t = useT();
  const s = useStore(summary$);
  const shown = LIVE_DOCTOR_STATUSES.filter((status) => s.counts[status] > 0);
  return (
    <div class="op-legend" id="op-legend" aria-label={t("operator.legend")} role="group">
      {shown.map((status) => (
        <span key={status} data-status={status}>
          <i class="op-swatch" style={{ background: DOCTOR_COLOURS[status] }} aria-hidden="true" />
          {t(DOCTOR_STATUS[status]!)} <b>{s.counts[status]}</b>
        </span>
      ))}
      {!shown.length && <span class="muted">{t("operator.legend.noDoctors")}</span>}
      <span data-kind="booking">
        <i class="op-swatch square" style={{ background: BOOKING_COLOUR }} aria-hidden="true" />
        {t("operator.legend.booking")}
      </span>
      <span data-kind="emergency">
        <i class="op-swatch square" style={{ background: EMERGENCY_COLOUR }} aria-hidden="true" />
        {t("operator.legend.emergency")}
      </span>
    </div>
  );
}

function SearchForm({ searchRef }: { searchRef: { current: HTMLInputElement | null } }) {
  const t = useT();
  const f = useStore(filters$);
  return (
    <form class="op-search" role="search" aria-label={t("operator.search.label")} onSubmit={(e) => e.preventDefault()}>
      <label class="op-field op-wide">
        <span>{t("operator.search.label")}</span>
        <input
          ref={searchRef}
          id="op-search"
          type="search"
          value={f.q}
          maxLength={200}
          placeholder={t("operator.search.placeholder")}
          aria-keyshortcuts="/"
          onInput={(e) => setFilters({ q: (e.target as HTMLInputElement).value })}
        />
      </label>
      <label class="op-field">
        <span>{t("operator.filter.status")}</span>
        <select id="op-status" value={f.status} onChange={(e) => setFilters({ status: (e.target as HTMLSelectElement).value as typeof f.status })}>
          <option value="">{t("operator.filter.any")}</option>
          {OPEN_STATUSES.map((s) => (
            <option key={s} value={s}>
              {t(BOOKING_STATUS[s]!)}
            </option>
          ))}
        </select>
      </label>
      <label class="op-field">
        <span>{t("operator.filter.priority")}</span>
        <select id="op-priority" value={f.priority} onChange={(e) => setFilters({ priority: (e.target as HTMLSelectElement).value as typeof f.priority })}>
          <option value="">{t("operator.filter.any")}</option>
          {PRIORITIES.map((p) => (
            <option key={p} value={p}>
              {t(PRIORITY[p]!)}
            </option>
          ))}
        </select>
      </label>
      <label class="op-field">
        <span>{t("operator.filter.clinic")}</span>
        <input id="op-clinic" value={f.clinicId} maxLength={64} pattern="[A-Za-z0-9_.\-]{1,64}" onInput={(e) => setFilters({ clinicId: (e.target as HTMLInputElement).value })} />
      </label>
      <label class="op-check">
        <input id="op-area" type="checkbox" checked={f.area} aria-keyshortcuts="m" onChange={(e) => setFilters({ area: (e.target as HTMLInputElement).checked })} />
        {t("operator.filter.area")}
      </label>
    </form>
  );
}

function BulkBar({ onBulk, outcome }: { onBulk: (kind: DialogKind) => void; outcome: BulkOutcome | null }) {
  const t = useT();
  const list = useStore(list$);
  const n = checkedIds(list).length;
  return (
    <div class="op-bulk" id="op-bulk" data-count={String(n)}>
      {n > 0 && (
        <>
          <span>{t("operator.bulk.selected", { count: n })}</span>
          <button type="button" class="btn op-small" id="bulk-return" aria-keyshortcuts="Shift+R" onClick={() => onBulk("bulk_return")}>
            {t("operator.bulk.return")}
          </button>
          <button type="button" class="btn op-small danger" id="bulk-cancel" aria-keyshortcuts="Shift+C" onClick={() => onBulk("bulk_cancel")}>
            {t("operator.bulk.cancel")}
          </button>
          <button type="button" class="btn op-small" id="bulk-clear" onClick={() => list$.set((s) => clearChecked(s))}>
            {t("operator.bulk.clear")}
          </button>
        </>
      )}
      {outcome && (
        <p id="bulk-result" class={outcome.ok ? "info" : "error"} data-ok={outcome.ok ? "true" : "false"} role="status">
          {outcome.ok
            ? t(outcome.action === "cancel" ? "operator.bulk.cancelled" : "operator.bulk.returned", { count: outcome.count })
            : t("operator.bulk.failed", { count: outcome.count, detail: outcome.detail })}
        </p>
      )}
    </div>
  );
}

function BookingList() {
  const t = useT();
  const locale = useLocale();
  const list = useStore(list$);
  const loading = useStore(loading$);
  return (
    <div class="op-list-wrap">
      <h2 id="op-bookings-title" class="op-h2">
        {t("operator.bookings.title")} <span class="muted">({list.bookings.length}{list.nextCursor ? "+" : ""})</span>
      </h2>
      {loading.error ? (
        <p class="error" role="alert">
          {errorText(t, loading.error)}
        </p>
      ) : null}
      <ul class="op-list" id="op-bookings" aria-busy={loading.busy ? "true" : "false"}>
        {list.bookings.map((b, i) => {
          const emergency = isEmergency(b);
          const checked = list.checked.has(b.id);
          return (
            <li
              key={b.id}
              data-booking-id={b.id}
              data-status={b.status}
              class={[i === list.cursor ? "cursor" : "", list.openId === b.id ? "open" : "", emergency ? "emergency" : ""].join(" ").trim()}
            >
              <input
                type="checkbox"
                class="op-tick"
                checked={checked}
                aria-label={t("operator.bookings.tick", { id: shortId(b.id) })}
                onChange={() => list$.set((s) => toggle(s, b.id))}
              />
              <button type="button" class="op-row" aria-current={list.openId === b.id ? "true" : undefined} onClick={() => openBooking(b.id)}>
                <span class="op-row-top">
                  <b class="op-id">{shortId(b.id)}</b>
                  <span class={`badge status-${b.status}`}>{t(BOOKING_STATUS[b.status] ?? "status.unknown")}</span>
                  {b.priority !== "normal" && <span class={`badge prio-${b.priority}`}>{t(PRIORITY[b.priority]!)}</span>}
                  <time class="muted">{formatTime(b.created_at, locale)}</time>
                </span>
                <span class="op-row-sub">
                  {t(CALL_TYPE[b.call_type] ?? "operator.callType.other")} · {b.address || `${b.latitude.toFixed(4)}, ${b.longitude.toFixed(4)}`}
                </span>
              </button>
            </li>
          );
        })}
        {!list.bookings.length && !loading.busy && <li class="muted op-empty">{t("operator.bookings.none")}</li>}
      </ul>
      {list.nextCursor && (
        <Button class="op-small" id="op-more" onClick={() => void loadMore()}>
          {t("operator.bookings.more")}
        </Button>
      )}
    </div>
  );
}

function DetailPanel({ onAct }: { onAct: (kind: DialogKind) => void }) {
  const t = useT();
  const locale = useLocale();
  const detail = useStore(detail$);
  if (!detail) {
    return (
      <section class="op-card" id="op-detail-empty">
        <h2 class="op-h2">{t("operator.detail.title")}</h2>
        <p class="muted">{t("operator.detail.pick")}</p>
      </section>
    );
  }
  const b = detail.booking;
  return (
    <section class="op-card op-detail" id="op-detail" data-booking-id={detail.id} aria-labelledby="op-detail-title">
      <h2 class="op-h2" id="op-detail-title">
        {t("operator.detail.booking", { id: shortId(detail.id) })}{" "}
        {b && (
          <span class={`badge status-${b.status}`} id="detail-status" data-status={b.status}>
            {t(BOOKING_STATUS[b.status] ?? "status.unknown")}
          </span>
        )}
      </h2>
      {detail.error ? (
        <p class="error" role="alert">
          {errorText(t, detail.error)}
        </p>
      ) : null}
      {!b ? (
        <p class="muted">{t("app.loading")}</p>
      ) : (
        <>
          {isEmergency(b) && <p class="op-emergency-flag">{t("operator.detail.emergency")}</p>}
          <dl class="op-facts">
            <dt>{t("operator.detail.address")}</dt>
            <dd id="detail-address">{b.address || `${b.latitude}, ${b.longitude}`}</dd>
            <dt>{t("operator.detail.call")}</dt>
            <dd>
              {t(CALL_TYPE[b.call_type] ?? "operator.callType.other")}, {t(PRIORITY[b.priority]!)}
              {b.patient_is_child ? `, ${t("operator.detail.child")}` : ""}
            </dd>
            <dt>{t("operator.detail.symptoms")}</dt>
            <dd>{b.symptoms || "—"}</dd>
            <dt>{t("operator.detail.doctor")}</dt>
            <dd id="detail-doctor" data-doctor-id={b.doctor?.id ?? ""}>
              {b.doctor ? [b.doctor.first_name, b.doctor.last_name].filter(Boolean).join(" ") || shortId(b.doctor.id) : t("operator.detail.noDoctor")}
            </dd>
            <dt>{t("operator.detail.created")}</dt>
            <dd>{formatTime(b.created_at, locale)}</dd>
            <dt>{t("operator.detail.id")}</dt>
            <dd class="op-mono">{b.id}</dd>
          </dl>
          <div class="op-actions">
            <button type="button" class="btn op-small primary" id="act-assign" aria-keyshortcuts="a" onClick={() => onAct("assign")}>
              {b.doctor ? t("operator.action.reassign") : t("operator.action.assign")} <kbd>a</kbd>
            </button>
            <button type="button" class="btn op-small" id="act-return" aria-keyshortcuts="r" onClick={() => onAct("return")}>
              {t("operator.action.return")} <kbd>r</kbd>
            </button>
            <button type="button" class="btn op-small" id="act-priority" aria-keyshortcuts="p" onClick={() => onAct("priority")}>
              {t("operator.action.priority")} <kbd>p</kbd>
            </button>
            <button type="button" class="btn op-small danger" id="act-cancel" aria-keyshortcuts="c" onClick={() => onAct("cancel")}>
              {t("operator.action.cancel")} <kbd>c</kbd>
            </button>
          </div>
          <Candidates decision={detail.decision} />
          <TimelineView />
        </>
      )}
    </section>
  );
}

function DoctorName({ id }: { id: string }) {
  const [name, setName] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    void opApi.doctorName(id).then((n) => live && setName(n));
    return () => {
      live = false;
    };
  }, [id]);
  return <span data-doctor-id={id}>{name ?? shortId(id)}</span>;
}

export function sortedCandidates(decision: Decision | null): Candidate[] {
  return [...(decision?.considered ?? [])].sort((x, y) => (x.rank ?? 1e9) - (y.rank ?? 1e9) || x.distance_m - y.distance_m);
}

function Candidates({ decision }: { decision: Decision | null }) {
  const t = useT();
  const locale = useLocale();
  const rows = sortedCandidates(decision);
  return (
    <>
      <h3 class="op-h3">
        {t("operator.candidates.title")}{" "}
        <span class="muted small">{decision?.decided_at ? t("operator.candidates.decided", { time: formatTime(decision.decided_at, locale) }) : t("operator.candidates.notYet")}</span>
      </h3>
      <table class="op-table" id="op-candidates">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">{t("operator.candidates.doctor")}</th>
            <th scope="col">{t("operator.candidates.eta")}</th>
            <th scope="col">{t("operator.candidates.distance")}</th>
            <th scope="col">{t("operator.candidates.why")}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((c) => (
            <tr key={c.doctor_id} class={c.excluded ? "excluded" : "candidate"} data-doctor-id={c.doctor_id} data-rank={c.rank ?? ""}>
              <td>{c.rank ?? "—"}</td>
              <td>
                <DoctorName id={c.doctor_id} />
              </td>
              <td class="num eta">{formatDuration(c.eta_s, locale)}</td>
              <td class="num">{formatDistance(c.distance_m, locale)}</td>
              <td>{c.excluded ? words(t, EXCLUDED, c.excluded) : why(t, c)}</td>
            </tr>
          ))}
          {!rows.length && (
            <tr>
              <td colSpan={5} class="muted">
                {t("operator.candidates.none")}
              </td>
            </tr>
          )}
        </tbody>
      </table>
      <p class="muted small">{t("operator.candidates.rule")}</p>
    </>
  );
}

function why(t: ReturnType<typeof useT>, c: Candidate): string {
  const parts: string[] = [];
  if (c.cost_s !== null) parts.push(t("operator.candidates.cost", { seconds: Math.round(c.cost_s) }));
  if (c.visit_remainder_s) parts.push(t("operator.candidates.visitLeft", { seconds: Math.round(c.visit_remainder_s) }));
  if (c.rating !== null) parts.push(t("operator.candidates.rating", { rating: c.rating.toFixed(1) }));
  if (c.visits_today) parts.push(t("operator.candidates.visitsToday", { count: c.visits_today }));
  return parts.join(", ");
}

function TimelineView() {
  const t = useT();
  const locale = useLocale();
  const detail = useStore(detail$);
  const entries = collapseReads(detail?.timeline?.entries ?? []);
  return (
    <>
      <h3 class="op-h3">{t("operator.timeline.title")}</h3>
      <ol class="op-timeline" id="op-timeline">
        {entries.map((e, i) => {
          const said = e.kind === "audit" ? { text: e.detail } : reasonWords(e.detail);
          return (
            <li key={`${e.at}-${i}`} data-kind={e.kind} data-status={e.status ?? ""}>
              <time>{formatTime(e.at, locale)}</time>
              <span class="op-tl-kind">{words(t, TIMELINE_KIND, e.kind)}</span>
              {e.kind === "status" && e.status && <b>{t(BOOKING_STATUS[e.status] ?? "status.unknown")}</b>}
              {said && <span class="op-tl-detail">{"key" in said ? t(said.key) : said.text}</span>}
              {e.times > 1 && <span class="muted">×{e.times}</span>}
              <span class="op-tl-by muted">{who(t, e.by)}</span>
            </li>
          );
        })}
        {!entries.length && <li class="muted">{t("operator.timeline.none")}</li>}
      </ol>
    </>
  );
}

function Emergencies() {
  const t = useT();
  const locale = useLocale();
  const list = useStore(emergencies$);
  return (
    <section class="op-card" aria-labelledby="op-emergencies-title">
      <h2 class="op-h2" id="op-emergencies-title">
        {t("operator.emergencies.title")} <span class="muted">({list.length})</span>
      </h2>
      <ul class="op-mini" id="op-emergencies">
        {list.map((b) => (
          <li key={b.id} data-booking-id={b.id}>
            <button type="button" class="op-link" onClick={() => openBooking(b.id)}>
              <b>{shortId(b.id)}</b> {t(BOOKING_STATUS[b.status] ?? "status.unknown")} · {t(CALL_TYPE[b.call_type] ?? "operator.callType.other")} ·{" "}
              {formatTime(b.created_at, locale)}
            </button>
          </li>
        ))}
        {!list.length && <li class="muted">{t("operator.emergencies.none")}</li>}
      </ul>
    </section>
  );
}

function Alerts() {
  const t = useT();
  const locale = useLocale();
  const alerts = useStore(alerts$);
  return (
    <section class="op-card" aria-labelledby="op-alerts-title">
      <h2 class="op-h2" id="op-alerts-title">
        {t("operator.alerts.title")} <span class="muted">({alerts.length})</span>
      </h2>
      <ul class="op-mini" id="op-alerts" aria-live="polite">
        {alerts.map((a, i) => (
          <li key={`${a.seq ?? i}-${a.booking_id}-${a.kind}`} data-kind={a.kind} data-booking-id={a.booking_id}>
            <time class="muted">{formatTime(a.at, locale)}</time> <b class={`op-alert-${a.kind}`}>{words(t, ALERT, a.kind)}</b>{" "}
            <button type="button" class="op-link" onClick={() => openBooking(a.booking_id)}>
              {shortId(a.booking_id)}
            </button>{" "}
            <span class="muted">{a.detail}</span>
          </li>
        ))}
        {!alerts.length && <li class="muted">{t("operator.alerts.none")}</li>}
      </ul>
    </section>
  );
}

function useDialogFocus(ref: { current: HTMLElement | null }) {
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>("select, textarea, input, button");
    first?.focus();
    return () => before?.focus?.();
  }, [ref]);
}

function ActionDialog({
  kind,
  pickedDoctor = "",
  onClose,
  onDone,
}: {
  kind: DialogKind;
  pickedDoctor?: string;
  onClose: () => void;
  onDone: (message: (tr: Translate) => string, outcome?: BulkOutcome) => void;
}) {
  const t = useT();
  const locale = useLocale();
  const detail = useStore(detail$);
  const list = useStore(list$);
  const box = useRef<HTMLFormElement>(null);
  const b = detail?.booking ?? null;
  const candidates = sortedCandidates(detail?.decision ?? null).filter((c) => c.doctor_id !== b?.doctor?.id);
  const [reason, setReason] = useState("");
  const picked = candidates.some((c) => c.doctor_id === pickedDoctor);
  const [doctor, setDoctor] = useState(picked ? pickedDoctor : (candidates.find((c) => !c.excluded)?.doctor_id ?? candidates[0]?.doctor_id ?? ""));
  const [otherId, setOtherId] = useState(pickedDoctor && !picked ? pickedDoctor : "");
  const [release, setRelease] = useState(false);
  const [priority, setPriority] = useState<Priority>(b?.priority === "urgent" ? "emergency" : b?.priority === "normal" ? "urgent" : "normal");
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useDialogFocus(box);
  const firstCandidate = candidates.find((c) => !c.excluded)?.doctor_id ?? candidates[0]?.doctor_id ?? "";
  useEffect(() => {
    if (!doctor && firstCandidate) setDoctor(firstCandidate); // the decision came after the dialog opened
  }, [doctor, firstCandidate]);
  const bulk = kind === "bulk_return" || kind === "bulk_cancel";
  const ids = bulk ? checkedIds(list) : [];
  const reassigningEmergency = kind === "assign" && b !== null && isEmergency(b) && b.doctor !== null;

  const titles: Record<DialogKind, MessageKey> = {
    assign: b?.doctor ? "operator.action.reassign" : "operator.action.assign",
    return: "operator.action.return",
    cancel: "operator.action.cancel",
    priority: "operator.action.priority",
    bulk_return: "operator.bulk.return",
    bulk_cancel: "operator.bulk.cancel",
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setError(null);
    const why = reason.trim();
    if (!why) {
      setError(t("operator.action.reasonMissing"));
      document.getElementById("action-reason")?.focus();
      return;
    }
    const doctorId = otherId.trim() || doctor;
    if (kind === "assign" && !doctorId) {
      setError(t("operator.action.doctorMissing"));
      return;
    }
    if (reassigningEmergency && !confirming) {
      setConfirming(true);
      requestAnimationFrame(() => document.getElementById("action-confirm")?.focus());
      return;
    }
    setBusy(true);
    try {
      if (bulk) {
        const action = kind === "bulk_cancel" ? "cancel" : "return_to_search";
        try {
          const done = await opApi.bulk(action, ids, why);
          const count = done.bookings.length;
          onDone((tr) => tr(action === "cancel" ? "operator.bulk.cancelled" : "operator.bulk.returned", { count }), {
            ok: true,
            action,
            count: done.bookings.length,
            ids: done.bookings.map((x) => x.id),
          });
        } catch (exc) {
          const detailText = errorText(t, exc);
          const count = ids.length;
          onDone((tr) => tr("operator.bulk.failed", { count, detail: detailText }), { ok: false, action, count, detail: detailText });
        }
        return;
      }
      if (!b) return;
      let after: Booking;
      if (kind === "assign") after = await opApi.assign(b.id, doctorId, why, release);
      else if (kind === "return") after = await opApi.returnToSearch(b.id, why);
      else if (kind === "cancel") after = await opApi.cancel(b.id, why);
      else after = await opApi.changePriority(b.id, priority, why);
      onDone((tr) =>
        tr("operator.action.done", {
          id: shortId(after.id),
          status: tr(BOOKING_STATUS[after.status] ?? "status.unknown"),
          priority: tr(PRIORITY[after.priority]!),
        }),
      );
    } catch (exc) {
      setConfirming(false);
      setError(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="overlay op-overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <form
        ref={box}
        class={`dialog op-dialog${reassigningEmergency ? " emergency" : ""}`}
        role="dialog"
        aria-modal="true"
        aria-labelledby="action-title"
        id="action-dialog"
        data-kind={kind}
        onSubmit={submit}
        noValidate
      >
        <h2 id="action-title" class="op-h2">
          {t(titles[kind])}{" "}
          <span class="muted">{bulk ? t("operator.bulk.selected", { count: ids.length }) : shortId(b?.id)}</span>
        </h2>
        {bulk && <p class="muted small">{t("operator.bulk.allOrNothing")}</p>}
        {kind === "assign" && (
          <>
            <label class="op-field" for="action-doctor">
              <span>{t("operator.action.doctor")}</span>
            </label>
            <select id="action-doctor" value={doctor} onChange={(e) => setDoctor((e.target as HTMLSelectElement).value)}>
              {candidates.map((c) => (
                <option key={c.doctor_id} value={c.doctor_id}>
                  {c.rank ? `#${c.rank}` : words(t, EXCLUDED, c.excluded)} · {shortId(c.doctor_id)} · {t("operator.candidates.eta")} {formatDuration(c.eta_s, locale)} ·{" "}
                  {formatDistance(c.distance_m, locale)}
                </option>
              ))}
            </select>
            {!candidates.length && <p class="muted small">{t("operator.candidates.none")}</p>}
            <label class="op-field" for="action-doctor-id">
              <span>{t("operator.action.doctorId")}</span>
            </label>
            <input id="action-doctor-id" value={otherId} maxLength={128} autocomplete="off" onInput={(e) => setOtherId((e.target as HTMLInputElement).value)} />
            <label class="op-check">
              <input id="action-release" type="checkbox" checked={release} onChange={(e) => setRelease((e.target as HTMLInputElement).checked)} />
              {t("operator.action.release")}
            </label>
          </>
        )}
        {kind === "priority" && (
          <>
            <label class="op-field" for="action-priority">
              <span>{t("operator.filter.priority")}</span>
            </label>
            <select id="action-priority" value={priority} onChange={(e) => setPriority((e.target as HTMLSelectElement).value as Priority)}>
              {PRIORITIES.map((p) => (
                <option key={p} value={p}>
                  {t(PRIORITY[p]!)}
                </option>
              ))}
            </select>
          </>
        )}
        <label class="op-field" for="action-reason">
          <span>{t("operator.action.reason")}</span>
        </label>
        <input
          id="action-reason"
          value={reason}
          maxLength={1000}
          required
          aria-invalid={error && !reason.trim() ? "true" : undefined}
          aria-describedby={error ? "action-error" : undefined}
          onInput={(e) => setReason((e.target as HTMLInputElement).value)}
        />
        {confirming && (
          <p class="op-confirm" id="action-confirm-text" role="alert">
            {t("operator.action.confirmEmergency")}
          </p>
        )}
        {error && (
          <p class="error" id="action-error" role="alert">
            {error}
          </p>
        )}
        <div class="op-actions">
          {confirming ? (
            <Button type="submit" kind="danger" id="action-confirm" busy={busy}>
              {t("operator.action.confirm")}
            </Button>
          ) : (
            <Button type="submit" kind={kind === "cancel" || kind === "bulk_cancel" ? "danger" : "primary"} id="action-submit" busy={busy}>
              {t(titles[kind])}
            </Button>
          )}
          <Button id="action-close" onClick={onClose}>
            {t("operator.action.back")}
          </Button>
        </div>
      </form>
    </div>
  );
}

function HelpOverlay({ onClose }: { onClose: () => void }) {
  const t = useT();
  const box = useRef<HTMLDivElement>(null);
  useDialogFocus(box);
  return (
    <div class="overlay op-overlay" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div ref={box} class="dialog op-dialog" role="dialog" aria-modal="true" aria-labelledby="help-title" id="op-help-dialog">
        <h2 id="help-title" class="op-h2">
          {t("operator.help.title")}
        </h2>
        <table class="op-table">
          <tbody>
            {HELP.map((h) => (
              <tr key={h.keys}>
                <th scope="row">
                  <kbd>{h.keys}</kbd>
                </th>
                <td>{t(h.what)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p class="muted small">{t("operator.help.typing")}</p>
        <Button id="help-close" onClick={onClose}>
          {t("operator.help.close")}
        </Button>
      </div>
    </div>
  );
}
