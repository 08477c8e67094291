// The colour theme, applied before the page paints (a classic script in <head>, not a module, so a
// reload in Dark never flashes Light). "system" (the default) follows prefers-color-scheme; "light"
// and "dark" set <html data-theme>, which app.css honours over the media query. Settings changes it
// through window.parlourTheme; the choice lives in localStorage on this device only.
(function () {
  var KEY = 'parlour.theme';
  function read() {
    try { var v = localStorage.getItem(KEY); return v === 'light' || v === 'dark' ? v : 'system'; } catch (e) { return 'system'; }
  }
  // The browser's own bars (<meta name=theme-color>, one per colour scheme in index.html) match the
  // toolbar: the chosen theme's colour, else each scheme's own.
  var BARS = { light: '#ffffff', dark: '#1b1e24' };
  function apply(v) {
    if (v === 'light' || v === 'dark') document.documentElement.setAttribute('data-theme', v);
    else document.documentElement.removeAttribute('data-theme');
    var metas = document.querySelectorAll('meta[name=theme-color]');
    for (var i = 0; i < metas.length; i++) {
      var own = /dark/.test(metas[i].getAttribute('media') || '') ? BARS.dark : BARS.light;
      metas[i].setAttribute('content', v === 'light' || v === 'dark' ? BARS[v] : own);
    }
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
