// The Preferences page (#/settings): my profile (full name, picture), the password change,
// notification preferences, reaching me while I am away (e-mail, and Web Push in this browser), and
// the colour theme of this device. Every change is saved by its own button or toggle and says so (or
// shows the server's error) next to it.

import { h, nextId, avatar } from './dom.js';
import { icon } from './icons.js';
import { ApiError, api, csrfToken, patch, post } from './api.js';
import * as store from './store.js';
import { requestDesktopPermission } from './popups.js';
import { PushError, disablePush, enablePush, pushIsOn, pushSupported } from './push.js';

const PREFS = [
  ['message_preview', 'Message preview in pop-ups', 'Show the text of a new message; off, pop-ups only say who wrote.'],
  ['notification_sound', 'Notification sound', 'A short beep with each pop-up.'],
  ['desktop_notifications', 'Desktop notifications', 'Also notify through the system while Parlour is in the background.'],
  ['enable_chat', 'Enable chat', 'Show the Chat button and pop-ups in this browser.'],
];
const THEMES = [['light', 'Light', 'sun'], ['dark', 'Dark', 'moon'], ['system', 'System', 'monitor']];
const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
const MAX_AVATAR = 1024 * 1024;

/** A labelled input with its error line. */
function field(text, input, hint) {
  input.id = input.id || nextId('set');
  const err = h('p', { class: 'field-error', id: `${input.id}-err`, 'aria-live': 'polite' });
  input.setAttribute('aria-describedby', err.id);
  return { el: h('div', { class: 'field' }, h('label', { for: input.id }, text), input, hint ? h('p', { class: 'hint' }, hint) : null, err), err };
}

function section(title, ...kids) {
  const id = nextId('sec');
  return h('section', { class: 'card settings-card', 'aria-labelledby': id }, h('h2', { id }, title), kids);
}

/** PUT multipart `file` with the CSRF header (fetch: no progress is needed for ≤ 1 MB). */
async function uploadAvatar(file) {
  const form = new FormData();
  form.append('file', file);
  let res;
  try {
    res = await fetch('/api/v1/users/me/avatar', {
      method: 'PUT', body: form, credentials: 'same-origin',
      headers: { 'X-CSRF-Token': csrfToken(), Accept: 'application/json' },
    });
  } catch {
    throw new ApiError(0, null);
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, data, res.headers.get('Retry-After'));
  return data;
}

export function settingsPage(main) {
  const offs = [];
  const me = () => store.user(store.state.me.id) || store.state.me;

  // ---- profile --------------------------------------------------------------------------------
  const pic = h('div', { class: 'profile-pic' });
  const picNote = h('p', { class: 'hint', role: 'status' });
  const picError = h('p', { class: 'field-error', role: 'alert' });
  const fileInput = h('input', { type: 'file', accept: IMAGE_TYPES.join(','), hidden: true, tabindex: '-1', 'aria-label': 'Profile picture file' });
  const uploadBtn = h('button', { type: 'button', onclick: () => fileInput.click() }, icon('upload'), 'Upload picture');
  const removeBtn = h('button', { type: 'button', class: 'danger', onclick: removePicture }, 'Remove picture');

  async function setPicture(file) {
    picError.textContent = '';
    picNote.textContent = '';
    if (!IMAGE_TYPES.includes(file.type)) { picError.textContent = 'Choose a PNG, JPEG, GIF or WebP image.'; return; }
    if (file.size > MAX_AVATAR) { picError.textContent = 'The picture is larger than 1 MB. Choose a smaller one.'; return; }
    uploadBtn.disabled = true;
    try {
      store.setMe(await uploadAvatar(file));
      picNote.textContent = 'Picture saved.';
    } catch (err) {
      picError.textContent = err.status === 413 ? 'The picture is larger than 1 MB. Choose a smaller one.'
        : err.code === 'invalid_image' ? 'That file is not an image Parlour can use (PNG, JPEG, GIF or WebP).' : err.message;
    } finally {
      uploadBtn.disabled = false;
    }
  }
  fileInput.addEventListener('change', () => { const f = fileInput.files[0]; fileInput.value = ''; if (f) setPicture(f); });

  async function removePicture() {
    picError.textContent = '';
    picNote.textContent = '';
    try {
      store.setMe(await api('DELETE', '/users/me/avatar'));
      picNote.textContent = 'Picture removed.';
    } catch (err) { picError.textContent = err.message; }
  }

  const nameInput = h('input', { type: 'text', maxlength: '200', autocomplete: 'name', value: me().full_name });
  const name = field('Full name', nameInput);
  const nameNote = h('p', { class: 'hint', role: 'status' });
  const emailLine = h('p', { class: 'muted' });
  const nameForm = h('form', {
    class: 'inline-form', novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      name.err.textContent = '';
      nameNote.textContent = '';
      const fullName = nameInput.value.trim();
      if (!fullName) { name.err.textContent = 'Enter your name.'; nameInput.focus(); return; }
      try {
        const updated = await patch('/users/me', { full_name: fullName });
        store.setMe(updated?.id ? updated : { ...me(), full_name: fullName });
        nameNote.textContent = 'Name saved.';
      } catch (err) { name.err.textContent = err.message; }
    },
  }, name.el, h('button', { type: 'submit', class: 'primary' }, 'Save name'), nameNote);

  const profile = section('Profile',
    h('div', { class: 'profile-row' }, pic,
      h('div', { class: 'grow' },
        h('p', { class: 'hint' }, 'PNG, JPEG, GIF or WebP, at most 1 MB. Everyone in your organization sees it.'),
        h('div', { class: 'row-actions' }, uploadBtn, removeBtn, fileInput), picNote, picError)),
    nameForm, emailLine);

  function showMe() {
    const u = me();
    pic.replaceChildren(avatar(u));
    removeBtn.hidden = !u.avatar_url;
    emailLine.textContent = `Signed in as ${u.email}`;
    if (document.activeElement !== nameInput && !nameInput.value.trim()) nameInput.value = u.full_name;
  }
  offs.push(store.on('me', showMe));

  // ---- password -------------------------------------------------------------------------------
  const current = h('input', { type: 'password', autocomplete: 'current-password' });
  const fresh = h('input', { type: 'password', autocomplete: 'new-password' });
  const again = h('input', { type: 'password', autocomplete: 'new-password' });
  const fCurrent = field('Current password', current);
  const fFresh = field('New password', fresh);
  const fAgain = field('Repeat new password', again);
  const pwNote = h('p', { class: 'hint', role: 'status' });
  const pwError = h('p', { class: 'field-error', role: 'alert' });
  const pwButton = h('button', { type: 'submit', class: 'primary' }, 'Change password');
  const pwForm = h('form', {
    novalidate: true,
    onsubmit: async (e) => {
      e.preventDefault();
      for (const f of [fCurrent, fFresh, fAgain]) f.err.textContent = '';
      pwNote.textContent = '';
      pwError.textContent = '';
      if (!current.value) { fCurrent.err.textContent = 'Enter your current password.'; current.focus(); return; }
      if (!fresh.value) { fFresh.err.textContent = 'Enter a new password.'; fresh.focus(); return; }
      if (fresh.value !== again.value) { fAgain.err.textContent = 'The two new passwords differ.'; again.focus(); return; }
      pwButton.disabled = true;
      try {
        await post('/users/me/password', { current_password: current.value, new_password: fresh.value });
        current.value = ''; fresh.value = ''; again.value = '';
        pwNote.textContent = 'Password changed. Your other sessions were logged out.';
      } catch (err) {
        const about = `${err.code} ${JSON.stringify(err.details || {})}`;
        if (/current|wrong|invalid_credentials/.test(about) && !/new_password/.test(about)) {
          fCurrent.err.textContent = err.message;
          current.select();
        } else if (/new_password|too_short|weak/.test(about)) {
          fFresh.err.textContent = err.message;
          fresh.focus();
        } else {
          pwError.textContent = err.message;
        }
      } finally {
        pwButton.disabled = false;
      }
    },
  }, fCurrent.el, fFresh.el, fAgain.el, pwError, pwButton, pwNote);
  const password = section('Password', h('p', { class: 'hint' }, 'Changing it logs out your other sessions and devices.'), pwForm);

  // ---- notifications --------------------------------------------------------------------------
  const prefsNote = h('p', { class: 'hint', role: 'status' });
  const boxes = PREFS.map(([key, text, help]) => {
    const helpId = nextId('pref-help');
    const box = h('input', { type: 'checkbox', 'aria-describedby': helpId, onchange: () => savePref(key, box.checked) });
    return { key, box, el: h('div', { class: 'pref' }, h('label', { class: 'choice' }, box, ` ${text}`), h('p', { class: 'hint', id: helpId }, help)) };
  });
  async function savePref(key, value) {
    prefsNote.textContent = '';
    if (key === 'desktop_notifications' && value) {
      const permission = await requestDesktopPermission();
      if (permission !== 'granted') prefsNote.textContent = 'This browser does not allow notifications for this site.';
    }
    // Only the key that changed: the server keeps the others as they are (another device may have
    // changed one meanwhile).
    const before = store.state.prefs[key];
    store.savingPrefs({ [key]: value });
    try {
      await patch('/users/me', { preferences: { [key]: value } });
      store.savedPrefs([key]);
      if (!prefsNote.textContent) prefsNote.textContent = 'Saved.';
    } catch (err) {
      store.savedPrefs([key]);
      store.setPrefs({ [key]: before });
      prefsNote.textContent = `Not saved: ${err.message}`;
    }
  }

  // ---- when I am away: e-mail, and push to this browser ------------------------------------------
  const emailHelpId = nextId('pref-help');
  const emailBox = h('input', { type: 'checkbox', 'aria-describedby': emailHelpId, onchange: () => saveEmail(emailBox.checked) });
  const emailNote = h('p', { class: 'hint', role: 'status' });
  const emailError = h('p', { class: 'field-error', role: 'alert' });
  /** Shown at once; undone, with the server's reason, if refused. */
  async function saveEmail(on) {
    emailNote.textContent = '';
    emailError.textContent = '';
    const before = store.state.prefs.email_notifications;
    const value = on ? 'direct_and_mentions' : 'never';
    store.savingPrefs({ email_notifications: value });
    try {
      await patch('/users/me', { preferences: { email_notifications: value } });
      store.savedPrefs(['email_notifications']);
      emailNote.textContent = on ? 'Saved. E-mails are on.' : 'Saved. No more e-mails.';
    } catch (err) {
      store.savedPrefs(['email_notifications']);
      store.setPrefs({ email_notifications: before });
      emailError.textContent = `Not saved: ${err.message}`;
    }
  }

  const pushHelpId = nextId('push-help');
  const pushState = h('p', { class: 'push-state', role: 'status' });
  const pushError = h('p', { class: 'field-error', role: 'alert' });
  const enableBtn = h('button', { type: 'button', class: 'primary', 'aria-describedby': pushHelpId, onclick: enable },
    icon('bell'), 'Enable push notifications');
  const disableBtn = h('button', { type: 'button', hidden: true, onclick: disable }, icon('bell-off'), 'Disable push notifications');
  const userId = store.state.me.id;

  function showPush(on) {
    enableBtn.hidden = on;
    disableBtn.hidden = !on;
    pushState.classList.toggle('on', on);
    pushState.textContent = on ? 'Push notifications are on in this browser.' : '';
  }
  async function checkPush() {
    if (!pushSupported()) {
      enableBtn.disabled = true;
      pushError.textContent = window.isSecureContext ? 'This browser cannot receive push notifications.'
        : 'Push notifications need Parlour to be opened over https.';
      return;
    }
    if (Notification.permission === 'denied') {
      pushError.textContent = 'Notifications are blocked for this site. Allow them in the browser’s site settings to turn push on.';
    }
    showPush(await pushIsOn(userId).catch(() => false));
  }
  async function enable() {
    pushError.textContent = '';
    enableBtn.disabled = true;
    pushState.textContent = 'Turning push notifications on…';
    try {
      await enablePush(userId);
      showPush(true);
      disableBtn.focus();
    } catch (err) {
      showPush(false);
      pushError.textContent = err instanceof PushError ? err.message : `Push notifications were not turned on: ${err.message}`;
    } finally {
      enableBtn.disabled = false;
    }
  }
  async function disable() {
    pushError.textContent = '';
    disableBtn.disabled = true;
    try {
      await disablePush(userId);
    } catch (err) {
      pushError.textContent = `Turned off here, but the server was not told: ${err.message}`;
    } finally {
      disableBtn.disabled = false;
      showPush(false);
      pushState.textContent = 'Push notifications are off in this browser.';
      enableBtn.focus();
    }
  }

  const showPrefs = (p) => {
    for (const { key, box } of boxes) box.checked = !!p[key];
    emailBox.checked = p.email_notifications !== 'never';
  };
  offs.push(store.on('prefs', showPrefs));
  const notifications = section('Notifications',
    h('p', { class: 'hint' }, 'Each conversation can also be set to All, Mentions or None from its bell.'),
    boxes.map(({ el }) => el), prefsNote,
    h('div', { class: 'settings-slot', id: 'settings-away', 'data-slot': 'away' },
      h('h3', {}, 'When you are away'),
      h('p', { class: 'hint' }, 'For direct messages and mentions that wait while no Parlour tab is open.'),
      h('div', { class: 'pref' },
        h('label', { class: 'choice' }, emailBox, ' E-mail me about unread direct messages and mentions'),
        h('p', { class: 'hint', id: emailHelpId }, 'Sent only when they are still unread after a while; every e-mail has a link to stop them.'),
        emailNote, emailError),
      h('div', { class: 'pref push-pref' },
        h('p', { class: 'hint', id: pushHelpId }, 'Push notifications reach this browser (or the installed app) even while Parlour is closed. Each browser is turned on separately.'),
        h('div', { class: 'row-actions' }, enableBtn, disableBtn),
        pushState, pushError)));

  // ---- appearance -----------------------------------------------------------------------------
  const themeName = nextId('theme');
  const legendId = nextId('theme-legend');
  const current_theme = window.parlourTheme?.get() || 'system';
  const themes = h('div', { class: 'theme-choices', role: 'radiogroup', 'aria-labelledby': legendId },
    THEMES.map(([value, text, glyph]) => h('label', { class: 'theme-choice' },
      h('input', {
        type: 'radio', name: themeName, value, checked: value === current_theme,
        onchange: () => window.parlourTheme?.set(value),
      }), icon(glyph), h('span', {}, text))));
  const appearance = section('Appearance',
    h('p', { class: 'theme-legend', id: legendId }, 'Theme'), themes,
    h('p', { class: 'hint' }, 'System follows your device’s light or dark setting. Saved on this device only.'));

  main.replaceChildren(h('div', { class: 'settings' }, h('h1', {}, 'Preferences'), profile, password, notifications, appearance));
  showMe();
  showPrefs(store.state.prefs);
  checkPush();
  return () => offs.forEach((off) => off());
}
