// The colour theme, applied before the page paints (a classic script in <head>, not a module, so a
// reload in Dark never flashes Light). "system" (the default) follows prefers-color-scheme; "light"
// and "dark" set <html data-theme>, which app.css honours over the media query. Settings changes it
// through window.parlourTheme; the choice lives in localStorage on this device only.
(function () {
  var KEY = 'parlour.theme';
  function read() {
    try { var v = localStorage.getItem(KEY); return v === 'light' || v === 'dark' ? v : 'system'; } catch (e) { return 'system'; }
  }
  function apply(v) {
    if (v === 'light' || v === 'dark') document.documentElement.setAttribute('data-theme', v);
    else document.documentElement.removeAttribute('data-theme');
  }
  apply(read());
  window.parlourTheme = {
    get: read,
    set: function (v) {
      try { if (v === 'light' || v === 'dark') localStorage.setItem(KEY, v); else localStorage.removeItem(KEY); } catch (e) { /* private mode */ }
      apply(v);
    },
  };
  // Another tab changed it: follow.
  window.addEventListener('storage', function (e) { if (e.key === KEY) apply(read()); });
}());
