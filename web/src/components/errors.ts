import type { Translate } from "../i18n";
import { ApiError, NetworkError } from "../lib/http";

/** What went wrong, in the reader's language. The server's own detail (English) is added
 * for 409 and 422, where it says which rule was broken. */
export function errorText(t: Translate, exc: unknown): string {
  if (exc instanceof NetworkError) return t("error.network");
  if (exc instanceof ApiError) {
    switch (exc.status) {
      case 400:
      case 422:
        return t("error.invalid", { detail: exc.problem?.detail ?? exc.problem?.title ?? "" });
      case 401:
        return t("error.signedOut");
      case 403:
        return t("error.forbidden");
      case 404:
        return t("error.notFound");
      case 409:
        return t("error.conflict", { detail: exc.problem?.detail ?? "" });
      case 413:
        return t("error.tooLarge");
      case 429:
        return t("error.tooMany", { seconds: exc.retryAfterS ?? 60 });
      case 503:
        return t("error.unavailable");
      default:
        return t("error.server", { status: exc.status });
    }
  }
  return t("error.unknown");
}
