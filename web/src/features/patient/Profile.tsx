import { useState } from "preact/hooks";
import { errorText } from "../../components/errors";
import { Alert, Button, Field, LanguageSwitch, useFocusHeading } from "../../components/ui";
import { useT, type MessageKey } from "../../i18n";
import { signOut, updateUser } from "../auth/session";
import type { SavedAddress, User } from "../auth/types";
import { checkName, checkPhone, normalisePhone } from "../auth/validate";
import { AddressSearch, type PickedAddress } from "../geocode/AddressSearch";
import { updateProfile, type ProfilePatch } from "./api";

export const MAX_SAVED_ADDRESSES = 20;

export function Profile({ user }: { user: User }) {
  const t = useT();
  useFocusHeading("profile");
  const [first, setFirst] = useState(user.first_name);
  const [last, setLast] = useState(user.last_name);
  const [phone, setPhone] = useState(user.phone ?? "");
  const [errors, setErrors] = useState<Partial<Record<string, MessageKey>>>({});
  const [failure, setFailure] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const [label, setLabel] = useState("");
  const [text, setText] = useState("");
  const [picked, setPicked] = useState<PickedAddress | null>(null);
  const addresses = user.saved_addresses ?? [];

  const save = async (patch: ProfilePatch) => {
    setFailure(null);
    setSaved(false);
    setBusy(true);
    try {
      updateUser(await updateProfile(patch));
      setSaved(true);
      return true;
    } catch (exc) {
      setFailure(errorText(t, exc));
      return false;
    } finally {
      setBusy(false);
    }
  };

  const submit = (event: Event) => {
    event.preventDefault();
    const found: Partial<Record<string, MessageKey>> = {};
    const p = checkPhone(phone);
    if (p) found.phone = p;
    const n = checkName(first) ?? checkName(last);
    if (n) found.name = n;
    setErrors(found);
    if (Object.keys(found).length) return;
    void save({ first_name: first.trim(), last_name: last.trim(), phone: phone.trim() ? normalisePhone(phone) : null });
  };

  const addAddress = async (event: Event) => {
    event.preventDefault();
    if (!picked) {
      setErrors({ address: "visit.pickSuggestion" });
      return;
    }
    if (addresses.length >= MAX_SAVED_ADDRESSES) {
      setErrors({ address: "profile.tooManyAddresses" });
      return;
    }
    setErrors({});
    const next: SavedAddress[] = [
      ...addresses,
      { label: label.trim() || t("profile.defaultLabel"), address: picked.label, latitude: picked.lat, longitude: picked.lon },
    ];
    if (await save({ saved_addresses: next })) {
      setLabel("");
      setText("");
      setPicked(null);
    }
  };

  return (
    <main id="main">
      <h1>{t("profile.title")}</h1>
      <form class="card" onSubmit={submit} noValidate aria-labelledby="me-title">
        <h2 id="me-title">{t("profile.me")}</h2>
        <p class="muted">{user.email}</p>
        <Field id="profile-first" label={t("profile.firstName")} error={errors.name ? t(errors.name) : null}>
          <input id="profile-first" autocomplete="given-name" value={first} onInput={(e) => setFirst((e.target as HTMLInputElement).value)} />
        </Field>
        <Field id="profile-last" label={t("profile.lastName")}>
          <input id="profile-last" autocomplete="family-name" value={last} onInput={(e) => setLast((e.target as HTMLInputElement).value)} />
        </Field>
        <Field id="profile-phone" label={t("profile.phone")} error={errors.phone ? t(errors.phone) : null} hint={t("profile.phoneHint")}>
          <input
            id="profile-phone"
            type="tel"
            autocomplete="tel"
            value={phone}
            aria-invalid={errors.phone ? "true" : undefined}
            aria-describedby={errors.phone ? "profile-phone-error" : "profile-phone-hint"}
            onInput={(e) => setPhone((e.target as HTMLInputElement).value)}
          />
        </Field>
        <Button type="submit" kind="primary" id="profile-save" busy={busy}>
          {t("profile.save")}
        </Button>
      </form>

      <section class="card" aria-labelledby="addresses-title">
        <h2 id="addresses-title">{t("profile.addresses")}</h2>
        {addresses.length === 0 && <p class="muted">{t("profile.noAddresses")}</p>}
        <ul class="list" id="saved-addresses">
          {addresses.map((a, i) => (
            <li key={`${a.address}-${i}`} class="row">
              <span>
                <b>{a.label}</b> {a.address}
              </span>
              <Button
                kind="plain"
                aria-label={t("profile.removeAddress", { label: a.label })}
                onClick={() => void save({ saved_addresses: addresses.filter((_, j) => j !== i) })}
              >
                {t("profile.remove")}
              </Button>
            </li>
          ))}
        </ul>
        <form onSubmit={addAddress} noValidate>
          <Field id="address-label" label={t("profile.addressLabel")}>
            <input id="address-label" maxLength={40} value={label} placeholder={t("profile.labelPlaceholder")} onInput={(e) => setLabel((e.target as HTMLInputElement).value)} />
          </Field>
          <Field id="address-new" label={t("visit.address")} error={errors.address ? t(errors.address) : null}>
            <AddressSearch id="address-new" value={text} near={null} onText={(v) => { setText(v); setPicked(null); }} onPick={setPicked} invalid={Boolean(errors.address)} />
          </Field>
          <Button type="submit" id="address-add" busy={busy}>
            {t("profile.addAddress")}
          </Button>
        </form>
      </section>

      <section class="card" aria-labelledby="lang-title">
        <h2 id="lang-title">{t("profile.language")}</h2>
        <LanguageSwitch onChange={(locale) => void save({ locale })} />
      </section>
      <Alert id="profile-failure">{failure}</Alert>
      {saved && (
        <p class="info" role="status" id="profile-saved">
          {t("profile.saved")}
        </p>
      )}
      <Button id="signout" onClick={() => void signOut()}>
        {t("signin.signOut")}
      </Button>
    </main>
  );
}
