// The Adamant dashboard: a snapshot from GET /events on connect, then deltas, drawn with uPlot.
// Plain script, no framework, no network beyond this origin. Text from the server is only ever set as textContent.
(() => {
  'use strict';

  /** Rows kept per series here; beyond it every other row is dropped (the server downsamples the same way). */
  const MAX_ROWS = 4000;
  const PLOT_HEIGHT = 240;
  /** Steps and epochs are whole numbers: their axes tick at 1, 2, 5, 10, 20, … */
  const WHOLE_TICKS = [1, 2, 5].flatMap((m) => [1, 10, 100, 1000, 10000, 100000, 1000000].map((p) => m * p)).sort((a, b) => a - b);
  const PARTS = ['compute', 'waiting', 'communication', 'update'];
  const PART_LABELS = { compute: 'compute', waiting: 'waiting for the slowest worker', communication: 'communication', update: 'server update' };

  const $ = (id) => document.getElementById(id);
  const color = (name) => getComputedStyle(document.documentElement).getPropertyValue(`--${name}`).trim();

  let job = null;
  const rows = { steps: [], epochs: [], splits: [] };
  let charts = [];

  // Formatting.
  const num = (v, digits = 4) => {
    if (v === null || v === undefined || Number.isNaN(v)) return '–';
    if (Math.abs(v) >= 10000) return Math.round(v).toLocaleString('en-US');
    return Number(v.toPrecision(digits)).toString();
  };
  const count = (v) => (v === null || v === undefined ? '–' : v.toLocaleString('en-US'));
  const bytes = (v) => {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = v;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit++;
    }
    return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
  };
  const ms = (v) => (v === null || v === undefined ? '–' : v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`);
  const seconds = (s) => (s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

  // Series.
  function append(target, incoming) {
    let last = target.length ? target[target.length - 1][0] : Number.NEGATIVE_INFINITY;
    for (const row of incoming) {
      if (row[0] <= last) continue;
      target.push(row);
      last = row[0];
    }
    if (target.length > MAX_ROWS) {
      const kept = target.filter((_, i) => i % 2 === 0);
      target.splice(0, target.length, ...kept);
    }
  }
  const column = (list, index) => list.map((row) => row[index] ?? null);

  // Charts.
  function figure(id, caption) {
    const element = document.createElement('figure');
    element.className = 'panel';
    element.id = id;
    element.dataset.points = '0';
    const title = document.createElement('figcaption');
    title.textContent = caption;
    const plot = document.createElement('div');
    plot.className = 'plot';
    element.append(title, plot);
    $('metric-charts').append(element);
    return element;
  }

  function chart(element, xLabel, series, data, extra = {}) {
    const target = element.querySelector('.plot');
    target.replaceChildren();
    const options = {
      width: Math.max(target.clientWidth, 300),
      height: PLOT_HEIGHT,
      scales: { x: { time: false } },
      series: [{ label: xLabel }, ...series],
      axes: [{ label: xLabel, stroke: color('muted'), incrs: WHOLE_TICKS }, { stroke: color('muted'), size: 60 }],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      ...extra,
    };
    const plot = new uPlot(options, data(), target);
    charts.push({ element, target, plot, data });
  }

  /** A series drawn as a line; `dots` also marks each point (epochs are few, and a single one would not show as a line). */
  function line(label, stroke, width = 1.5, dots = false) {
    return { label, stroke, width, spanGaps: true, points: { show: dots, size: 6, fill: stroke }, value: (_u, v) => num(v) };
  }

  function buildCharts() {
    for (const { plot } of charts) plot.destroy();
    charts = [];
    $('metric-charts').replaceChildren();
    const steps = job.stepColumns;
    const epochs = job.epochColumns;
    chart($('chart-steps'), 'step', [line('batch loss', `${color('train')}66`, 1), line('epoch loss (running)', color('train'), 2)], () => [
      column(rows.steps, 0),
      column(rows.steps, 1),
      column(rows.steps, 2),
    ]);
    const valLoss = epochs.indexOf('val_loss');
    chart($('chart-epochs'), 'epoch', [line('loss', color('train'), 2, true), line('val_loss', color('val'), 2, true)], () => [
      column(rows.epochs, 0),
      column(rows.epochs, 1),
      column(rows.epochs, valLoss),
    ]);
    for (const metric of job.config.metrics) {
      const train = epochs.indexOf(metric);
      const val = epochs.indexOf(`val_${metric}`);
      const running = steps.indexOf(metric);
      chart(figure(`chart-${metric}`, `${metric} per epoch (training and validation)`), 'epoch', [line(metric, color('train'), 2, true), line(`val_${metric}`, color('val'), 2, true)], () => [
        column(rows.epochs, 0),
        column(rows.epochs, train),
        column(rows.epochs, val),
      ]);
      if (running >= 0) {
        chart(figure(`chart-${metric}-steps`, `${metric} per step (the epoch's running value)`), 'step', [line(metric, color('train'), 2)], () => [column(rows.steps, 0), column(rows.steps, running)]);
      }
    }
    // Step time, stacked: each series is the running sum of the parts up to it, and the bands fill between them.
    const stacked = (upTo) => rows.splits.map((row) => PARTS.slice(0, upTo + 1).reduce((sum, _, i) => sum + (row[i + 1] ?? 0), 0));
    const raw = (part) => (_u, _v, _s, index) => (index === null || index === undefined ? '–' : ms(rows.splits[index]?.[part + 1] ?? null));
    chart(
      $('chart-split'),
      'step',
      // Only the lowest part fills down to zero; the bands fill each other part between its line and the one below.
      PARTS.map((part, i) => ({ label: PART_LABELS[part], stroke: color(part), width: 1, points: { show: false }, value: raw(i), ...(i === 0 ? { fill: `${color(part)}aa` } : {}) })),
      () => [column(rows.splits, 0), ...PARTS.map((_, i) => stacked(i))],
      { bands: [1, 2, 3].map((i) => ({ series: [i + 1, i], fill: `${color(PARTS[i])}aa` })) },
    );
  }

  function redraw() {
    for (const { element, plot, data } of charts) {
      const next = data();
      plot.setData(next);
      element.dataset.points = String(next[0].length);
    }
  }

  window.addEventListener('resize', () => {
    for (const { target, plot } of charts) plot.setSize({ width: Math.max(target.clientWidth, 300), height: PLOT_HEIGHT });
  });

  // Status.
  function cell(row, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.append(td);
    return td;
  }

  function renderWorkers(workers) {
    const body = $('workers');
    body.replaceChildren(
      ...workers.map((w) => {
        const tr = document.createElement('tr');
        tr.className = w.state;
        tr.dataset.workerId = String(w.id);
        tr.dataset.state = w.state;
        cell(tr, String(w.id));
        cell(tr, w.name);
        cell(tr, w.address);
        cell(tr, w.backend ?? '–');
        cell(tr, w.state, `state ${w.state}`);
        cell(tr, count(w.chunks), 'num');
        cell(tr, num(w.chunksPerSecond, 3), 'num');
        cell(tr, `${num(w.lastHeardSecondsAgo, 2)} s ago`, 'num');
        cell(tr, count(w.failures), 'num');
        cell(tr, count(w.reassigned), 'num');
        cell(tr, w.reason ?? '');
        return tr;
      }),
    );
  }

  function renderSplit(split) {
    const recent = split.recent;
    const bar = $('split-bar');
    const table = $('split-rows');
    if (!recent || recent.total <= 0) {
      $('split-note').textContent = '(no step yet)';
      bar.replaceChildren();
      table.replaceChildren();
      return;
    }
    $('split-note').textContent = `(mean of the last steps, ${ms(recent.total)} per step)`;
    bar.replaceChildren(
      ...PARTS.map((part) => {
        const span = document.createElement('span');
        span.style.width = `${(100 * (recent[part] ?? 0)) / recent.total}%`;
        span.style.background = color(part);
        span.title = `${PART_LABELS[part]}: ${ms(recent[part])}`;
        return span;
      }),
    );
    table.replaceChildren(
      ...PARTS.map((part) => {
        const tr = document.createElement('tr');
        const name = cell(tr, PART_LABELS[part]);
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.background = color(part);
        name.prepend(swatch);
        cell(tr, ms(recent[part]));
        cell(tr, recent[part] === null ? 'not reported by the workers' : `${Math.round((100 * recent[part]) / recent.total)} %`);
        return tr;
      }),
    );
  }

  function renderStatus(status) {
    const phase = $('phase');
    phase.textContent = status.phase;
    phase.className = `badge ${status.phase}`;
    const { position, totals } = status;
    $('t-epoch').textContent = position.epoch ? `${position.epoch} / ${position.epochs}` : `– / ${position.epochs}`;
    $('t-step').textContent = position.batches ? `${count(position.step)} · batch ${position.batch}/${position.batches}` : count(position.step);
    $('t-samples').textContent = count(totals.samples);
    const ready = status.workers.filter((w) => w.state === 'ready').length;
    $('t-workers').textContent = `${ready} / ${status.workers.length}`;
    $('t-bytes').textContent = `${bytes(totals.bytesIn)} / ${bytes(totals.bytesOut)}`;
    $('t-reassigned').textContent = count(totals.chunksReassigned);
    $('t-checkpoint').textContent = `${seconds(status.checkpointAgeSeconds)} ago`;
    renderWorkers(status.workers);
    renderSplit(status.split);
  }

  function onSnapshot(snapshot) {
    job = snapshot.job;
    rows.steps = snapshot.steps.slice();
    rows.epochs = snapshot.epochs.slice();
    rows.splits = snapshot.splits.slice();
    const path = job.config.data?.path ?? '';
    $('job-name').textContent = path.split(/[\\/]/).pop() ?? '';
    $('job-id').textContent = `job ${job.jobId} · waits for ${job.minWorkers} worker(s) to start`;
    $('config').textContent = JSON.stringify(job.config, null, 2);
    buildCharts();
    renderStatus(snapshot);
    redraw();
  }

  function onDelta(delta) {
    if (!job) return;
    append(rows.steps, delta.steps);
    append(rows.epochs, delta.epochs);
    append(rows.splits, delta.splits);
    renderStatus(delta);
    redraw();
  }

  const events = new EventSource('/events');
  events.addEventListener('snapshot', (e) => onSnapshot(JSON.parse(e.data)));
  events.addEventListener('delta', (e) => onDelta(JSON.parse(e.data)));
  events.addEventListener('open', () => {
    $('connection').textContent = 'live';
  });
  events.addEventListener('error', () => {
    $('connection').textContent = 'not connected: the coordinator does not answer (the run may have ended); retrying';
  });
})();
