/**
 * The Cost view's chart: cost over the chosen range (the ledger's history,
 * then the live part), stacked by notebook, project, user or run tag, and the
 * pickers of range and grouping.
 *
 * Group labels reach chart.js as dataset labels; chart.js draws them on the
 * canvas, never as HTML. Notebooks show the shortest path suffix that tells
 * them apart, the tooltip their full path (relative to the server root).
 */
import type { ChartDataset, TooltipItem } from 'chart.js';
import React, { useEffect, useState } from 'react';

import { COST_RANGES, type CostRange } from '../api/cost';
import {
  axisColors,
  axisTicks,
  BASE_OPTIONS,
  legendLabels,
  moneyTicks,
  type Point,
  useChart
} from '../common/chart';
import { seriesColor } from '../common/colors';
import { clockTime, formatMoney, formatTime } from '../common/format';
import type { CostGroupBy, ICostGrouping, IStackedSeries } from './series';

function stackedDatasets(
  series: IStackedSeries
): ChartDataset<'line', Point[]>[] {
  return series.groups.map((group, index) => ({
    label: group.label,
    data: group.values.map((y, i) => ({ x: series.times[i], y })),
    borderColor: seriesColor(index),
    backgroundColor: `${seriesColor(index)}99`,
    borderWidth: 1,
    pointRadius: 0,
    fill: index === 0 ? 'origin' : '-1',
    tension: 0
  }));
}

const HOUR_MS = 3600_000;

/** A time tick: seconds under ten minutes, the clock under 36 h, else the day. */
export function timeTick(ms: number, spanMs: number): string {
  if (spanMs > 36 * HOUR_MS) {
    const date = new Date(ms);
    return `${date.getMonth() + 1}/${date.getDate()} ${clockTime(ms / 1000)}`;
  }
  return clockTime(ms / 1000, spanMs < 600_000);
}

/** Cost over time, stacked by group. */
export function CostChart(props: {
  series: IStackedSeries;
  currency: string;
  grouping: ICostGrouping;
  range: CostRange;
}): JSX.Element {
  const { series, currency, grouping, range } = props;
  const { canvasRef, chartRef } = useChart(() => {
    const { grid } = axisColors();
    const tick = axisTicks(5);
    return {
      ...BASE_OPTIONS,
      plugins: {
        legend: {
          display: true,
          position: 'bottom',
          labels: legendLabels()
        },
        tooltip: { enabled: true }
      },
      scales: {
        x: { type: 'linear', ticks: tick, grid: { color: grid } },
        y: {
          type: 'linear',
          stacked: true,
          beginAtZero: true,
          ticks: tick,
          grid: { color: grid }
        }
      }
    };
  });

  useEffect(() => {
    const chart = chartRef.current;
    if (!chart) {
      return;
    }
    chart.data.datasets = stackedDatasets(series);
    const { x, y } = chart.options.scales ?? {};
    const span = series.times.length
      ? series.times[series.times.length - 1] - series.times[0]
      : 0;
    if (x) {
      // the range itself, not chart.js's rounded bounds around it
      x.min = series.times.length ? series.times[0] : undefined;
      x.max = series.times.length
        ? series.times[series.times.length - 1]
        : undefined;
    }
    if (x?.ticks) {
      x.ticks.callback = value => timeTick(Number(value), span);
    }
    if (y?.ticks) {
      y.ticks.callback = moneyTicks(currency);
    }
    const tooltip = chart.options.plugins?.tooltip;
    if (tooltip) {
      tooltip.callbacks = {
        ...tooltip.callbacks,
        title: items => (items.length ? formatTime(items[0].parsed.x) : ''),
        label: (item: TooltipItem<'line'>) =>
          `${series.groups[item.datasetIndex]?.key ?? item.dataset.label}: ` +
          formatMoney(item.parsed.y, currency)
      };
    }
    chart.update('none');
  }, [chartRef, series, currency]);

  const total = series.groups.reduce(
    (sum, g) => sum + (g.values[g.values.length - 1] ?? 0),
    0
  );
  return (
    <div
      className="jp-mlops-chart jp-mlops-cost-chart"
      data-testid="mlops-cost-chart"
      data-group-by={grouping.by}
      data-range={range}
      data-points={series.times.length}
      data-groups={series.groups.map(g => g.key).join('\n')}
      data-from-ledger={series.liveFrom === null ? 'false' : 'true'}
      data-total={total}
    >
      <div className="jp-mlops-chart-body">
        <canvas
          ref={canvasRef}
          role="img"
          aria-label={`Cost over the last ${range} by ${grouping.by}: ${formatMoney(total, currency)} in all`}
        />
      </div>
    </div>
  );
}

/** One radio group of buttons. */
function Radios<T extends string>(props: {
  label: string;
  testId: string;
  value: T;
  options: readonly { id: T; label: string }[];
  onChange: (value: T) => void;
}): JSX.Element {
  return (
    <div
      className="jp-mlops-cost-groupby"
      role="radiogroup"
      aria-label={props.label}
      data-testid={props.testId}
    >
      {props.options.map(option => (
        <button
          key={option.id}
          role="radio"
          aria-checked={props.value === option.id}
          className={`jp-mlops-view-tab${props.value === option.id ? ' jp-mod-active' : ''}`}
          data-value={option.id}
          onClick={() => props.onChange(option.id)}
        >
          {option.label}
        </button>
      ))}
    </div>
  );
}

const RANGE_LABELS: Record<CostRange, string> = {
  '1h': '1 h',
  '24h': '24 h',
  '7d': '7 d',
  '30d': '30 d'
};

const GROUPINGS: { id: CostGroupBy; label: string }[] = [
  { id: 'notebook', label: 'Notebook' },
  { id: 'project', label: 'Project' },
  { id: 'user', label: 'User' },
  { id: 'tag', label: 'Tag' }
];

/** The range, the grouping and (grouping by tag) the tag key. */
export function HistoryControls(props: {
  range: CostRange;
  grouping: ICostGrouping;
  onRange: (range: CostRange) => void;
  onGrouping: (grouping: ICostGrouping) => void;
}): JSX.Element {
  const { range, grouping, onRange, onGrouping } = props;
  const [tagKey, setTagKey] = useState(grouping.tagKey);
  useEffect(() => setTagKey(grouping.tagKey), [grouping.tagKey]);
  return (
    <div className="jp-mlops-cost-controls">
      <Radios
        label="Range"
        testId="mlops-cost-range"
        value={range}
        options={COST_RANGES.map(id => ({ id, label: RANGE_LABELS[id] }))}
        onChange={onRange}
      />
      <Radios
        label="Group by"
        testId="mlops-cost-groupby"
        value={grouping.by}
        options={GROUPINGS}
        onChange={by => onGrouping({ ...grouping, by })}
      />
      {grouping.by === 'tag' ? (
        <form
          className="jp-mlops-cost-tagkey"
          onSubmit={event => {
            event.preventDefault();
            onGrouping({ by: 'tag', tagKey });
          }}
        >
          <input
            type="text"
            aria-label="Run tag key"
            placeholder="tag key, e.g. epic"
            maxLength={250}
            data-testid="mlops-cost-tagkey"
            value={tagKey}
            onChange={event => setTagKey(event.target.value)}
            onBlur={() => onGrouping({ by: 'tag', tagKey })}
          />
        </form>
      ) : null}
    </div>
  );
}
