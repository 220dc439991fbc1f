'use strict';
(() => {
  const T = {
    zh: {
      title: '心桥', toggle: 'English', needHelp: '需要马上有人帮忙？', psyLine: '心理援助热线',
      emergency: '紧急情况', more: '更多热线', inputLabel: '输入消息', placeholder: '想说点什么都可以…',
      send: '发送', counselor: '心理老师', connecting: '连接中…', online: '已连接',
      offline: '离线，消息会在恢复后发送', err400: '消息格式有误，请重试。',
      err413: '消息太长了，请分几次发送。', err422: '这条消息无法处理，请换个说法试试。',
      err429: '发送太频繁了，请稍等一会儿再发。', err429s: '发送太频繁了，请 {s} 秒后再发。',
      errNet: '发送失败，请检查网络后再试。', errGeneric: '出了点问题，请稍后再试。',
      endChat: '结束对话', endConfirm: '结束这段对话，并把它从这台设备上清除吗？',
      ended: '对话已结束，这台设备上已经看不到它了。想再聊的话，随时可以重新开始。',
      privacyNote: '用这台设备的人都能打开这段对话，直到你点“结束对话”。',
    },
    en: {
      title: 'Xinqiao', toggle: '中文', needHelp: 'Need someone right now?', psyLine: 'Mental health hotline',
      emergency: 'Emergency', more: 'More hotlines', inputLabel: 'Type a message',
      placeholder: 'Say whatever is on your mind…', send: 'Send', counselor: 'Counselor',
      connecting: 'Connecting…', online: 'Connected', offline: 'Offline — messages will be sent when back online',
      err400: 'That message could not be read. Please try again.',
      err413: 'That message is too long. Please send it in parts.',
      err422: 'That message could not be processed. Please try rephrasing it.',
      err429: 'You are sending too fast. Please wait a moment.',
      err429s: 'You are sending too fast. Please wait {s} seconds.',
      errNet: 'Could not send. Please check your connection and try again.',
      errGeneric: 'Something went wrong. Please try again later.',
      endChat: 'End chat', endConfirm: 'End this chat and clear it from this device?',
      ended: 'The chat has ended and is no longer on this device. You can start again any time.',
      privacyNote: 'Anyone using this device can open this chat until you tap “End chat”.',
    },
  };
  const MAX = 4096, COUNTER_FROM = 3600, WS_FAILS_BEFORE_HTTP = 3;
  const $ = (id) => document.getElementById(id);
  const log = $('log'), input = $('input'), form = $('form'), statusEl = $('status'), counter = $('counter');
  const qs = new URLSearchParams(location.search);

  // localStorage can throw (Safari private mode, blocked storage); the chat must still work.
  const store = {
    get(k) { try { return localStorage.getItem(k); } catch { return null; } },
    set(k, v) { try { localStorage.setItem(k, v); } catch { /* session-only then */ } },
    del(k) { try { localStorage.removeItem(k); } catch { /* nothing stored then */ } },
  };
  const hex32 = () => Array.from(crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, '0')).join('');

  let sessionId = store.get('xinqiao.session');
  if (!/^[0-9a-f]{32}$/.test(sessionId || '')) { sessionId = hex32(); store.set('xinqiao.session', sessionId); }

  const pick = (v) => (v === 'zh' || v === 'en' ? v : null);
  let lang = pick(qs.get('lang')) || pick(store.get('xinqiao.lang')) || 'zh';

  // Embedding context is forwarded verbatim and never rendered.
  const extra = {};
  for (const [param, key] of [['region', 'region'], ['role', 'role'], ['ctx', 'context']]) {
    const v = qs.get(param);
    if (v) extra[key] = v;
  }

  let statusKey = 'connecting';
  const t = (k) => T[lang][k];
  function setStatus(k) { statusKey = k; statusEl.dataset.state = k; statusEl.textContent = t(k); }

  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('title');
    document.querySelectorAll('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t); });
    const toggle = $('lang-toggle');
    toggle.textContent = t('toggle');
    toggle.lang = lang === 'zh' ? 'en' : 'zh-CN';  // the label is in the *other* language
    input.placeholder = t('placeholder');
    const h = new URLSearchParams();
    if (extra.region) h.set('region', extra.region);
    h.set('lang', lang);
    $('more-hotlines').href = '/hotlines?' + h;
    document.querySelectorAll('.who').forEach((el) => { el.textContent = t('counselor'); });
    setStatus(statusKey);
  }

  // Server text is untrusted: it goes in as text nodes only; our own article paths become links.
  const ARTICLE_PATH = /\/articles\/[a-z0-9-]+/g;
  function fillText(el, text) {
    let last = 0;
    for (const m of text.matchAll(ARTICLE_PATH)) {
      el.append(document.createTextNode(text.slice(last, m.index)));
      const a = document.createElement('a');
      a.href = m[0];
      a.target = '_blank';
      a.rel = 'noopener';
      a.textContent = m[0];
      el.append(a);
      last = m.index + m[0].length;
    }
    el.append(document.createTextNode(text.slice(last)));
  }

  function addMsg(from, text, buttons) {
    const kind = ['user', 'bot', 'counselor', 'system'].includes(from) ? from : 'bot';
    const wrap = document.createElement('div');
    wrap.className = 'msg ' + kind;
    if (kind === 'counselor') {
      const who = document.createElement('span');
      who.className = 'who';
      who.textContent = t('counselor');
      wrap.append(who);
    }
    const p = document.createElement('p');
    p.className = 'bubble';
    fillText(p, String(text ?? ''));
    wrap.append(p);
    if (Array.isArray(buttons) && buttons.length) {
      const row = document.createElement('div');
      row.className = 'choices';
      for (const b of buttons) {
        if (!b || typeof b.payload !== 'string') continue;
        const btn = document.createElement('button');
        btn.type = 'button';
        btn.textContent = b.title || b.payload;
        btn.addEventListener('click', () => send(b.payload, btn.textContent));
        row.append(btn);
      }
      wrap.append(row);
    }
    log.append(wrap);
    log.scrollTop = log.scrollHeight;
    return wrap;
  }

  // The error frame does not say which message failed; give back the last typed
  // text (if the box is empty) so the user can edit instead of retyping.
  let lastTyped = '';
  function showError(status, serverText, retryAfter) {
    let msg;
    if (status === 429) msg = retryAfter > 0 ? t('err429s').replace('{s}', Math.ceil(retryAfter)) : t('err429');
    else if (T.zh['err' + status]) msg = t('err' + status);
    else if (status === 'net') msg = t('errNet');
    else msg = (lang === 'en' && serverText) || t('errGeneric');
    addMsg('system', msg).classList.add('error');
    if (lastTyped && !input.value && status !== 422) { input.value = lastTyped; lastTyped = ''; onInput(); }
  }

  function onReply(r) { if (r && typeof r.text === 'string') addMsg(r.from || 'bot', r.text, r.buttons); }

  // The server says which language the person chose (a typed "English please" too): the page follows.
  function follow(l) {
    if (!pick(l) || l === lang) return;
    lang = l;
    store.set('xinqiao.lang', lang);
    applyLang();
  }

  // ---- transport: WebSocket first, HTTP POST after repeated failure ----
  const queue = [];  // {text, message_id}; kept until actually handed to a transport
  // Sent over a socket and not yet answered: resent, with the same id, after a reconnect (the server stores a
  // message once and answers a repeat with the same replies), so a reply lost with a socket is not lost.
  const unanswered = [];
  // Bumped when the chat is ended: anything still arriving for the old conversation is dropped.
  let generation = 0;
  let ws = null, wsFails = 0, backoff = 1000, reconnectTimer = 0;
  let useHttp = !('WebSocket' in window);
  let posting = false;

  function hello() { return { type: 'hello', session_id: sessionId, lang, ...extra }; }

  function connect() {
    clearTimeout(reconnectTimer);
    setStatus('connecting');
    let opened = false;
    try {
      ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/v1/web/ws');
    } catch { ws = null; return onClose(false); }
    const socket = ws;
    ws.onopen = () => {
      opened = true; wsFails = 0; backoff = 1000;
      socket.send(JSON.stringify(hello()));
      setStatus('online');
      queue.unshift(...unanswered.splice(0));  // first what got no reply, in order
      flush();
    };
    ws.onmessage = (e) => {
      if (socket !== ws) return;  // a socket of an ended chat
      let f;
      try { f = JSON.parse(e.data); } catch { return; }
      // Kept for a resend until its answer is complete ('done') or it was refused ('error').
      if (f.reply_to && (f.type === 'done' || f.type === 'error')) answered(f.reply_to);
      if (f.type === 'ready') setStatus('online');
      else if (f.type === 'reply') { follow(f.lang); onReply(f); }
      else if (f.type === 'error') showError(f.status, f.error, f.retry_after);
      else if (f.type === 'bye') setStatus('connecting');  // a restart: the socket closes and reconnects
    };
    ws.onclose = () => { if (socket === ws) onClose(opened); };
  }

  function answered(id) {
    const at = unanswered.findIndex((m) => m.message_id === id);
    if (at >= 0) unanswered.splice(at, 1);
  }

  function onClose(opened) {
    ws = null;
    if (!opened && ++wsFails >= WS_FAILS_BEFORE_HTTP) {
      // Proxies/firewalls in school networks often block WebSocket; HTTP still works there. What the socket
      // took without answering goes first (same ids: the server answers a repeat with the same replies).
      useHttp = true;
      queue.unshift(...unanswered.splice(0));
      setStatus('online');
      return flush();
    }
    setStatus('offline');
    reconnectTimer = setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 30000);
  }

  function flush() {
    if (useHttp) { if (!posting) drainHttp(); return; }
    while (queue.length && ws && ws.readyState === WebSocket.OPEN) {
      const m = queue.shift();
      unanswered.push(m);
      ws.send(JSON.stringify({ type: 'message', text: m.text, message_id: m.message_id, lang }));
    }
  }

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // Sequential so replies come back in the order the user wrote.
  async function drainHttp() {
    posting = true;
    const mine = generation;
    while (queue.length && mine === generation) {
      const m = queue[0];
      const body = JSON.stringify({ session_id: sessionId, text: m.text, lang, message_id: m.message_id, ...extra });
      let res = null;
      for (let attempt = 0; attempt <= 3; attempt++) {
        if (attempt) await sleep(1000 * 2 ** (attempt - 1));
        try {
          res = await fetch('/api/v1/web/messages', {
            method: 'POST', headers: { 'Content-Type': 'application/json' }, body,
          });
        } catch { res = null; }
        if (res && res.status < 500) break;  // same message_id on retry lets the server dedupe
      }
      if (mine !== generation) break;  // the chat was ended meanwhile: its replies are not for this page
      queue.shift();
      if (!res || res.status >= 500) { setStatus('offline'); showError('net'); continue; }
      setStatus('online');
      let data = null;
      try { data = await res.json(); } catch { /* non-JSON body */ }
      if (mine !== generation) break;
      if (res.ok) { follow(data?.lang); (data?.replies || []).forEach(onReply); }
      else showError(data?.status || res.status, data?.error, Number(res.headers.get('Retry-After')) || 0);
    }
    if (mine === generation) posting = false;  // an ended chat's loop leaves the flag to the new one
  }

  function send(text, shown, silent = false) {
    if (!text || !text.trim()) return;
    if (!silent) addMsg('user', shown ?? text);
    lastTyped = shown == null && !silent ? text : '';
    queue.push({ text, message_id: hex32() });
    if (!useHttp && !(ws && ws.readyState === WebSocket.OPEN)) setStatus('offline');
    flush();
  }

  // ---- input ----
  const coarse = matchMedia('(pointer: coarse)').matches;  // phones: Enter = newline, tap Send
  input.enterKeyHint = coarse ? 'enter' : 'send';

  function onInput() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 2, 200) + 'px';
    const n = input.value.length;
    counter.hidden = n < COUNTER_FROM;
    counter.textContent = n + ' / ' + MAX;
    counter.classList.toggle('full', n >= MAX);
  }

  function submit() {
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    onInput();
    send(text);
    input.focus();
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
  input.addEventListener('input', onInput);
  input.addEventListener('keydown', (e) => {
    // isComposing / 229: Enter confirms a pinyin candidate and must not send.
    if (e.key !== 'Enter' || e.shiftKey || e.isComposing || e.keyCode === 229 || coarse) return;
    e.preventDefault();
    submit();
  });

  $('lang-toggle').addEventListener('click', () => {
    lang = lang === 'zh' ? 'en' : 'zh';
    store.set('xinqiao.lang', lang);
    applyLang();
    send('/lang_' + lang, null, true);
  });

  // On a shared school computer the next pupil must not inherit this conversation: ending it forgets the
  // session on this browser (the id is the only key to it) and starts a fresh one.
  $('end-chat').addEventListener('click', () => {
    if (!confirm(t('endConfirm'))) return;
    generation += 1;
    store.del('xinqiao.session');
    sessionId = hex32();
    store.set('xinqiao.session', sessionId);
    queue.length = 0;
    unanswered.length = 0;
    log.replaceChildren();
    addMsg('system', t('ended'));
    input.value = '';
    onInput();
    posting = false;
    if (ws) {  // a new socket for the new session, which is greeted as new; the old one is ignored from now
      const old = ws;
      ws = null;
      old.close();
      connect();
    }
  });

  // iOS does not shrink the layout for the keyboard; track the visual viewport so
  // the header and hotline banner stay on screen while typing.
  const vv = window.visualViewport;
  if (vv) {
    const fit = () => {
      document.documentElement.style.setProperty('--app-h', vv.height + 'px');
      if (vv.offsetTop) window.scrollTo(0, 0);
      log.scrollTop = log.scrollHeight;
    };
    vv.addEventListener('resize', fit);
    vv.addEventListener('scroll', fit);
  }

  window.addEventListener('online', () => { if (!useHttp && !ws) connect(); else flush(); });
  window.addEventListener('offline', () => setStatus('offline'));

  applyLang();
  onInput();
  if (useHttp) setStatus('online'); else connect();
})();
