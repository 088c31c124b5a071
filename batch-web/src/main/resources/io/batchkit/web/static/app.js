// The batchkit dashboard: plain JavaScript over the REST API next to it, refreshed every second.
'use strict';

const BASE = location.pathname.replace(/[^/]*$/, '');
const STATUSES = ['PENDING', 'PROCESSING', 'COMPLETED', 'PARTIAL', 'FAILED', 'CANCELLED'];
const JOB_STATUSES = ['QUEUED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELLED'];
const view = document.getElementById('view');
const state = { filters: { status: '', jobType: '' }, jobs: { status: '', offset: 0, history: null },
  failed: { jobType: '', meta: '', offset: 0 }, rates: {}, perf: null };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
let timer = null;
let latest = 0; // the number of the latest refresh: an older one that ends later is dropped
let refreshFailed = false;
let pointerDown = false;
document.addEventListener('pointerdown', () => { pointerDown = true; });
document.addEventListener('pointerup', () => { pointerDown = false; });

function token() { return sessionStorage.getItem('batchkit-token'); }

async function api(path, options = {}) {
  const headers = {};
  if (token()) headers.Authorization = 'Bearer ' + token();
  if (options.method && options.method !== 'GET') headers['Content-Type'] = 'application/json';
  const response = await fetch(BASE + 'api/' + path, { ...options, headers });
  if (response.status === 401) {
    document.getElementById('token-form').hidden = false;
    throw new Error('this server needs a token');
  }
  if (!response.ok) {
    let message = response.status + ' ' + response.statusText;
    try {
      const body = await response.json();
      message = body.error + body.violations.map(v => ' ' + v.field + ': ' + v.message).join(';');
    } catch (ignored) { /* not JSON */ }
    throw new Error(message);
  }
  return response.status === 204 ? null : response;
}

const json = async (path, options) => (await api(path, options)).json();

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function notice(message) {
  const box = document.getElementById('notice');
  box.textContent = message || '';
  box.hidden = !message;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '–';
  if (seconds < 60) return seconds + ' s';
  if (seconds < 3600) return Math.floor(seconds / 60) + ' min ' + (seconds % 60) + ' s';
  return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' min';
}

function time(iso) { return iso ? new Date(iso).toLocaleString() : '–'; }

/** Jobs per second of a batch, from its finished count between two refreshes. */
function rate(batch) {
  const done = batch.progress.succeeded + batch.progress.failed + batch.progress.cancelled;
  const now = Date.now();
  const last = state.rates[batch.id];
  let perSecond = last ? last.perSecond : null;
  if (last && now > last.at) {
    const measured = (done - last.done) * 1000 / (now - last.at);
    perSecond = last.perSecond === null ? measured : 0.7 * last.perSecond + 0.3 * measured;
  }
  state.rates[batch.id] = { done, at: now, perSecond };
  return batch.status === 'PROCESSING' && perSecond !== null ? perSecond.toFixed(1) + ' jobs/s' : '–';
}

function bar(progress) {
  const total = Math.max(progress.total, 1);
  const part = (name) => {
    const segment = el('span', { class: name, title: progress[name] + ' ' + name });
    segment.style.width = (100 * progress[name] / total) + '%';
    return segment;
  };
  return el('div', { class: 'bar', role: 'progressbar', 'aria-valuenow': progress.percentage.toFixed(0) },
    part('succeeded'), part('failed'), part('cancelled'), part('processing'));
}

function statusBadge(status) { return el('span', { class: 'status ' + status }, status); }

// ------------------------------------------------------------------ the batch list

async function renderList() {
  const query = new URLSearchParams({ limit: '50' });
  if (state.filters.status) query.set('status', state.filters.status);
  if (state.filters.jobType) query.set('jobType', state.filters.jobType);
  const page = await json('batches?' + query);
  const rows = page.items.map(b => el('div', { class: 'batch', 'data-batch-id': b.id },
    el('div', {}, el('a', { href: '#/batch/' + b.id }, b.name || b.id), ' ', statusBadge(b.status),
      el('div', { class: 'meta' }, b.jobType + ' · ' + b.priority + ' · ' + b.progress.total + ' jobs')),
    el('div', {}, bar(b.progress), el('div', { class: 'figures' },
      el('span', { class: 'pct' }, b.progress.percentage.toFixed(1) + ' %'),
      el('span', {}, b.progress.succeeded + ' ok'), el('span', {}, b.progress.failed + ' failed'),
      el('span', { title: 'leased by a node: running, or fetched ahead to start next' }, b.progress.processing + ' processing'),
      el('span', {}, b.progress.queued + ' queued'),
      el('span', {}, rate(b)), el('span', {}, 'left ' + duration(b.estimatedSecondsRemaining)))),
    el('div', {}, actions(b, true))));
  return [
    el('div', { class: 'card' },
      el('div', { class: 'filters' },
        el('select', { id: 'filter-status', onchange: e => { state.filters.status = e.target.value; e.target.blur(); refresh(); } },
          el('option', { value: '' }, 'any status'),
          STATUSES.map(s => el('option', { value: s, selected: s === state.filters.status }, s))),
        el('input', { id: 'filter-type', placeholder: 'job type', value: state.filters.jobType,
          onchange: e => { state.filters.jobType = e.target.value.trim(); e.target.blur(); refresh(); } })),
      rows.length ? rows : el('p', { class: 'empty' }, 'No batches.')),
    newBatchForm(),
  ];
}

function newBatchForm() {
  const type = el('input', { id: 'new-type', placeholder: 'job type', required: true });
  const name = el('input', { id: 'new-name', placeholder: 'name (optional)' });
  const items = el('textarea', { id: 'new-items', placeholder: 'one item per line' });
  const start = el('input', { id: 'new-start', type: 'checkbox', checked: true });
  return el('details', { class: 'card' }, el('summary', {}, 'New batch'),
    el('form', { onsubmit: async e => {
      e.preventDefault();
      const lines = items.value.split('\n').map(l => l.trim()).filter(l => l);
      try {
        await api('batches', { method: 'POST', body: JSON.stringify({
          jobType: type.value.trim(), name: name.value.trim() || null, items: lines, autoStart: start.checked }) });
        items.value = '';
        notice('');
      } catch (error) { notice(error.message); }
      document.activeElement.blur();
      refresh();
    } },
      el('div', { class: 'filters' }, type, name, el('label', {}, start, ' start at once')),
      items, el('div', { class: 'actions' }, el('button', { type: 'submit' }, 'Create'))));
}

// ------------------------------------------------------------------ one batch

function actions(b, compact) {
  const act = (label, action, enabled, cls) => el('button', { class: cls || 'secondary', 'data-action': action,
    disabled: !enabled, onclick: () => perform(b.id, action) }, label);
  const finished = ['COMPLETED', 'PARTIAL', 'FAILED', 'CANCELLED'].includes(b.status);
  const list = [
    act('Start', 'start', b.status === 'PENDING'),
    act('Cancel', 'cancel', !finished, 'danger'),
  ];
  if (!compact) {
    list.push(act('Retry failed', 'retry-failed', (b.status === 'PARTIAL' || b.status === 'FAILED') && b.progress.failed > 0));
    list.push(act('Delete', 'delete', finished && b.progress.queued + b.progress.processing === 0));
    list.push(el('button', { class: 'secondary', onclick: () => download(b.id, 'results', 'batch-' + b.id + '.jsonl') }, 'Results (JSON Lines)'));
    list.push(el('button', { class: 'secondary', onclick: () => download(b.id, 'results.zip', 'batch-' + b.id + '.zip') }, 'Results (ZIP)'));
  }
  return el('div', { class: 'actions' }, list);
}

async function retryJob(id) {
  try {
    await api('jobs/' + encodeURIComponent(id) + '/retry', { method: 'POST', body: '{}' });
    notice('');
  } catch (error) { notice(error.message); }
  refresh();
}

async function perform(id, action) {
  if ((action === 'cancel' || action === 'delete') && !confirm(action + ' this batch?')) return;
  try {
    if (action === 'delete') {
      await api('batches/' + id, { method: 'DELETE' });
      location.hash = '#/';
    } else {
      await api('batches/' + id + '/' + action, { method: 'POST', body: '{}' });
    }
    notice('');
  } catch (error) { notice(error.message); }
  refresh();
}

async function download(id, what, filename) {
  const path = 'batches/' + encodeURIComponent(id) + '/' + what;
  if (!token()) {
    // straight to disk, streamed: the browser never holds the whole export
    const link = el('a', { href: BASE + 'api/' + path, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    return;
  }
  try { // a token must go in a header, which a plain link cannot send
    const url = URL.createObjectURL(await (await api(path)).blob());
    const link = el('a', { href: url, download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (error) { notice(error.message); }
}

/** Adds jobs to a batch that has not started: one item per line. */
function addItemsForm(id) {
  const items = el('textarea', { id: 'new-added-items', placeholder: 'more items, one per line' });
  return el('form', { class: 'spaced', onsubmit: async e => {
    e.preventDefault();
    const lines = items.value.split('\n').map(l => l.trim()).filter(l => l);
    try {
      await api('batches/' + id + '/items', { method: 'POST', body: JSON.stringify({ items: lines }) });
      items.value = '';
      notice('');
    } catch (error) { notice(error.message); }
    document.activeElement.blur();
    refresh();
  } }, items, el('div', { class: 'actions' }, el('button', { type: 'submit', 'data-action': 'add-items' }, 'Add items')));
}

async function renderBatch(id) {
  const b = await json('batches/' + encodeURIComponent(id));
  const p = b.progress;
  const jobs = new URLSearchParams({ offset: String(state.jobs.offset), limit: '25' });
  if (state.jobs.status) jobs.set('status', state.jobs.status);
  const page = await json('batches/' + encodeURIComponent(id) + '/jobs?' + jobs);
  // a store that keeps no events answers 501: the page goes on without the history
  const events = await json('batches/' + encodeURIComponent(id) + '/events').catch(() => ({ items: [] }));
  // the attempts of the job whose attempt count was clicked; a store without history answers 501
  const shown = state.jobs.history;
  let history = null;
  if (shown !== null) {
    try {
      history = await json('jobs/' + encodeURIComponent(shown.id) + '/history');
    } catch (error) { // a job deleted meanwhile, or a store without history: say so once, and close
      state.jobs.history = null;
      notice(error.message);
    }
  }
  // the durations of its jobs, once some ended: read every 10 s (once for a finished batch), as
  // they cost the store up to 20,000 rows; a store that cannot read them answers 501
  let perf = null;
  if (p.succeeded + p.failed > 0) {
    const cached = state.perf;
    if (cached && cached.id === id && (cached.final || Date.now() - cached.at < 10000)) {
      perf = cached.data;
    } else {
      perf = await json('batches/' + encodeURIComponent(id) + '/performance').catch(() => null);
      state.perf = { id, at: Date.now(), data: perf, final: Boolean(b.completedAt) };
    }
  }
  const count = (label, value) => el('div', {}, el('b', {}, value), label);
  // every job has the link: one queued again by retry-failed shows attempt 0 but has a history
  const attempts = (j, n) =>
    el('button', { class: 'link', 'data-action': 'history', title: 'attempt history', onclick: () => { state.jobs.history = { id: j.id, n }; refresh(); } }, j.attempt);
  // a failed job can be queued again on its own
  const retry = j => j.status !== 'FAILED' ? null : el('button', { class: 'link', 'data-action': 'retry-job',
    title: 'queue this job again', onclick: () => retryJob(j.id) }, 'retry');
  const rows = page.items.map((j, i) => el('tr', { 'data-job-id': j.id },
    el('td', {}, page.offset + i + 1), el('td', {}, statusBadge(j.status), ' ', retry(j)), el('td', {}, attempts(j, page.offset + i + 1)),
    el('td', { class: 'text', title: j.payload ?? '' }, j.payload ?? '–'),
    el('td', { class: 'text', title: j.error ?? j.result ?? '' }, j.progress
      ? Math.round(j.progress.fraction * 100) + ' %' + (j.progress.message ? ' · ' + j.progress.message : '')
      : j.error ?? j.result ?? '–'),
    el('td', { class: 'wide' }, time(j.finishedAt))));
  const pageButton = (label, offset, enabled) => el('button', { class: 'secondary', disabled: !enabled,
    onclick: () => { state.jobs.offset = offset; refresh(); } }, label);
  return [
    el('div', { class: 'card', 'data-batch-id': b.id },
      el('h1', {}, b.name || b.id, ' ', el('span', { id: 'batch-status', class: 'status ' + b.status }, b.status)),
      el('div', { class: 'meta' }, b.jobType + ' · ' + b.priority + ' · created ' + time(b.createdAt)
        + (b.completedAt ? ' · ended ' + time(b.completedAt) : '')),
      el('div', { class: 'spaced' }, bar(p)),
      el('div', { class: 'figures' }, el('span', { id: 'batch-pct', class: 'pct' }, p.percentage.toFixed(1) + ' %'),
        el('span', {}, rate(b)), el('span', {}, 'left ' + duration(b.estimatedSecondsRemaining))),
      el('div', { class: 'counts' }, count('total', p.total), count('succeeded', p.succeeded), count('failed', p.failed),
        count('cancelled', p.cancelled), count('processing', p.processing), count('queued', p.queued)),
      perf === null || perf.sampled === 0 ? null : el('div', { class: 'meta', id: 'batch-durations' },
        'job duration p50 ' + perf.p50Ms.toFixed(1) + ' ms · p95 ' + perf.p95Ms.toFixed(1) + ' ms · p99 '
        + perf.p99Ms.toFixed(1) + ' ms · ' + perf.throughputPerSecond.toFixed(1) + ' jobs/s since it started'),
      actions(b, false), b.status === 'PENDING' ? addItemsForm(b.id) : null),
    events.items.length === 0 ? null : el('div', { class: 'card' }, el('h2', {}, 'History'),
      el('table', { id: 'events' }, el('tbody', {}, events.items.map(e => el('tr', { 'data-event': e.type },
        el('td', { class: 'wide' }, time(e.at)), el('td', {}, e.type.replaceAll('_', ' ').toLowerCase()),
        el('td', {}, e.detail)))))),
    el('div', { class: 'card' }, el('h2', {}, 'Jobs'),
      el('div', { class: 'filters' },
        el('select', { id: 'job-status', onchange: e => { state.jobs.status = e.target.value; state.jobs.offset = 0; e.target.blur(); refresh(); } },
          el('option', { value: '' }, 'any status'),
          JOB_STATUSES.map(s => el('option', { value: s, selected: s === state.jobs.status }, s))),
        pageButton('Previous', Math.max(0, page.offset - page.limit), page.offset > 0),
        pageButton('Next', page.offset + page.limit, page.hasMore)),
      rows.length ? el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, 'status'),
        el('th', {}, 'attempt'), el('th', {}, 'payload'), el('th', {}, 'result or error'), el('th', { class: 'wide' }, 'finished'))),
        el('tbody', {}, rows)) : el('p', { class: 'empty' }, 'No jobs here.')),
    history === null ? null : el('div', { class: 'card', id: 'attempts' },
      el('h2', {}, 'Attempts of job #' + shown.n, ' ',
        el('button', { class: 'secondary', onclick: () => { state.jobs.history = null; refresh(); } }, 'Close')),
      history.items.length === 0 ? el('p', { class: 'empty' }, 'No attempt has ended yet.')
        : el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, 'outcome'), el('th', {}, 'node'),
          el('th', { class: 'wide' }, 'started'), el('th', { class: 'wide' }, 'ended'), el('th', {}, 'error'))),
          el('tbody', {}, history.items.map(a => el('tr', { 'data-outcome': a.outcome },
            el('td', {}, a.attempt), el('td', {}, a.outcome.replaceAll('_', ' ').toLowerCase()), el('td', {}, a.nodeId),
            el('td', { class: 'wide' }, time(a.startedAt)), el('td', { class: 'wide' }, time(a.endedAt)),
            el('td', { class: 'text', title: a.error ?? '' }, a.error ?? '–')))))),
  ];
}

// ------------------------------------------------------------------ statistics and nodes

async function renderStats() {
  const [s, nodes] = await Promise.all([json('statistics'), json('nodes')]);
  const count = (label, value) => el('div', {}, el('b', {}, value), label);
  return [
    el('div', { class: 'card' }, el('h2', {}, 'This service'),
      el('div', { class: 'counts' }, count('succeeded', s.succeeded), count('failed', s.failed),
        count('jobs/s (last minute)', s.throughputPerSecond.toFixed(1)), count('running', s.running),
        count('queued', s.queued), count('p50 ms', s.p50Ms.toFixed(1)), count('p95 ms', s.p95Ms.toFixed(1)),
        count('p99 ms', s.p99Ms.toFixed(1))),
      Object.keys(s.circuitBreakers).length ? el('p', {}, 'Circuits: ',
        Object.entries(s.circuitBreakers).map(([t, c]) => t + ' ' + c).join(', ')) : null),
    s.store === null ? null : el('div', { class: 'card', id: 'store-figures' }, el('h2', {}, 'All nodes'),
      el('div', { class: 'counts' }, count('queued', s.store.queued), count('running', s.store.running),
        count('succeeded (last hour)', s.store.succeededLastHour), count('failed (last hour)', s.store.failedLastHour),
        count('failure rate (last hour)', (s.store.failureRateLastHour * 100).toFixed(1) + ' %'))),
    el('div', { class: 'card' }, el('h2', {}, 'Nodes'),
      el('table', {}, el('thead', {}, el('tr', {}, el('th', {}, 'node'), el('th', {}, 'status'), el('th', {}, 'running'),
        el('th', {}, 'slots'), el('th', { class: 'wide' }, 'host'), el('th', { class: 'wide' }, 'last heartbeat'))),
        el('tbody', {}, nodes.items.map(n => el('tr', {}, el('td', {}, n.nodeId), el('td', {}, n.status),
          el('td', {}, n.running), el('td', {}, n.slots), el('td', { class: 'wide' }, n.host),
          el('td', { class: 'wide' }, time(n.lastHeartbeat))))))),
  ];
}

// ------------------------------------------------------------------ routing and refresh

// ------------------------------------------------------------------ failed jobs of every batch

/** The dead-letter view: failed jobs of every batch, latest created first, each with a retry button. */
async function renderFailed() {
  const f = state.failed;
  const query = new URLSearchParams({ status: 'FAILED', limit: '50', offset: String(f.offset) });
  if (f.jobType) query.set('jobType', f.jobType);
  const meta = f.meta.split('=');
  if (meta.length === 2 && meta[0].trim()) query.set('meta.' + meta[0].trim(), meta[1].trim());
  const page = await json('jobs?' + query);
  const rows = page.items.map(j => el('tr', { 'data-job-id': j.id },
    el('td', {}, el('a', { href: '#/batch/' + j.batchId, title: j.batchId }, j.batchId.slice(0, 8))),
    el('td', { class: 'text', title: j.payload ?? '' }, j.payload ?? '–'),
    el('td', { class: 'text', title: j.error ?? '' }, j.error ?? '–'),
    el('td', {}, j.attempt),
    el('td', { class: 'wide' }, time(j.finishedAt)),
    el('td', {}, el('button', { class: 'link', 'data-action': 'retry-job', title: 'queue this job again',
      onclick: () => retryJob(j.id) }, 'retry'))));
  const filter = (id, placeholder, key) => el('input', { id, placeholder, value: f[key],
    onchange: e => { f[key] = e.target.value.trim(); f.offset = 0; e.target.blur(); refresh(); } });
  const pageButton = (label, offset, enabled) => el('button', { class: 'secondary', disabled: !enabled,
    onclick: () => { f.offset = offset; refresh(); } }, label);
  return [el('div', { class: 'card' },
    el('h1', {}, 'Failed jobs'),
    el('div', { class: 'filters' }, filter('failed-type', 'job type', 'jobType'),
      filter('failed-meta', 'metadata key=value', 'meta')),
    rows.length === 0 ? el('p', { id: 'no-failed' }, 'No failed jobs.') :
      el('table', { id: 'failed-jobs' }, el('thead', {}, el('tr', {}, el('th', {}, 'batch'),
        el('th', {}, 'payload'), el('th', {}, 'error'), el('th', {}, 'attempt'), el('th', {}, 'finished'), el('th', {}))),
      el('tbody', {}, rows)),
    el('div', { class: 'actions' }, pageButton('newer', Math.max(0, f.offset - 50), f.offset > 0),
      pageButton('older', f.offset + 50, page.hasMore)))];
}

/** Whether the user is in the middle of something a redraw would undo: typing, choosing, clicking. */
function busy() {
  const active = document.activeElement;
  return pointerDown || (active && ['INPUT', 'SELECT', 'TEXTAREA'].includes(active.tagName));
}

async function refresh() {
  clearTimeout(timer);
  const mine = ++latest;
  const hash = location.hash || '#/';
  try {
    let content;
    if (hash.startsWith('#/batch/')) {
      const id = decodeURIComponent(hash.slice(8));
      if (!UUID.test(id)) throw new Error('not a batch id: ' + id.slice(0, 40));
      content = await renderBatch(id);
    } else if (hash === '#/stats') content = await renderStats();
    else if (hash === '#/failed') content = await renderFailed();
    else content = await renderList();
    if (mine !== latest) return; // a newer refresh has started: it draws, and sets the timer
    if (!busy()) {
      const open = view.querySelector('details') && view.querySelector('details').open;
      view.replaceChildren(...content);
      if (open && view.querySelector('details')) view.querySelector('details').open = true;
      document.getElementById('live').classList.remove('stale');
    }
    if (refreshFailed) { notice(''); refreshFailed = false; }
  } catch (error) {
    if (mine !== latest) return;
    document.getElementById('live').classList.add('stale');
    notice(error.message);
    refreshFailed = true;
  }
  timer = setTimeout(refresh, busy() ? 300 : 1000);
}

document.getElementById('token-form').addEventListener('submit', e => {
  e.preventDefault();
  sessionStorage.setItem('batchkit-token', document.getElementById('token').value);
  document.getElementById('token-form').hidden = true;
  notice('');
  refresh();
});
window.addEventListener('hashchange', () => { state.jobs = { status: '', offset: 0, history: null }; notice(''); refresh(); });
refresh();
