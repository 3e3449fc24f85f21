/**
 * The console's keyboard shortcuts. None fires while the operator types (an input, a
 * select, a text area, anything editable), or with Ctrl, Alt or Meta held (the browser's
 * own); Escape always works (it leaves the field, closes a dialog).
 */
import type { MessageKey } from "../../i18n";

export type Command =
  | "search"
  | "down"
  | "up"
  | "open"
  | "assign"
  | "return"
  | "cancel"
  | "priority"
  | "toggle"
  | "bulkReturn"
  | "bulkCancel"
  | "area"
  | "help"
  | "escape";

/** Key (as KeyboardEvent.key) -> command. Shift+R and Shift+C act on the ticked rows. */
export const KEYS: Record<string, Command> = {
  "/": "search",
  j: "down",
  ArrowDown: "down",
  k: "up",
  ArrowUp: "up",
  Enter: "open",
  o: "open",
  a: "assign",
  r: "return",
  c: "cancel",
  p: "priority",
  x: "toggle",
  R: "bulkReturn",
  C: "bulkCancel",
  m: "area",
  "?": "help",
  Escape: "escape",
};

/** What the help overlay lists, in order. */
export const HELP: { keys: string; what: MessageKey }[] = [
  { keys: "/", what: "operator.key.search" },
  { keys: "j / k", what: "operator.key.move" },
  { keys: "Enter", what: "operator.key.open" },
  { keys: "a", what: "operator.key.assign" },
  { keys: "r", what: "operator.key.return" },
  { keys: "c", what: "operator.key.cancel" },
  { keys: "p", what: "operator.key.priority" },
  { keys: "x", what: "operator.key.toggle" },
  { keys: "Shift+R", what: "operator.key.bulkReturn" },
  { keys: "Shift+C", what: "operator.key.bulkCancel" },
  { keys: "m", what: "operator.key.area" },
  { keys: "?", what: "operator.key.help" },
  { keys: "Esc", what: "operator.key.escape" },
];

export interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  altKey?: boolean;
  metaKey?: boolean;
  target?: unknown;
  isComposing?: boolean;
}

interface ElementLike {
  tagName?: string;
  isContentEditable?: boolean;
  type?: string;
  closest?: (selector: string) => unknown;
}

const TEXT_INPUTS = new Set(["text", "search", "email", "password", "number", "tel", "url", ""]);

/** Is the key going into a field the operator types in? */
export function isTyping(target: unknown): boolean {
  if (!target || typeof target !== "object") return false;
  const el = target as ElementLike;
  if (el.isContentEditable) return true;
  const tag = (el.tagName ?? "").toUpperCase();
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag === "INPUT") return TEXT_INPUTS.has((el.type ?? "").toLowerCase());
  return false;
}

/** Does a button or a link have the focus (Enter is theirs then)? */
function isControl(target: unknown): boolean {
  if (!target || typeof target !== "object") return false;
  const tag = ((target as ElementLike).tagName ?? "").toUpperCase();
  return tag === "BUTTON" || tag === "A" || tag === "INPUT";
}

/** The command a key press asks for, or null (typing, a modifier, a key we do not use). */
export function commandFor(event: KeyLike, { dialogOpen = false } = {}): Command | null {
  if (event.isComposing) return null;
  if (event.key === "Escape") return "escape";
  if (event.ctrlKey || event.altKey || event.metaKey) return null;
  if (isTyping(event.target)) return null;
  if (dialogOpen) return null; // a dialog has its own keys (Escape above)
  const command = KEYS[event.key] ?? null;
  if (command === "open" && event.key === "Enter" && isControl(event.target)) return null;
  return command;
}
