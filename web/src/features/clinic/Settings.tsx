/** The clinic's settings: name and contacts, opening hours and time zone, and the area
 * it serves drawn on the map (saved as a GeoJSON MultiPolygon; none: anywhere). */
import { Fragment } from "preact";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Alert, Button, Field, useFocusHeading } from "../../components/ui";
import { errorText } from "../../components/errors";
import { useT, type MessageKey } from "../../i18n";
import { ApiError } from "../../lib/http";
import { checkPhone, normalisePhone } from "../auth/validate";
import { AreaMap } from "./AreaMap";
import { clinicsApi, type Clinic } from "./api";
import { fromRows, toRows, type DayRow } from "./hours";
import {
  addVertex,
  canClose,
  cancelDraft,
  closeDraft,
  deletePolygon,
  deleteVertex,
  fromMultiPolygon,
  moveVertex,
  select,
  startDraft,
  toMultiPolygon,
  undoVertex,
  type AreaState,
  type Point,
} from "./polygons";

const WEEKDAYS: MessageKey[] = ["clinic.mon", "clinic.tue", "clinic.wed", "clinic.thu", "clinic.fri", "clinic.sat", "clinic.sun"];

function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  try {
    return intl.supportedValuesOf?.("timeZone") ?? ["Europe/Moscow", "Europe/Helsinki", "Europe/Lisbon", "UTC"];
  } catch {
    return ["Europe/Moscow", "UTC"];
  }
}

export function ClinicSettings({ clinic, onSaved }: { clinic: Clinic; onSaved: (c: Clinic) => void }) {
  const t = useT();
  useFocusHeading("clinic-settings");
  const [name, setName] = useState(clinic.name);
  const [phone, setPhone] = useState(clinic.phone ?? "");
  const [email, setEmail] = useState(clinic.email ?? "");
  const [address, setAddress] = useState(clinic.address ?? "");
  const [timezone, setTimezone] = useState(clinic.timezone);
  const [rows, setRows] = useState<DayRow[]>(toRows(clinic.opening_hours ?? []));
  const [area, setArea] = useState<AreaState>(fromMultiPolygon(clinic.area));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const centre = useRef<(() => Point | null) | null>(null);
  const zones = useMemo(timeZones, []);

  const setRow = (weekday: number, patch: Partial<DayRow>) => setRows((rs) => rs.map((r) => (r.weekday === weekday ? { ...r, ...patch } : r)));

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!area.draft) return;
      const target = e.target as HTMLElement | null;
      if (target && /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)) return;
      if (e.key === "Escape") setArea(cancelDraft);
      else if (e.key === "Backspace") {
        e.preventDefault();
        setArea(undoVertex);
      } else if (e.key === "Enter" && canClose(area)) {
        e.preventDefault();
        setArea(closeDraft);
      }
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [area]);

  const save = async (event: Event) => {
    event.preventDefault();
    setFailure(null);
    setSaved(false);
    const found: Record<string, string> = {};
    if (!name.trim()) found.name = t("clinic.nameRequired");
    const phoneProblem = checkPhone(phone);
    if (phoneProblem) found.phone = t(phoneProblem);
    if (email.trim() && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email.trim())) found.email = t("clinic.emailInvalid");
    const { hours, bad } = fromRows(rows);
    if (bad.length) found.opening_hours = t("clinic.hoursInvalid", { days: bad.map((d) => t(WEEKDAYS[d]!)).join(", ") });
    if (area.draft) found.area = t("clinic.areaUnfinished");
    setErrors(found);
    if (Object.keys(found).length) return;
    setBusy(true);
    try {
      const next = await clinicsApi.patch(clinic.clinic_id, {
        name: name.trim(),
        // An empty contact is "" (null would mean "leave it as it is").
        phone: normalisePhone(phone.trim()),
        email: email.trim(),
        address: address.trim(),
        timezone,
        opening_hours: hours,
        area: toMultiPolygon(area),
      });
      onSaved(next);
      setSaved(true);
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 422 && exc.fields.length) {
        const byField: Record<string, string> = {};
        for (const e of exc.problem?.errors ?? []) {
          const field = (e.loc ?? []).find((l) => typeof l === "string" && ["name", "phone", "email", "address", "timezone", "opening_hours", "area"].includes(l));
          if (typeof field === "string") byField[field] = e.msg ?? t("clinic.invalidValue");
        }
        setErrors(byField);
      }
      setFailure(errorText(t, exc));
    } finally {
      setBusy(false);
    }
  };

  const fieldProps = (key: string) => ({
    "aria-invalid": errors[key] ? ("true" as const) : undefined,
    "aria-describedby": errors[key] ? `clinic-${key}-error` : undefined,
  });

  return (
    <main id="main">
      <h1>{t("clinic.settingsTitle")}</h1>
      <form onSubmit={save} noValidate id="clinic-settings">
        <div class="split">
          <div>
            <section class="panel">
              <h2>{t("clinic.contacts")}</h2>
              <Field id="clinic-name" label={t("clinic.name")} error={errors.name}>
                <input id="clinic-name" value={name} onInput={(e) => setName(e.currentTarget.value)} {...fieldProps("name")} />
              </Field>
              <Field id="clinic-phone" label={t("clinic.phone")} error={errors.phone}>
                <input id="clinic-phone" type="tel" value={phone} onInput={(e) => setPhone(e.currentTarget.value)} {...fieldProps("phone")} />
              </Field>
              <Field id="clinic-email" label={t("clinic.email")} error={errors.email}>
                <input id="clinic-email" type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} {...fieldProps("email")} />
              </Field>
              <Field id="clinic-address" label={t("clinic.address")} error={errors.address}>
                <input id="clinic-address" value={address} onInput={(e) => setAddress(e.currentTarget.value)} {...fieldProps("address")} />
              </Field>
              <Field id="clinic-timezone" label={t("clinic.timezone")} error={errors.timezone}>
                <select id="clinic-timezone" value={timezone} onChange={(e) => setTimezone(e.currentTarget.value)} {...fieldProps("timezone")}>
                  {(zones.includes(timezone) ? zones : [timezone, ...zones]).map((z) => (
                    <option key={z} value={z}>
                      {z}
                    </option>
                  ))}
                </select>
              </Field>
            </section>
            <fieldset class="panel" id="clinic-hours" aria-describedby={errors.opening_hours ? "clinic-opening_hours-error" : undefined}>
              <legend>{t("clinic.hours")}</legend>
              <div class="hours">
                {rows.map((r) => (
                  <Fragment key={r.weekday}>
                    <label class="choice">
                      <input type="checkbox" id={`hours-open-${r.weekday}`} checked={r.open} onChange={(e) => setRow(r.weekday, { open: e.currentTarget.checked })} />
                      {t(WEEKDAYS[r.weekday]!)}
                    </label>
                    <input
                      type="time"
                      id={`hours-opens-${r.weekday}`}
                      aria-label={t("clinic.opensOn", { day: t(WEEKDAYS[r.weekday]!) })}
                      value={r.opens}
                      disabled={!r.open}
                      onInput={(e) => setRow(r.weekday, { opens: e.currentTarget.value })}
                    />
                    <input
                      type="time"
                      id={`hours-closes-${r.weekday}`}
                      aria-label={t("clinic.closesOn", { day: t(WEEKDAYS[r.weekday]!) })}
                      value={r.closes}
                      disabled={!r.open}
                      onInput={(e) => setRow(r.weekday, { closes: e.currentTarget.value })}
                    />
                    <span class="muted small">
                      {r.open ? "" : t("clinic.closed")}
                    </span>
                  </Fragment>
                ))}
              </div>
              {errors.opening_hours && (
                <p class="error" id="clinic-opening_hours-error" role="alert">
                  {errors.opening_hours}
                </p>
              )}
            </fieldset>
          </div>
          <section class="panel" aria-labelledby="area-title">
            <h2 id="area-title">{t("clinic.areaTitle")}</h2>
            <p class="muted small" id="area-help">
              {area.draft ? t("clinic.areaDrawingHelp") : t("clinic.areaHelp")}
            </p>
            <AreaMap
              area={area}
              label={t("clinic.areaMap")}
              centreRef={centre}
              onClickPoint={(p) => setArea((s) => addVertex(s, p))}
              onSelect={(i) => setArea((s) => select(s, i))}
              onMoveVertex={(poly, v, p) => setArea((s) => moveVertex(s, poly, v, p))}
              onDoubleClick={() => setArea(closeDraft)}
            />
            <div class="area-tools">
              {area.draft ? (
                <>
                  <Button
                    id="area-add-centre"
                    onClick={() => {
                      const p = centre.current?.();
                      if (p) setArea((s) => addVertex(s, p));
                    }}
                  >
                    {t("clinic.areaAddCentre")}
                  </Button>
                  <Button id="area-undo" onClick={() => setArea(undoVertex)} disabled={!area.draft.length}>
                    {t("clinic.areaUndo")}
                  </Button>
                  <Button kind="primary" id="area-close" onClick={() => setArea(closeDraft)} disabled={!canClose(area)}>
                    {t("clinic.areaClose")}
                  </Button>
                  <Button id="area-cancel" onClick={() => setArea(cancelDraft)}>
                    {t("clinic.cancel")}
                  </Button>
                  <span class="muted small" role="status" id="area-draft-count">
                    {t("clinic.vertices", { count: area.draft.length })}
                  </span>
                </>
              ) : (
                <Button id="area-draw" onClick={() => setArea(startDraft)}>
                  {t("clinic.areaDraw")}
                </Button>
              )}
            </div>
            {area.polygons.length ? (
              <ol class="area-list" id="area-polygons">
                {area.polygons.map((ring, i) => (
                  <li key={i} data-selected={area.selected === i ? "true" : "false"}>
                    <span>{t("clinic.polygon", { n: i + 1, count: ring.length })}</span>
                    <Button id={`area-select-${i}`} aria-pressed={area.selected === i ? "true" : "false"} onClick={() => setArea((s) => select(s, s.selected === i ? null : i))}>
                      {t("clinic.areaEdit")}
                    </Button>
                    {area.selected === i && ring.length > 3 && (
                      <Button id={`area-drop-vertex-${i}`} onClick={() => setArea((s) => deleteVertex(s, i, ring.length - 1))}>
                        {t("clinic.areaDropVertex")}
                      </Button>
                    )}
                    <Button kind="danger" id={`area-delete-${i}`} onClick={() => setArea((s) => deletePolygon(s, i))}>
                      {t("clinic.areaDelete")}
                    </Button>
                  </li>
                ))}
              </ol>
            ) : (
              <p id="area-none">{t("clinic.areaNone")}</p>
            )}
            {errors.area && (
              <p class="error" id="clinic-area-error" role="alert">
                {errors.area}
              </p>
            )}
          </section>
        </div>
        <Alert id="settings-error">{failure}</Alert>
        {saved && (
          <p class="info" role="status" id="settings-saved">
            {t("clinic.saved")}
          </p>
        )}
        <Button kind="primary" type="submit" id="settings-save" busy={busy}>
          {t("clinic.save")}
        </Button>
      </form>
    </main>
  );
}
