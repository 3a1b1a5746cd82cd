/**
 * Prescient's operator dashboard (served at /ui by src/api/routes/ui.ts): a plain browser ES
 * module, no build step, no framework. It reads the /v1 API with the operator's bearer token
 * (kept in sessionStorage, so it lasts as long as the tab) and refreshes every 2 s. Everything is
 * built with DOM calls and textContent, never innerHTML, so no value from the API is parsed as
 * markup; the page's Content-Security-Policy forbids inline script and style besides.
 * Charts are uPlot (loaded as a classic script before this module, hence the global).
 */
/* global uPlot, document, window, sessionStorage, fetch, FormData, Node */

const REFRESH_MS = 2000;
const TOKEN_KEY = 'prescient.token';
/** Points of a pool's weights chart (one per published document, about one a second). */
const HISTORY_POINTS = 300;
/** Complete steps of actuals shown before a forecast. */
const FORECAST_HISTORY_STEPS = 48;
const MAX_NODES = 12;
const MAX_SERIES = 8;
const CHART_HEIGHT = 220;
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];

/** Override fields each action takes (the API checks the rules; the form only shows these). */
const OVERRIDE_FIELDS = {
  pin: ['node', 'key', 'prefix'],
  'evict-first': ['node', 'key', 'prefix'],
  'set-weight': ['pool', 'backend', 'weight'],
  'scale-weight': ['pool', 'backend', 'factor'],
  drain: ['pool', 'backend'],
  freeze: ['node', 'pool'],
  enforce: ['node', 'pool', 'percent'],
};
const NUMERIC_FIELDS = new Set(['weight', 'factor', 'percent', 'ttlSec']);

const state = { token: '', timer: undefined, generation: 0 };

// ---------------------------------------------------------------------------------------------
// DOM and formatting helpers

const $ = (id) => document.getElementById(id);

/** `el('td', { class: 'num', 'data-testid': 'x' }, 'text', child)`; `on*` keys add listeners. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const empty = (text) => el('p', { class: 'empty' }, text);
const unique = (items) => [...new Set(items)];

function fmtNum(v) {
  if (typeof v !== 'number' || !Number.isFinite(v))
    return v === null || v === undefined ? '–' : String(v);
  if (Number.isInteger(v)) return String(v);
  const abs = Math.abs(v);
  return abs >= 1000 ? v.toFixed(0) : abs >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

const fmtTime = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
const fmtDateTime = (ms) => new Date(ms).toLocaleString([], { hour12: false });
const modelName = (m) => (m && typeof m === 'object' ? `${m.id}@${m.version}` : String(m ?? '–'));

/** Any JSON value as one short line: times for *At / ts fields, numbers rounded. */
function fmtValue(value, key = '') {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'number' && value > 1e12 && /(At|Ms|ts)$/.test(key)) {
    return fmtDateTime(value);
  }
  if (typeof value === 'number') return fmtNum(value);
  if (Array.isArray(value)) return value.map((v) => fmtValue(v)).join(', ');
  if (typeof value === 'object') {
    return Object.entries(value)
      .map(([k, v]) => `${k}: ${fmtValue(v, k)}`)
      .join(', ');
  }
  return String(value);
}

const truncate = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);
const reasonBadge = (code) => el('span', { class: `reason reason-${code}` }, code);

/**
 * A table: `cells` are strings, numbers, nodes or `{ value, testid, class }`. Numbers are right
 * aligned. The caption is visually hidden but read by screen readers.
 */
function table(caption, headers, rows) {
  const cell = (c) => {
    if (c instanceof Node) return el('td', {}, c);
    if (c !== null && typeof c === 'object') {
      return el('td', { class: c.class, 'data-testid': c.testid }, c.value);
    }
    return el('td', { class: typeof c === 'number' ? 'num' : undefined }, fmtValue(c));
  };
  return el(
    'table',
    {},
    el('caption', { class: 'visually-hidden' }, caption),
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        headers.map((h) => el('th', { scope: 'col' }, h)),
      ),
    ),
    el(
      'tbody',
      {},
      rows.map((r) => el('tr', {}, r.map(cell))),
    ),
  );
}

/** Replaces a container's content only when its data changed (no flicker, clicks survive). */
const rendered = new Map();
function renderInto(container, key, data, build) {
  const json = JSON.stringify(data);
  if (rendered.get(key) === json) return;
  rendered.set(key, json);
  const out = build(data);
  container.replaceChildren(...(Array.isArray(out) ? out : [out]));
}

function setOptions(datalistId, values) {
  renderInto($(datalistId), datalistId, values, (vs) => vs.map((v) => el('option', { value: v })));
}

/** A section's error line, shown above its content while its last refresh failed. */
function sectionError(containerId, err) {
  const id = `${containerId}-error`;
  let line = $(id);
  if (!line) {
    line = el('p', { id, class: 'error', role: 'alert' });
    $(containerId).before(line);
  }
  line.hidden = !err;
  line.textContent = err ? err.message : '';
}

// ---------------------------------------------------------------------------------------------
// The API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API with the token; errors carry the API's `{ error: { code, message } }`. */
async function api(path, { method = 'GET', body } = {}) {
  const headers = { authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    cache: 'no-store',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: the status line says enough
  }
  if (!res.ok) {
    const error = data && typeof data === 'object' ? data.error : undefined;
    throw new ApiError(
      res.status,
      error?.code ?? `HTTP_${res.status}`,
      error?.message ?? `${method} ${path}: ${res.status} ${res.statusText}`,
    );
  }
  return data;
}

const enc = encodeURIComponent;

/** For routes another part of the engine may not serve yet: 404 → `fallback`. */
async function apiOr404(path, fallback) {
  try {
    return await api(path);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return fallback;
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Charts

/**
 * Draws or updates a uPlot chart in `holder.chartEl`; the chart is rebuilt when its series change.
 * Sets `data-points` on the container to the points drawn (tests and people can read it).
 */
function drawChart(holder, seriesKey, makeOptions, data) {
  const width = Math.max(320, holder.chartEl.clientWidth || 640);
  if (!holder.chart || holder.seriesKey !== seriesKey) {
    holder.chart?.destroy();
    holder.chart = new uPlot(
      { ...makeOptions(), width, height: CHART_HEIGHT },
      data,
      holder.chartEl,
    );
    holder.seriesKey = seriesKey;
  } else {
    if (holder.chart.width !== width) holder.chart.setSize({ width, height: CHART_HEIGHT });
    holder.chart.setData(data);
  }
  holder.chartEl.dataset.points = String(data[0].length);
}

const fixed3 = (_u, v) => (v === null || v === undefined ? '–' : v.toFixed(3));

function weightsChartOptions(backends) {
  return {
    scales: { x: { time: true }, y: { auto: false, range: [0, 1] } },
    series: [
      { label: 'time' },
      ...backends.map((b, i) => ({
        label: b,
        stroke: COLORS[i % COLORS.length],
        width: 2,
        value: fixed3,
      })),
    ],
    axes: [{}, { values: (_u, ticks) => ticks.map((t) => t.toFixed(2)) }],
  };
}

function forecastChartOptions() {
  return {
    scales: { x: { time: true } },
    series: [
      { label: 'time' },
      { label: 'actual', stroke: '#222', width: 2, value: (_u, v) => fmtNum(v) },
      { label: 'p10', stroke: '#1f77b4', dash: [4, 4], width: 1, value: (_u, v) => fmtNum(v) },
      { label: 'p50', stroke: '#1f77b4', width: 2, value: (_u, v) => fmtNum(v) },
      { label: 'p90', stroke: '#1f77b4', dash: [4, 4], width: 1, value: (_u, v) => fmtNum(v) },
    ],
    bands: [{ series: [4, 2], fill: 'rgba(31, 119, 180, 0.12)' }],
  };
}

// ---------------------------------------------------------------------------------------------
// Sections

/** Pool name → { root, title, meta, chartEl, tableEl, chart, seriesKey }. */
const poolCards = new Map();

function poolCard(pool) {
  const card = {
    title: el('h3', {}, pool),
    meta: el('p', { class: 'meta' }),
    chartEl: el('div', {
      class: 'chart',
      'data-testid': `chart-${pool}`,
      role: 'img',
      'aria-label': `Share of traffic of each backend of pool ${pool} over time`,
    }),
    tableEl: el('div'),
    chart: undefined,
    seriesKey: '',
  };
  card.root = el('article', { class: 'card' }, card.title, card.meta, card.chartEl, card.tableEl);
  return card;
}

async function refreshPools() {
  const { pools } = await api('/v1/pools');
  setOptions(
    'pool-names',
    pools.map((p) => p.pool),
  );
  setOptions('backend-names', unique(pools.flatMap((p) => p.entries.map((e) => e.backend))).sort());
  const histories = await Promise.all(
    pools.map((p) =>
      apiOr404(`/v1/pools/${enc(p.pool)}/history?limit=${HISTORY_POINTS}`, { points: [] }),
    ),
  );
  const cards = pools.map((p, i) => {
    let card = poolCards.get(p.pool);
    if (!card) {
      card = poolCard(p.pool);
      poolCards.set(p.pool, card);
    }
    card.meta.textContent = `version ${p.version} · ${modelName(p.model)} · published ${fmtTime(p.generatedAt)}`;
    const points = histories[i].points;
    const backends = unique(points.flatMap((pt) => Object.keys(pt.weights))).sort();
    const data = [
      points.map((pt) => pt.ts / 1000),
      ...backends.map((b) => points.map((pt) => pt.weights[b] ?? null)),
    ];
    drawChart(card, backends.join('\n'), () => weightsChartOptions(backends), data);
    renderInto(card.tableEl, `pool:${p.pool}`, p.entries, (entries) =>
      table(
        `Current weights of pool ${p.pool}`,
        ['Backend', 'Weight', 'Reason', 'Explanation'],
        entries.map((e) => [
          e.backend,
          { value: e.weight.toFixed(3), class: 'num', testid: `weight-${p.pool}-${e.backend}` },
          reasonBadge(e.reason),
          e.text,
        ]),
      ),
    );
    return card;
  });
  const names = new Set(pools.map((p) => p.pool));
  for (const [name, card] of poolCards) {
    if (!names.has(name)) {
      card.chart?.destroy();
      poolCards.delete(name);
    }
  }
  const container = $('pools');
  const roots = cards.map((c) => c.root);
  if (roots.length === 0) {
    renderInto(container, 'pools', [], () =>
      empty('No pools yet: weights appear once proxies send latency telemetry.'),
    );
  } else if (
    container.children.length !== roots.length ||
    roots.some((r, i) => container.children[i] !== r)
  ) {
    rendered.delete('pools');
    container.replaceChildren(...roots);
  }
}

/** The largest attributions of a decision by absolute value, e.g. "recency +0.42, hits −0.10". */
function topAttributions(attributions, n = 3) {
  return Object.entries(attributions ?? {})
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
    .slice(0, n)
    .map(([k, v]) => `${k} ${v >= 0 ? '+' : '−'}${fmtNum(Math.abs(v))}`)
    .join(', ');
}

async function refreshVictims() {
  const { nodes } = await api('/v1/nodes');
  setOptions(
    'node-names',
    nodes.map((n) => n.node),
  );
  const shown = nodes.slice(0, MAX_NODES);
  const docs = await Promise.all(
    shown.map((n) =>
      api(`/v1/nodes/${enc(n.node)}/eviction?limit=10`).catch((err) => ({ error: err.message })),
    ),
  );
  renderInto($('victims'), 'victims', { total: nodes.length, shown, docs }, (d) => {
    if (d.shown.length === 0) return empty('No cache nodes yet: send access telemetry.');
    const out = d.shown.map((n, i) => {
      const doc = d.docs[i];
      const body = doc.error
        ? el('p', { class: 'error' }, doc.error)
        : table(
            `Eviction candidates of node ${n.node}`,
            ['Rank', 'Key', 'Score', 'Reason', 'Explanation', 'Top attributions'],
            doc.entries.map((e) => [
              e.rank,
              el('code', { class: 'key', title: String(e.key) }, truncate(String(e.key), 60)),
              e.score,
              reasonBadge(e.reason),
              e.text,
              topAttributions(e.attributions),
            ]),
          );
      return el(
        'article',
        { class: 'card' },
        el('h3', {}, n.node),
        el(
          'p',
          { class: 'meta' },
          `version ${n.version} · ${modelName(n.model)} · ${n.victims} candidates · published ${fmtTime(n.generatedAt)}`,
        ),
        body,
      );
    });
    if (d.total > d.shown.length) {
      out.push(el('p', { class: 'hint' }, `Showing ${d.shown.length} of ${d.total} nodes.`));
    }
    return out;
  });
}

/** Series → { root, meta, chartEl, chart, seriesKey, originMs }. */
const forecastCards = new Map();

async function refreshForecasts() {
  const { series } = await api('/v1/forecasts');
  const shown = series.slice(0, MAX_SERIES);
  for (const s of shown) {
    let card = forecastCards.get(s.series);
    if (!card) {
      card = {
        meta: el('p', { class: 'meta' }),
        chartEl: el('div', {
          class: 'chart',
          'data-testid': `forecast-${s.series}`,
          role: 'img',
          'aria-label': `Requests per second of ${s.series}: actuals and forecast`,
        }),
        chart: undefined,
        seriesKey: '',
        originMs: undefined,
      };
      card.root = el('article', { class: 'card' }, el('h3', {}, s.series), card.meta, card.chartEl);
      forecastCards.set(s.series, card);
    }
    // A forecast changes only when its series gains a complete step: fetch it only then.
    if (card.originMs === s.originMs) continue;
    const f = await api(`/v1/forecasts/${enc(s.series)}`);
    const history = f.history.slice(-FORECAST_HISTORY_STEPS);
    const n = history.length;
    const none = (k) => Array.from({ length: k }, () => null);
    const data = [
      [...history.map((h) => h.ts / 1000), ...f.forecast.map((p) => p.ts / 1000)],
      [...history.map((h) => h.value), ...none(f.forecast.length)],
      [...none(n), ...f.forecast.map((p) => p.p10)],
      [...none(n), ...f.forecast.map((p) => p.p50)],
      [...none(n), ...f.forecast.map((p) => p.p90)],
    ];
    drawChart(card, 'forecast', forecastChartOptions, data);
    const spike = f.spike?.active ? ` · spike ${f.spike.direction === 'down' ? '↓' : '↑'}` : '';
    card.meta.replaceChildren(
      `${modelName(f.model)} · step ${f.stepSec} s · `,
      reasonBadge(f.reason),
      ` ${f.text}${spike}`,
    );
    card.originMs = s.originMs;
  }
  const names = new Set(shown.map((s) => s.series));
  for (const [name, card] of forecastCards) {
    if (!names.has(name)) {
      card.chart?.destroy();
      forecastCards.delete(name);
    }
  }
  const container = $('forecasts');
  const roots = shown.map((s) => forecastCards.get(s.series).root);
  if (roots.length === 0) {
    renderInto(container, 'forecasts', [], () =>
      empty('No forecasts yet: a series is forecast once it has two complete steps.'),
    );
  } else if (
    container.children.length !== roots.length ||
    roots.some((r, i) => container.children[i] !== r)
  ) {
    rendered.delete('forecasts');
    container.replaceChildren(...roots);
  }
}

/** Models are listed defensively: whatever fields the registry reports, as key/value tables. */
function modelCard(m) {
  const scalars = Object.entries(m).filter(([k]) => k !== 'versions');
  const versions = Array.isArray(m.versions) ? m.versions : [];
  const columns = unique(versions.flatMap((v) => Object.keys(v ?? {})));
  return el(
    'article',
    { class: 'card' },
    el('h3', {}, [m.kind, m.target].filter(Boolean).join(' · ') || 'model'),
    table(
      'Model',
      ['Field', 'Value'],
      scalars.map(([k, v]) => [k, fmtValue(v, k)]),
    ),
    versions.length === 0
      ? null
      : table(
          'Versions',
          columns,
          versions.map((v) => columns.map((c) => fmtValue(v?.[c], c))),
        ),
  );
}

async function refreshModels() {
  const data = await apiOr404('/v1/models', { models: [] });
  const models = Array.isArray(data?.models) ? data.models : [];
  renderInto($('models'), 'models', models, (ms) =>
    ms.length === 0 ? empty('No models.') : ms.map(modelCard),
  );
}

function overrideTarget(o) {
  return ['node', 'pool', 'backend', 'key', 'prefix']
    .filter((k) => o[k] !== undefined && o[k] !== null)
    .map((k) => `${k} ${o[k]}`)
    .join(' · ');
}

function overrideValue(o) {
  return ['weight', 'factor', 'percent']
    .filter((k) => typeof o[k] === 'number')
    .map((k) => `${k} ${fmtNum(o[k])}`)
    .join(' · ');
}

async function refreshOverrides() {
  const { overrides } = await api('/v1/overrides');
  renderInto($('overrides'), 'overrides', overrides, (list) =>
    list.length === 0
      ? empty('No overrides in force.')
      : table(
          'Overrides in force',
          ['Id', 'Action', 'Target', 'Value', 'Reason', 'Actor', 'Created', 'Expires', ''],
          list.map((o) => [
            el('code', {}, o.id),
            o.action,
            overrideTarget(o),
            overrideValue(o),
            o.reason,
            o.actor,
            fmtTime(o.createdAt),
            fmtTime(o.expiresAt),
            el(
              'button',
              {
                type: 'button',
                class: 'danger',
                'data-testid': `delete-override-${o.id}`,
                'aria-label': `Delete override ${o.id}`,
                onclick: () => void deleteOverride(o.id),
              },
              'Delete',
            ),
          ]),
        ),
  );
}

async function refreshClients() {
  const { clients } = await apiOr404('/v1/clients', { clients: [] });
  renderInto($('clients'), 'clients', clients, (list) =>
    list.length === 0
      ? empty('No client has reported the version it applies.')
      : table(
          'Clients and the policy versions they apply',
          ['Client', 'Kind', 'Target', 'Applied', 'Latest', 'Behind', 'Applied at', 'Stale (s)'],
          list.map((c) => [
            c.client,
            c.kind,
            c.target,
            c.version,
            c.latestVersion,
            {
              value: fmtNum(c.versionsBehind),
              class: c.versionsBehind > 0 ? 'num warn' : 'num',
            },
            fmtTime(c.appliedAt),
            typeof c.staleMs === 'number' ? c.staleMs / 1000 : c.staleMs,
          ]),
        ),
  );
}

async function refreshAudit() {
  const { entries } = await apiOr404('/v1/audit?limit=20', { entries: [] });
  const compact = (v) => truncate(v === undefined ? '–' : JSON.stringify(v), 120);
  renderInto($('audit'), 'audit', entries, (list) =>
    list.length === 0
      ? empty('Nothing audited yet.')
      : table(
          'Last audit entries, newest first',
          ['At', 'Actor', 'Action', 'Target', 'Reason', 'Before', 'After'],
          list.map((e) => [
            fmtDateTime(e.at),
            e.actor,
            e.action,
            e.target,
            e.reason ?? '',
            el('code', {}, compact(e.before)),
            el('code', {}, compact(e.after)),
          ]),
        ),
  );
}

const SECTIONS = [
  ['pools', refreshPools],
  ['overrides', refreshOverrides],
  ['victims', refreshVictims],
  ['forecasts', refreshForecasts],
  ['models', refreshModels],
  ['clients', refreshClients],
  ['audit', refreshAudit],
];

// ---------------------------------------------------------------------------------------------
// Refresh loop and session

async function refreshAll() {
  const generation = state.generation;
  let refused;
  await Promise.all(
    SECTIONS.map(async ([id, refresh]) => {
      try {
        await refresh();
        sectionError(id, undefined);
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) refused = err;
        else sectionError(id, err);
      }
    }),
  );
  if (generation !== state.generation) return; // signed out meanwhile
  if (refused) {
    signOut(`Your token was refused: ${refused.message}`);
    return;
  }
  $('updated').textContent = `updated ${fmtTime(Date.now())}`;
}

function schedule() {
  clearTimeout(state.timer);
  const generation = state.generation;
  state.timer = setTimeout(() => {
    void refreshAll().finally(() => {
      if (generation === state.generation) schedule();
    });
  }, REFRESH_MS);
}

/** Refreshes at once (after a change the operator made), then every REFRESH_MS again. */
async function refreshNow() {
  clearTimeout(state.timer);
  await refreshAll();
  if (state.token) schedule();
}

function setStatus(text, isError = false) {
  const status = $('status');
  status.textContent = text;
  status.classList.toggle('error', isError);
}

function signOut(message = '') {
  state.token = '';
  state.generation++;
  clearTimeout(state.timer);
  sessionStorage.removeItem(TOKEN_KEY);
  for (const cards of [poolCards, forecastCards]) {
    for (const card of cards.values()) card.chart?.destroy();
    cards.clear();
  }
  rendered.clear();
  for (const [id] of SECTIONS) $(id).replaceChildren();
  $('main').hidden = true;
  $('session').hidden = true;
  $('login').hidden = false;
  setStatus(message, message !== '');
}

async function signIn(token) {
  state.token = token;
  state.generation++;
  let me = { name: '–', role: 'unknown' };
  try {
    me = await api('/v1/whoami');
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) {
      signOut(
        err instanceof ApiError && (err.status === 401 || err.status === 403)
          ? `Token refused: ${err.message}`
          : `Cannot reach the engine: ${err.message}`,
      );
      return;
    }
    // No /v1/whoami on this engine: carry on, the data routes decide what the token may read.
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  $('whoami-name').textContent = me.name;
  $('whoami-role').textContent = me.role;
  $('login').hidden = true;
  $('session').hidden = false;
  $('main').hidden = false;
  setStatus('');
  await refreshNow();
}

// ---------------------------------------------------------------------------------------------
// Overrides: create and delete

function overrideMessage(text, isError = false) {
  const line = $('override-message');
  line.textContent = text;
  line.classList.toggle('error', isError);
}

function showOverrideFields() {
  const wanted = OVERRIDE_FIELDS[$('ov-action').value] ?? [];
  for (const field of document.querySelectorAll('#override-form [data-for]')) {
    field.hidden = !wanted.includes(field.dataset.for);
  }
}

async function createOverride(form) {
  const data = new FormData(form);
  const action = String(data.get('action'));
  const body = { action };
  for (const name of [...(OVERRIDE_FIELDS[action] ?? []), 'reason', 'ttlSec']) {
    const value = String(data.get(name) ?? '').trim();
    if (value !== '') body[name] = NUMERIC_FIELDS.has(name) ? Number(value) : value;
  }
  try {
    const o = await api('/v1/overrides', { method: 'POST', body });
    overrideMessage(
      `Override ${o.id} created (${o.action} ${overrideTarget(o)}); expires ${fmtTime(o.expiresAt)}.`,
    );
    await refreshNow();
  } catch (err) {
    overrideMessage(err.message, true);
  }
}

async function deleteOverride(id) {
  try {
    await api(`/v1/overrides/${enc(id)}`, { method: 'DELETE' });
    overrideMessage(`Override ${id} deleted.`);
    await refreshNow();
  } catch (err) {
    overrideMessage(err.message, true);
  }
}

// ---------------------------------------------------------------------------------------------
// Start

$('login').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const input = $('token');
  const token = input.value.trim();
  input.value = '';
  if (token) void signIn(token);
});
$('signout').addEventListener('click', () => signOut('Signed out.'));
$('ov-action').addEventListener('change', showOverrideFields);
$('override-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void createOverride(ev.currentTarget);
});
window.addEventListener('resize', () => {
  // Charts take the new width at the next refresh.
  for (const cards of [poolCards, forecastCards]) {
    for (const card of cards.values()) card.seriesKey = '';
  }
  for (const card of forecastCards.values()) card.originMs = undefined;
});
showOverrideFields();

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) void signIn(saved);
