// Globals the page defines for itself, declared for the type check (scripts/lint runs tsc over js/
// with jsconfig.json). Types only: nothing loads this file.

interface Window {
  /** Set by js/theme.js (a classic script in <head>); read by the settings. */
  parlourTheme?: {
    /** "system" (follows prefers-color-scheme), "light" or "dark". */
    get(): string;
    set(value: string): void;
  };
}
