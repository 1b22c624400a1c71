// Applies the saved colour theme before the first paint (the only preference kept in
// localStorage; never a key). "system" follows prefers-color-scheme through CSS.
try {
  var t = localStorage.getItem("cgw-theme");
  if (t === "light" || t === "dark") document.documentElement.dataset.theme = t;
} catch (e) {}
