// Colour theme: "system" follows prefers-color-scheme (CSS); light/dark are kept in
// localStorage (a preference, never a secret) and applied before paint by /theme.js.
export const THEMES = ["system", "light", "dark"];

export function currentTheme() {
  return document.documentElement.dataset.theme ?? "system";
}

export function setTheme(t) {
  if (t === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = t;
  try {
    if (t === "system") localStorage.removeItem("cgw-theme");
    else localStorage.setItem("cgw-theme", t);
  } catch {}
  window.dispatchEvent(new Event("themechange"));
}

/** Whether the page is dark right now (explicit choice or the system's). */
export function isDark() {
  const t = currentTheme();
  return t === "dark" || (t === "system" && matchMedia("(prefers-color-scheme: dark)").matches);
}
