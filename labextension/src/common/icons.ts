import { LabIcon } from '@jupyterlab/ui-components';

/** A lab flask with a rising curve: the MLOps sidebar icon. */
const MLOPS_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M9 2h6v2h-1v5.2l5.6 9.7A2 2 0 0 1 17.9 22H6.1a2 2 0 0 1-1.7-3.1L10 9.2V4H9V2zm3 9.1-2.1 3.7h4.2L12 11.1zM6.6 20h10.8l-2.1-3.6H8.7L6.6 20z"/>
    <path d="M16 3.5l1.4-1.4L22 6.7V10h-2V7.5l-2.6-2.6L16 6.3z" opacity=".9"/>
  </g>
</svg>`;

export const mlopsIcon = new LabIcon({
  name: 'jupyter-mlops:icon',
  svgstr: MLOPS_SVG
});

/** Three notebooks joined left to right: "Export to pipeline". */
const PIPELINE_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M2 4h6v6H2zM9 11h6v6H9zM16 4h6v6h-6zM5 10h1.5v4H9v1.5H5zM15 13.5h2.5V10H19v5h-4z"/>
  </g>
</svg>`;

export const pipelineIcon = new LabIcon({
  name: 'jupyter-mlops:pipeline',
  svgstr: PIPELINE_SVG
});
