/*
 * Horizontal bar charts drawn as SVG by the views: the geometry in viewBox
 * units, with the same numbers in words and as a table for screen readers.
 */

export interface ChartBar {
  label: string;
  valueText: string;
  /** Geometry in the chart's viewBox units; width 0 draws no bar. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Baseline of the row's texts. */
  textY: number;
  valueX: number;
}

export interface BarChart {
  id: string;
  title: string;
  /** Read by screen readers in place of the drawing: every bar in words. */
  description: string;
  width: number;
  height: number;
  labelX: number;
  bars: ChartBar[];
  /** The same numbers as a table. */
  table: {
    caption: string;
    labelHeader: string;
    valueHeader: string;
    rows: { label: string; valueText: string }[];
  };
}

export interface ChartItem {
  /** Short, for the drawing. */
  label: string;
  /** Full, for the table. */
  tableLabel?: string;
  value: number;
}

const CHART_WIDTH = 400;
const LABEL_WIDTH = 150;
const VALUE_WIDTH = 90;
const ROW_HEIGHT = 22;
const BAR_HEIGHT = 14;
const MAX_LABEL = 22;

function shortLabel(text: string): string {
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;
}

function countText(item: ChartItem): string {
  return item.value.toLocaleString("en-GB");
}

/** Horizontal bars, one row per item, with the label left and the number right of each bar. */
export function barChart(
  id: string,
  title: string,
  valueHeader: string,
  labelHeader: string,
  items: readonly ChartItem[],
): BarChart {
  const barArea = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  const max = Math.max(0, ...items.map((i) => i.value));
  const bars = items.map((item, row) => {
    const y = 4 + row * ROW_HEIGHT;
    const width =
      max === 0 || item.value <= 0
        ? 0
        : Math.max(1, Math.round((item.value / max) * barArea * 10) / 10);
    return {
      label: shortLabel(item.label),
      valueText: countText(item),
      x: LABEL_WIDTH,
      y: y + (ROW_HEIGHT - BAR_HEIGHT) / 2,
      width,
      height: BAR_HEIGHT,
      textY: y + ROW_HEIGHT / 2 + 5,
      valueX: LABEL_WIDTH + width + 6,
    };
  });
  const rows = items.map((item) => ({
    label: item.tableLabel ?? item.label,
    valueText: countText(item),
  }));
  return {
    id,
    title,
    description:
      items.length === 0
        ? `No ${valueHeader.toLowerCase()} yet.`
        : `Bar chart of ${valueHeader.toLowerCase()}: ` +
          rows.map((r) => `${r.label}, ${r.valueText}`).join("; ") +
          ".",
    width: CHART_WIDTH,
    height: 8 + Math.max(1, items.length) * ROW_HEIGHT,
    labelX: LABEL_WIDTH - 8,
    bars,
    table: { caption: title, labelHeader, valueHeader, rows },
  };
}
