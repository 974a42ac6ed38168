/**
 * The Cost view's Waste list: one entry per active waste alert, with buttons
 * that interrupt or shut down the kernel.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import React, { useState } from 'react';

import type { IWasteItem } from './logic';

/** What the Waste list's buttons do to a kernel (JupyterLab's kernel manager). */
export interface IKernelActions {
  interrupt(kernelId: string): Promise<void>;
  shutdown(kernelId: string): Promise<void>;
}

/** One waste alert, with its kernel's buttons. */
export function WasteItem(props: {
  item: IWasteItem;
  actions?: IKernelActions;
}): JSX.Element {
  const { item, actions } = props;
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState('');
  const run = async (action: () => Promise<void>): Promise<void> => {
    setBusy(true);
    setFailure('');
    try {
      await action();
    } catch (reason) {
      setFailure(reason instanceof Error ? reason.message : String(reason));
    } finally {
      setBusy(false);
    }
  };
  const interrupt = (): void => {
    if (actions) {
      void run(() => actions.interrupt(item.kernelId));
    }
  };
  const shutdown = async (): Promise<void> => {
    if (!actions) {
      return;
    }
    const result = await showDialog({
      title: 'Shut down the kernel?',
      body: `The kernel of ${item.notebook || item.kernelId} will stop; its variables are lost.`,
      buttons: [
        Dialog.cancelButton(),
        Dialog.warnButton({ label: 'Shut Down' })
      ]
    });
    if (result.button.accept) {
      await run(() => actions.shutdown(item.kernelId));
    }
  };
  return (
    <li
      className="jp-mlops-waste-item"
      data-testid="mlops-waste-item"
      data-kernel-id={item.kernelId}
    >
      <div className="jp-mlops-waste-message">{item.message}</div>
      <div className="jp-mlops-waste-notebook" title={item.notebook}>
        {item.notebook || item.kernelId}
      </div>
      {actions ? (
        <div className="jp-mlops-waste-actions">
          {item.canInterrupt ? (
            <button
              className="jp-mlops-button"
              data-testid="mlops-waste-interrupt"
              disabled={busy}
              onClick={interrupt}
            >
              Interrupt
            </button>
          ) : null}
          {item.canShutdown ? (
            <button
              className="jp-mlops-button jp-mod-warn"
              data-testid="mlops-waste-shutdown"
              disabled={busy}
              onClick={() => void shutdown()}
            >
              Shut down
            </button>
          ) : null}
        </div>
      ) : null}
      {failure ? (
        <div className="jp-mlops-error" role="alert">
          {failure}
        </div>
      ) : null}
    </li>
  );
}

/** The Waste list, most money burned first. */
export function WasteList(props: {
  items: readonly IWasteItem[];
  actions?: IKernelActions;
}): JSX.Element {
  return (
    <ul className="jp-mlops-waste-list" data-testid="mlops-waste">
      {props.items.map(item => (
        <WasteItem key={item.key} item={item} actions={props.actions} />
      ))}
    </ul>
  );
}
