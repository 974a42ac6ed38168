/**
 * Which kernel the Environment view describes: the kernel of the notebook (or
 * console) last active in the main area.
 *
 * Works with any shell that has `currentWidget` / `currentChanged` (JupyterLab,
 * Notebook 7), and with any widget that has a `sessionContext`, so it needs no
 * dependency on the notebook package. A widget without a session (a text file,
 * the launcher) keeps the previous kernel, as `INotebookTracker.currentWidget`
 * does.
 */
import type { ISessionContext } from '@jupyterlab/apputils';
import type { IDisposable } from '@lumino/disposable';
import type { ISignal } from '@lumino/signaling';
import type { Widget } from '@lumino/widgets';

import type { IKernelRef } from './model';

/** The part of the application shell used here. */
export interface IShellLike {
  readonly currentWidget: Widget | null;
  readonly currentChanged?: ISignal<unknown, unknown>;
}

/** The session context of a document or console widget, or null. */
export function sessionContextOf(
  widget: Widget | null | undefined
): ISessionContext | null {
  const candidate = (widget as { sessionContext?: unknown } | null | undefined)
    ?.sessionContext;
  if (
    candidate !== null &&
    typeof candidate === 'object' &&
    'kernelChanged' in candidate &&
    'session' in candidate
  ) {
    return candidate as ISessionContext;
  }
  return null;
}

/** The running kernel of a session context, or null when it has none yet. */
export function kernelRefOf(
  context: ISessionContext | null
): IKernelRef | null {
  const kernel = context?.session?.kernel;
  if (!context || !kernel) {
    return null;
  }
  return {
    id: kernel.id,
    name: context.kernelDisplayName || kernel.name,
    path: context.path || undefined
  };
}

/**
 * Call `onChange` with the current kernel now and whenever it changes (another
 * notebook becomes current, its kernel starts, restarts or is switched).
 */
export function followCurrentKernel(
  shell: IShellLike,
  onChange: (kernel: IKernelRef | null) => void
): IDisposable {
  let context: ISessionContext | null = null;
  let disposed = false;
  const emit = (): void => {
    if (!disposed) {
      onChange(kernelRefOf(context));
    }
  };
  const watch = (next: ISessionContext | null): void => {
    if (next === context) {
      return;
    }
    if (context) {
      context.kernelChanged.disconnect(emit);
      context.statusChanged.disconnect(emit);
      context.propertyChanged.disconnect(emit);
      context.disposed.disconnect(onGone);
    }
    context = next;
    if (context) {
      context.kernelChanged.connect(emit);
      // A kernel that was still starting gets its id; a dead one goes away.
      context.statusChanged.connect(emit);
      context.propertyChanged.connect(emit);
      context.disposed.connect(onGone);
    }
    emit();
  };
  const onGone = (): void => watch(null);
  const onCurrent = (): void => {
    const next = sessionContextOf(shell.currentWidget);
    if (next) {
      watch(next);
    }
  };
  shell.currentChanged?.connect(onCurrent);
  onCurrent();
  if (!context) {
    emit();
  }
  return {
    get isDisposed() {
      return disposed;
    },
    dispose() {
      if (disposed) {
        return;
      }
      disposed = true;
      watch(null);
      shell.currentChanged?.disconnect(onCurrent);
    }
  };
}
