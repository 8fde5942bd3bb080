import { BarController, BarElement, CategoryScale, Chart, Colors, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip, type ChartConfiguration } from 'chart.js';

Chart.register(BarController, BarElement, CategoryScale, Colors, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip);

/** Draws `config` on the canvas, replacing the chart drawn there before. */
export function draw(canvas: HTMLCanvasElement, config: ChartConfiguration): Chart {
  Chart.getChart(canvas)?.destroy();
  return new Chart(canvas, { ...config, options: { responsive: true, maintainAspectRatio: false, animation: false, ...config.options, plugins: { colors: { forceOverride: true }, ...config.options?.plugins } } });
}

/** wei as a float of OPEN, for axes only (amounts shown as text stay exact) */
export const openFloat = (wei: string | bigint) => Number(BigInt(wei) / 10n ** 9n) / 1e9;
