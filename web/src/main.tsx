import { render } from "preact";
import { App } from "./app/App";
import { restore } from "./features/auth/session";
import "./styles.css";

void restore();
render(<App />, document.getElementById("root")!);

if ("serviceWorker" in navigator && import.meta.env.PROD) {
  window.addEventListener("load", () => {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => undefined);
  });
}
