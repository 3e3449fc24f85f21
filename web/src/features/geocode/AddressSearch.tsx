/**
 * An address field with suggestions (the ARIA combobox pattern): typing asks the
 * geocoder (near the map's centre), arrow keys move through the list, Enter picks; saved
 * addresses are offered while the field is empty.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { useLocale, useT } from "../../i18n";
import { formatDistance } from "../../i18n/format";
import type { SavedAddress } from "../auth/types";
import type { LatLon } from "../map/types";
import { searchAddress, type Place } from "./api";

export interface PickedAddress extends LatLon {
  label: string;
}

interface Option {
  key: string;
  label: string;
  hint: string;
  picked: PickedAddress;
}

export function AddressSearch({
  id,
  value,
  onText,
  onPick,
  near,
  saved = [],
  required = false,
  invalid = false,
  describedBy,
}: {
  id: string;
  value: string;
  onText: (text: string) => void;
  onPick: (place: PickedAddress) => void;
  near: LatLon | null;
  saved?: SavedAddress[];
  required?: boolean;
  invalid?: boolean;
  describedBy?: string;
}) {
  const t = useT();
  const locale = useLocale();
  const [open, setOpen] = useState(false);
  const [results, setResults] = useState<Place[]>([]);
  const [active, setActive] = useState(-1);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const typed = useRef(false);
  const listId = `${id}-options`;

  useEffect(() => {
    if (!typed.current) return;
    const q = value.trim();
    if (q.length < 2) {
      setResults([]);
      return;
    }
    const controller = new AbortController();
    const timer = setTimeout(async () => {
      setBusy(true);
      try {
        const found = await searchAddress(q, near, locale, controller.signal);
        setResults(found);
        setProblem(found.length ? null : t("address.nothingFound"));
        setActive(found.length ? 0 : -1);
        setOpen(true);
      } catch (exc) {
        if (!(exc instanceof DOMException && exc.name === "AbortError")) setProblem(t("address.searchFailed"));
      } finally {
        setBusy(false);
      }
    }, 250);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [value, locale]);

  const options: Option[] =
    value.trim().length < 2
      ? saved.map((s, i) => ({
          key: `saved-${i}`,
          label: s.label ? `${s.label}: ${s.address}` : s.address,
          hint: t("address.saved"),
          picked: { label: s.address, lat: s.latitude, lon: s.longitude },
        }))
      : results.map((r, i) => ({
          key: `r-${i}`,
          label: r.label,
          hint: r.distance_m !== null ? formatDistance(r.distance_m, locale) : "",
          picked: { label: r.label, lat: r.lat, lon: r.lon },
        }));

  const choose = (option: Option) => {
    typed.current = false;
    onText(option.picked.label);
    onPick(option.picked);
    setOpen(false);
    setProblem(null);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      setOpen(true);
      setActive((a) => Math.min(options.length - 1, a + 1));
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      setActive((a) => Math.max(0, a - 1));
    } else if (event.key === "Enter" && open && active >= 0 && options[active]) {
      event.preventDefault();
      choose(options[active]!);
    } else if (event.key === "Escape") {
      setOpen(false);
    }
  };

  const expanded = open && options.length > 0;
  return (
    <div class="combobox">
      <input
        id={id}
        type="text"
        role="combobox"
        autocomplete="off"
        aria-autocomplete="list"
        aria-expanded={expanded ? "true" : "false"}
        aria-controls={listId}
        aria-activedescendant={expanded && active >= 0 ? `${listId}-${active}` : undefined}
        aria-invalid={invalid ? "true" : undefined}
        aria-describedby={describedBy}
        aria-busy={busy ? "true" : undefined}
        required={required}
        value={value}
        placeholder={t("address.placeholder")}
        onInput={(e) => {
          typed.current = true;
          onText((e.target as HTMLInputElement).value);
        }}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onKeyDown={onKeyDown}
      />
      <ul id={listId} role="listbox" class="options" hidden={!expanded} aria-label={t("address.suggestions")}>
        {options.map((option, i) => (
          <li
            key={option.key}
            id={`${listId}-${i}`}
            role="option"
            aria-selected={i === active ? "true" : "false"}
            class={i === active ? "active" : ""}
            onMouseDown={(e) => {
              e.preventDefault();
              choose(option);
            }}
          >
            <span>{option.label}</span>
            {option.hint && <small>{option.hint}</small>}
          </li>
        ))}
      </ul>
      {problem && (
        <p class="hint" role="status">
          {problem}
        </p>
      )}
    </div>
  );
}
