/**
 * The status bar item: the current notebook kernel's `$0.42 · $2.10/h`.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import { formatMoney, formatRate } from '../common/format';
import { useSignal } from '../common/hooks';
import { statusText } from './logic';
import type { CostModel } from './model';

/** The status bar text of the current kernel: `$0.42 · $2.10/h`. */
export function CostStatusItem(props: {
  model: CostModel;
  kernelId: string | null;
  onClick: () => void;
}): JSX.Element | null {
  const { model, kernelId, onClick } = props;
  useSignal(model.changed);
  const row = model.kernel(kernelId);
  if (!row || model.unavailable) {
    return null;
  }
  return (
    <button
      className="jp-mlops-cost-status"
      data-testid="mlops-cost-status"
      data-kernel-id={row.kernelId}
      data-value={row.soFar ?? ''}
      title={`Compute cost of this notebook's kernel: ${formatMoney(row.soFar, row.currency)} so far, ${formatRate(row.rate, row.currency)} now. Click for the Cost view.`}
      onClick={onClick}
    >
      {statusText(row)}
    </button>
  );
}

/** The status bar widget: follows the current kernel given by the plugin. */
export class CostStatusWidget extends ReactWidget {
  constructor(
    readonly model: CostModel,
    private readonly _onClick: () => void
  ) {
    super();
    this.addClass('jp-mlops-cost-status-widget');
  }

  get kernelId(): string | null {
    return this._kernelId;
  }

  set kernelId(id: string | null) {
    if (id !== this._kernelId) {
      this._kernelId = id;
      this.update();
    }
  }

  /** Whether the item has something to show (the status bar hides it otherwise). */
  get hasValue(): boolean {
    return (
      !this.model.unavailable && this.model.kernel(this._kernelId) !== null
    );
  }

  render(): JSX.Element {
    return (
      <CostStatusItem
        model={this.model}
        kernelId={this._kernelId}
        onClick={this._onClick}
      />
    );
  }

  private _kernelId: string | null = null;
}
